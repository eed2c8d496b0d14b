// The real hindcast-server for the sync tests: started on a free port with
// the embedded storage in a temp dir (or on the PostgreSQL database of
// HINDCAST_TEST_DATABASE_URL), stopped by PID when the test ends;
// HS256 tokens signed here; and a proxy in front of it per device, which can
// go offline (refuse connections) or drop one answer after the server acted.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SECRET = "sync-test-secret-at-least-32-bytes-long";

/** The server binary: $HINDCAST_SERVER_BIN, or the workspace's debug build. */
function binary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
  const bin = process.env.HINDCAST_SERVER_BIN ?? join(target, "debug/hindcast-server");
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run \`cargo build -p hindcast-server\` (scripts/test does)`);
  return bin;
}

/**
 * Starts a server; resolves with `{ url, dir, stop }` once it listens.
 * `dir`: the storage's folder, to start again on the same data (default: a
 * new temp dir); `stop({ keep: true })` leaves it for that.
 */
export async function startServer({ dir = mkdtempSync(join(tmpdir(), "hindcast-sync-")) } = {}) {
  // On PostgreSQL when the run gives one (scripts/test runs the sync tests on both).
  const pg = process.env.HINDCAST_TEST_DATABASE_URL;
  const storage = pg ? ["--database-url", pg] : ["--data", join(dir, "logs.db")];
  const child = spawn(binary(), ["--listen", "127.0.0.1:0", ...storage, "--jwt-secret", SECRET], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" }, // only trouble in the tests' output
  });
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
  });
  return {
    url,
    dir,
    async stop({ keep = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** An HS256 token for `sub`, valid for the logs given, expiring in `ttl` s. */
export function token(sub, logs = ["*"], ttl = 3600) {
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64({ sub, logs, exp: Math.floor(Date.now() / 1000) + ttl });
  const sig = createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/**
 * A proxy in front of `target` for one device. `offline = true` refuses
 * every request (the connection is reset); `dropNextPush()` lets the next
 * push reach the server and then resets the connection instead of
 * answering; `holdNextPush()` lets it reach the server and holds the
 * answer: `{ answered, release }`, `answered` resolving once the server has
 * answered, `release()` passing the answer on; `refusePushes = true`
 * refuses pushes only (pulls and the live stream pass); `failNextPulls(n)`
 * resets the next n pulls, and live streams until they are spent (a live
 * stream brings the same pages); `rewritePulls(f)` passes each pull's
 * answer, and each live message, as `f(text)` (another server's log). `target` may be set (a
 * server started again elsewhere). Resolves with `{ url, set offline,
 * set target, dropNextPush, holdNextPush, pushes, close }`.
 */
export async function proxy(target) {
  let upstream = new URL(target);
  /** @type {{ answered: () => void, released: Promise<void> } | null} */
  let hold = null;
  const sockets = new Set();
  /** The sockets of live streams. */
  const live = new Set();
  let offline = false;
  let refusePushes = false;
  let failPulls = 0;
  /** @type {((text: string) => string) | null} */
  let rewrite = null;
  let drop = false;
  let pushes = 0;
  let pulls = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (offline) {
      req.socket.destroy();
      return;
    }
    const isPush = req.url.endsWith("/push");
    if (isPush && refusePushes) {
      req.socket.destroy();
      return;
    }
    const isLive = !isPush && req.headers.accept === "text/event-stream";
    const isPull = !isPush && req.url.includes("/events?") && !isLive;
    if (isPull && failPulls > 0) {
      failPulls--;
      req.socket.destroy();
      return;
    }
    // While pulls fail, the live stream (which brings the same pages) does too.
    if (isLive && failPulls > 0) {
      req.socket.destroy();
      return;
    }
    if (isLive) {
      live.add(req.socket);
      req.socket.on("close", () => live.delete(req.socket));
    }
    if (isPush) pushes++;
    if (isPull) pulls++;
    const dropThis = isPush && drop;
    if (dropThis) drop = false;
    const holdThis = isPush ? hold : null;
    if (holdThis !== null) hold = null;
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      async (answer) => {
        if (holdThis !== null) {
          holdThis.answered();
          await holdThis.released;
        }
        if (dropThis) {
          answer.resume();
          answer.on("end", () => req.socket.destroy());
          return;
        }
        if (isLive && rewrite !== null) {
          // Each message rewritten whole, as pulled pages are.
          const f = rewrite;
          res.writeHead(answer.statusCode, answer.headers);
          let text = "";
          answer.on("data", (c) => {
            text += c.toString();
            let cut;
            while ((cut = text.indexOf("\n\n")) !== -1) {
              res.write(f(text.slice(0, cut + 2)));
              text = text.slice(cut + 2);
            }
          });
          answer.on("end", () => res.end(text));
          return;
        }
        if (isPull && rewrite !== null) {
          const f = rewrite;
          const chunks = [];
          answer.on("data", (c) => chunks.push(c));
          answer.on("end", () => {
            const { "content-length": _, "transfer-encoding": __, ...headers } = answer.headers;
            res.writeHead(answer.statusCode, headers);
            res.end(f(Buffer.concat(chunks).toString()));
          });
          return;
        }
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => req.socket.destroy());
    req.pipe(out);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    get pushes() {
      return pushes;
    },
    /** Pulls passed on (not live streams). */
    get pulls() {
      return pulls;
    },
    /** Every request that reached the proxy, refused ones included. */
    get requests() {
      return requests;
    },
    set offline(v) {
      offline = v;
      if (v) for (const s of sockets) s.destroy(); // live streams too
    },
    set refusePushes(v) {
      refusePushes = v;
    },
    set target(url) {
      upstream = new URL(url);
    },
    dropNextPush() {
      drop = true;
    },
    failNextPulls(n) {
      failPulls = n;
      if (n > 0) for (const s of live) s.destroy();
    },
    rewritePulls(f) {
      rewrite = f;
    },
    holdNextPush() {
      let answered = () => {};
      let release = () => {};
      const arrived = new Promise((r) => (answered = r));
      const released = new Promise((r) => (release = r));
      hold = { answered, released };
      return { answered: arrived, release };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}
