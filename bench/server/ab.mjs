// A/B of server builds on one PostgreSQL (run through bench/server/ab.sh):
// the appends workload of run.mjs (16 clients × 500 single-event
// conditional appends to one log, each awaited), rounds interleaved ABBA…,
// with the CPU per append of the client (this process), the server and
// every process of the cluster, read from /proc.
//   SERVERS="base=/path/a,new=/path/b" ROUNDS=6 bench/server/ab.sh
import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { Pool } from "undici";
import pg from "pg";

const PGURL = process.env.PGURL;
const PGPID = Number(process.env.PGPID);
const SECRET = "bench-secret";
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const CLIENTS = Number(process.env.CLIENTS ?? 16), EACH = Number(process.env.EACH ?? 500);
const builds = process.env.SERVERS.split(",").map((s) => s.split("="));

function jwt() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "bench", exp: Math.floor(Date.now() / 1000) + 36000, logs: ["*"] })}`;
  return `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
}
const TOKEN = jwt();

/** CPU time of a process so far, in µs: the sum over its threads of the
 * scheduler's run time (ns resolution; utime + stime count 10 ms ticks). */
function cpu(pid) {
  let ns = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      } catch {}
    }
  } catch {}
  return ns / 1000;
}
function ppid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}
/** CPU of the cluster: the postmaster and its children, per pid. */
function pgCpu() {
  const out = new Map([[PGPID, cpu(PGPID)]]);
  for (const d of readdirSync("/proc")) {
    if (/^\d+$/.test(d) && ppid(Number(d)) === PGPID) out.set(Number(d), cpu(Number(d)));
  }
  return out;
}
const pgDelta = (a, b) => [...b].reduce((s, [pid, t]) => s + t - (a.get(pid) ?? 0), 0);

// Each build on a database of its own in the one cluster: a build may
// define its schema (and its function) differently.
async function startServer(name, bin) {
  const database = `ab_${name.replace(/\W/g, "_")}`;
  await db.query(`CREATE DATABASE ${database}`);
  const url = new URL(PGURL);
  url.pathname = `/${database}`;
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--database-url", url.href, "--jwt-secret", SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  const listening = line.split(" ").pop();
  return { child, url: listening, pool: new Pool(listening, { connections: 64, pipelining: 1 }) };
}

async function push(server, log, client, batches) {
  const { statusCode, body } = await server.pool.request({
    method: "POST", path: `/v1/logs/${log}/push`,
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ protocol: 1, clientId: client, batches }),
  });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`push: ${statusCode} ${text}`);
  return JSON.parse(text);
}

async function appends(server, tag) {
  const log = `ab-${tag}`;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
    const client = randomUUID(), stream = `s-${i}`;
    let base = 0;
    for (let k = 0; k < EACH; k++) {
      const out = await push(server, log, client, [{
        seq: k + 1, id: randomUUID(), events: [{ stream, type: "e", data: { k } }],
        expect: { [stream]: k === 0 ? "no_stream" : { version: k - 1 } }, view: { base, own: [] },
      }]);
      const r = out.results[0];
      if (r.status !== "committed") throw new Error(JSON.stringify(r));
      base = r.revision;
    }
  }));
}

const db = new pg.Client({ connectionString: PGURL });
await db.connect();
/** WAL position (bytes) and transaction ids assigned so far. */
async function pgState() {
  const r = await db.query("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS wal, txid_current() AS xid");
  return { wal: Number(r.rows[0].wal), xid: Number(r.rows[0].xid) };
}

const servers = [];
for (const [name, bin] of builds) servers.push({ name, ...(await startServer(name, bin)) });
// A warm-up round each (connections, prepared statements, the JIT).
for (const s of servers) await appends(s, `warm-${randomUUID().slice(0, 8)}`);
const stats = Object.fromEntries(servers.map((s) => [s.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? servers : [...servers].reverse();
  for (const s of order) {
    const n = CLIENTS * EACH;
    const g0 = await pgState();
    const [c0, s0, p0, t0] = [process.cpuUsage(), cpu(s.child.pid), pgCpu(), performance.now()];
    await appends(s, randomUUID().slice(0, 8));
    const t = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const [server, pgs] = [cpu(s.child.pid) - s0, pgDelta(p0, pgCpu())];
    const g1 = await pgState();
    stats[s.name].push({
      rate: n / t,
      client: (c.user + c.system) / n,
      server: server / n,
      pg: pgs / n,
      // Write transactions per append (the reading one above is not one).
      xacts: (g1.xid - g0.xid - 1) / n,
      wal: (g1.wal - g0.wal) / n,
    });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rows] of Object.entries(stats)) {
  const m = (k) => median(rows.map((r) => r[k]));
  console.log(
    `${name.padEnd(10)} appends/s median ${Math.round(m("rate"))} [${rows.map((r) => Math.round(r.rate)).join(" ")}]` +
      `  µs/append: client ${m("client").toFixed(1)} server ${m("server").toFixed(1)} pg ${m("pg").toFixed(1)}` +
      ` total ${(m("client") + m("server") + m("pg")).toFixed(1)}` +
      `  transactions/append ${m("xacts").toFixed(3)} WAL B/append ${Math.round(m("wal"))}`,
  );
}
await db.end();
for (const s of servers) {
  await s.pool.destroy();
  s.child.kill("SIGKILL");
}
