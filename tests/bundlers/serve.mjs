// A static file server on 127.0.0.1 (an ephemeral port; the caller closes
// it), with the headers a test asks for and, for measurements, gzip.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { gzipSync } from "node:zlib";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/**
 * Serves `root`; resolves to `{ url, close }`. `headers` are added to every
 * answer; `gzip` compresses (level 9, once per file) for clients that ask;
 * `cache` sets a long max-age instead of no-store.
 */
export function serve(root, { headers = {}, gzip = false, cache = false } = {}) {
  const zipped = new Map();
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path.includes("..")) return res.writeHead(400).end();
    const file = join(root, path.endsWith("/") ? `${path}index.html` : path);
    let body;
    try {
      body = await readFile(file);
    } catch {
      return res.writeHead(404, headers).end("not found");
    }
    const head = {
      ...headers,
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": cache ? "max-age=3600" : "no-store",
    };
    if (gzip && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")) {
      if (!zipped.has(file)) zipped.set(file, gzipSync(body, { level: 9 }));
      body = zipped.get(file);
      head["content-encoding"] = "gzip";
    }
    res.writeHead(200, head).end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => {
          server.closeAllConnections();
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}

/** Chromium as the project's machines run it: the browser tests' settings. */
export { CHROMIUM } from "../js/browser/static.mjs";
