// The demo's way to its hindcast-server: a proxy per device, so the page
// reaches the server on its own origin, and each device can be taken
// offline on its own. No dependencies.
//
//   GET  /sync/<device>              → { device, offline, server }
//   POST /sync/<device>/offline      → the same, after cutting the device off:
//                                      its open requests (live streams too)
//                                      lose their connection, new ones are refused
//   POST /sync/<device>/online       → the same, the device reaches the server again
//   *    /sync/<device>/v1/…         → the server's /v1/…
//
// `startSyncServer` runs the server binary for tests (scripts/demo runs it
// itself).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ROUTE = /^\/sync\/([a-z0-9][a-z0-9-]{0,31})(\/[^?]*)?(\?.*)?$/;

/**
 * The request handler for `/sync/…`; `serverUrl` is the hindcast-server's
 * address (undefined: there is none, and the page is told so).
 */
export function syncProxy(serverUrl) {
  const upstream = serverUrl ? new URL(serverUrl) : null;
  /** Per device: `{ offline, open: Set<socket> }` (the sockets of its requests in flight). */
  const devices = new Map();
  const device = (name) => {
    if (!devices.has(name)) devices.set(name, { offline: false, open: new Set() });
    return devices.get(name);
  };

  return (req, res) => {
    const json = (status, value) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      res.end(JSON.stringify(value));
    };
    const m = ROUTE.exec(req.url);
    if (m === null) return json(404, { error: "not_found" });
    const [, name, rest = "", query = ""] = m;
    const d = device(name);
    const state = () => ({ device: name, offline: d.offline, server: upstream !== null });

    if (rest === "" || rest === "/") {
      if (req.method !== "GET") return json(405, { error: "method_not_allowed" });
      return json(200, state());
    }
    if (rest === "/offline" || rest === "/online") {
      if (req.method !== "POST") return json(405, { error: "method_not_allowed" });
      d.offline = rest === "/offline";
      if (d.offline) for (const socket of d.open) socket.destroy();
      return json(200, state());
    }
    if (!rest.startsWith("/v1/")) return json(404, { error: "not_found" });
    if (upstream === null) return json(503, { error: "no_server", message: "the demo runs without a hindcast-server" });
    if (d.offline) return req.socket.destroy(); // as a network that is down

    const socket = req.socket;
    d.open.add(socket);
    const out = request({
      host: upstream.hostname,
      port: upstream.port,
      path: rest + query,
      method: req.method,
      headers: { ...req.headers, host: upstream.host },
    });
    let answered = false;
    out.on("response", (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
      answer.on("end", () => (answered = true));
    });
    out.on("error", () => {
      if (res.headersSent) socket.destroy();
      else json(502, { error: "bad_gateway", message: "the hindcast-server did not answer" });
    });
    // The page went away (or the device went offline): so does the upstream request.
    res.on("close", () => {
      d.open.delete(socket);
      if (!answered) out.destroy();
    });
    req.pipe(out);
  };
}

/** The server binary: $HINDCAST_SERVER_BIN, or the workspace's debug build. */
function serverBinary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
  const bin = process.env.HINDCAST_SERVER_BIN ?? join(target, "debug/hindcast-server");
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: run \`cargo build -p hindcast-server\``);
  return bin;
}

/**
 * Starts hindcast-server on a free loopback port, its logs in the SQLite
 * file `data`, without auth (loopback only). Resolves once it listens with
 * `{ url, pid, stop }`; `stop()` kills it by its PID and waits for it.
 */
export async function startSyncServer({ data, bin = serverBinary() }) {
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--data", data, "--insecure-no-auth"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once("error", reject);
    exited.then((code) => reject(new Error(`hindcast-server exited (${code}) before listening`)));
  });
  const { pid } = child;
  return {
    url,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, "SIGTERM");
        await exited;
      }
    },
  };
}
