// Serves the demo page on 127.0.0.1: `www/` at `/`, the built package at
// `/pkg/` (the folder in HINDCAST_PKG_DIR, default `pkg/`), and, given a
// hindcast-server, a proxy to it per device under `/sync/<device>/` with an
// offline switch (sync-proxy.mjs). No dependencies.
//
//   HINDCAST_SERVER_URL=http://127.0.0.1:8787 node scripts/serve.mjs
//                                   # port 8080, or PORT; a free one if taken
//
// scripts/demo starts the server and then this. Tests import
// `serveDemo({ port: 0, serverUrl })` (and `startSyncServer`) and close them
// when done.
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { syncProxy } from "./sync-proxy.mjs";

export { startSyncServer } from "./sync-proxy.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".md": "text/markdown; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
};

/**
 * The file under `base` that `rest` (a decoded URL path below the mount
 * point) names, or null if it would leave `base`.
 */
function inside(base, rest) {
  if (rest.includes("\0")) return null;
  const file = resolve(base, `.${sep}${rest}`);
  return file === base || file.startsWith(base + sep) ? file : null;
}

/** Maps a request path to a file: `/pkg/…` to the package, the rest to `www/`. */
function fileFor(pathname, { www, pkg }) {
  let path;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  // Refuse any `..` segment outright, however it was spelled.
  if (path.split(/[\\/]/).includes("..")) return null;
  if (path === "/pkg" || path.startsWith("/pkg/")) return inside(pkg, path.slice("/pkg".length));
  return inside(www, path.endsWith("/") ? `${path}index.html` : path);
}

function handler(dirs, sync) {
  return async (req, res) => {
    if (req.url === "/sync" || req.url.startsWith("/sync/")) return sync(req, res);
    const send = (status, body, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    const file = fileFor(new URL(req.url, "http://127.0.0.1").pathname, dirs);
    if (file === null) return send(400, "bad path\n");
    try {
      if (!(await stat(file)).isFile()) return send(404, "not found\n");
      const body = await readFile(file);
      send(200, body, TYPES[extname(file)] ?? "application/octet-stream");
    } catch {
      send(404, "not found\n");
    }
  };
}

function listen(server, port) {
  return new Promise((ok, fail) => {
    const onError = (e) => {
      server.off("listening", onListening);
      fail(e);
    };
    const onListening = () => {
      server.off("error", onError);
      ok();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, "127.0.0.1");
  });
}

/**
 * Serves the demo on 127.0.0.1:`port` (0: an ephemeral port). `pkgDir`:
 * the built package (default HINDCAST_PKG_DIR, else `pkg/`). `serverUrl`:
 * the hindcast-server that `/sync/<device>/v1/…` goes to (without it the
 * page's "Two devices" section says there is none). Resolves to
 * `{ url, close }`; `url` ends with "/".
 */
export async function serveDemo({ port = 0, pkgDir = process.env.HINDCAST_PKG_DIR || join(ROOT, "pkg"), serverUrl } = {}) {
  const dirs = { www: resolve(ROOT, "www"), pkg: resolve(pkgDir) };
  const server = createServer(handler(dirs, syncProxy(serverUrl)));
  await listen(server, port);
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

// Run directly: serve until Ctrl-C.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const pkgDir = process.env.HINDCAST_PKG_DIR || join(ROOT, "pkg");
  if (!existsSync(join(pkgDir, "browser.js"))) {
    console.error(`No built package in ${pkgDir}: run scripts/build first (scripts/demo does both).`);
    process.exit(1);
  }
  const wanted = Number(process.env.PORT ?? 8080);
  const serverUrl = process.env.HINDCAST_SERVER_URL || undefined;
  let demo;
  try {
    demo = await serveDemo({ port: wanted, serverUrl });
  } catch (e) {
    if (e.code !== "EADDRINUSE") throw e;
    console.log(`Port ${wanted} is taken; serving on a free port instead.`);
    demo = await serveDemo({ port: 0, serverUrl });
  }
  console.log(`Hindcast demo: ${demo.url}`);
  console.log(
    serverUrl
      ? `Its two devices sync through ${serverUrl} (hindcast-server).`
      : "No HINDCAST_SERVER_URL: the two devices have no server to sync with (scripts/demo starts one).",
  );
  console.log("Open it in two tabs to see them share one log. Ctrl-C stops the server.");
  const stop = async () => {
    await demo.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
