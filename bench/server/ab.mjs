// A/B of server builds on one PostgreSQL (run through bench/server/ab.sh):
// the appends workload of run.mjs (16 clients × 500 single-event
// conditional appends to one log, each awaited), or its race with
// WORKLOAD=race, rounds interleaved ABBA…, with the CPU per append (per
// commit) of the client (this process), the server and every process of
// the cluster, read from /proc, and PostgreSQL's transactions and WAL
// bytes per append (DETAIL=1: the cluster's CPU per process).
//   SERVERS="base=/path/a,new=/path/b" ROUNDS=6 bench/server/ab.sh
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { SECRET, appender, connect, racer } from "./client.mjs";
import pg from "pg";

const PGURL = process.env.PGURL;
const PGPID = Number(process.env.PGPID);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const CLIENTS = Number(process.env.CLIENTS ?? 16), EACH = Number(process.env.EACH ?? 500);
// name=binary, and after the binary, space-separated VAR=value for its
// environment (e.g. "one=/tmp/a TOKIO_WORKER_THREADS=1").
const builds = process.env.SERVERS.split(",").map((s) => {
  const [name, rest] = [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)];
  const [bin, ...vars] = rest.split(" ");
  return [name, bin, Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)]))];
});


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
/** With DETAIL set: the cluster's CPU by process title, in µs per append. */
function pgDetail(a, b, n) {
  const by = {};
  for (const [pid, t] of b) {
    let title = "?";
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {}
    title = `${title.replace(/\d+\.\d+\.\d+\.\d+\(\d+\)/, "").replace(/ +/g, " ")} [${pid}]`;
    by[title] = (by[title] ?? 0) + (t - (a.get(pid) ?? 0)) / n;
  }
  return Object.entries(by).filter(([, v]) => v > 0.5).map(([k, v]) => `${k}: ${v.toFixed(1)}`).join("; ");
}

// Each build on a database of its own in the one cluster: a build may
// define its schema (and its function) differently.
async function startServer(name, bin, env) {
  const database = `ab_${name.replace(/\W/g, "_")}`;
  await db.query(`CREATE DATABASE ${database}`);
  const url = new URL(PGURL);
  url.pathname = `/${database}`;
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--database-url", url.href, "--jwt-secret", SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  const listening = line.split(" ").pop();
  return { child, url: listening, pool: connect(listening) };
}

async function appends(server, tag) {
  const log = `ab-${tag}`;
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => appender(server.pool, log, `s-${i}`, EACH)));
}

const db = new pg.Client({ connectionString: PGURL });
await db.connect();
/** WAL position (bytes) and transaction ids assigned so far. */
async function pgState() {
  const r = await db.query("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS wal, txid_current() AS xid");
  return { wal: Number(r.rows[0].wal), xid: Number(r.rows[0].xid) };
}

// WORKLOAD=race: 16 clients racing on one stream until 600 commits
// (run.mjs's race); the rate is successful commits/s, CPU per commit.
async function race(server, tag) {
  const log = `race-${tag}`, stream = "hot";
  const counts = { wins: 0, attempts: 0 };
  await Promise.all(Array.from({ length: CLIENTS }, () => racer(server.pool, log, stream, counts, 600)));
  return counts.wins;
}
const RACE = process.env.WORKLOAD === "race";

const servers = [];
// The servers go with this process, however it ends.
process.on("exit", () => servers.forEach((s) => s.child.kill("SIGKILL")));
for (const [name, bin, env] of builds) servers.push({ name, ...(await startServer(name, bin, env)) });
// A warm-up round each (connections, prepared statements, the JIT).
for (const s of servers) await (RACE ? race : appends)(s, `warm-${randomUUID().slice(0, 8)}`);
const stats = Object.fromEntries(servers.map((s) => [s.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? servers : [...servers].reverse();
  for (const s of order) {
    let n = CLIENTS * EACH;
    const g0 = await pgState();
    const [c0, s0, p0, t0] = [process.cpuUsage(), cpu(s.child.pid), pgCpu(), performance.now()];
    if (RACE) n = await race(s, randomUUID().slice(0, 8));
    else await appends(s, randomUUID().slice(0, 8));
    const t = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const p1 = pgCpu();
    const [server, pgs] = [cpu(s.child.pid) - s0, pgDelta(p0, p1)];
    if (process.env.DETAIL) console.log(s.name, pgDetail(p0, p1, n));
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
    `${name.padEnd(10)} ${RACE ? "commits" : "appends"}/s median ${Math.round(m("rate"))} [${rows.map((r) => Math.round(r.rate)).join(" ")}]` +
      `  µs/${RACE ? "commit" : "append"}: client ${m("client").toFixed(1)} server ${m("server").toFixed(1)} pg ${m("pg").toFixed(1)}` +
      ` total ${(m("client") + m("server") + m("pg")).toFixed(1)}` +
      `  transactions ${m("xacts").toFixed(3)} WAL ${Math.round(m("wal"))} B`,
  );
}
await db.end();
for (const s of servers) {
  await s.pool.destroy();
  s.child.kill("SIGKILL");
}
