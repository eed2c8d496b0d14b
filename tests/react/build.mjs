// Builds pages with the pinned Vite, React resolved to one of the two
// versions installed side by side (react18/react19, react-dom18/…) and
// hindcast to the unpacked package `pkg`, wherever they are imported from.
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Aliases for React `major` and the package at `pkg`. */
export function aliases(major, pkg, { server = false } = {}) {
  const react = join(HERE, "node_modules", `react${major}`);
  const dom = join(HERE, "node_modules", `react-dom${major}`);
  return [
    { find: /^react$/, replacement: join(react, "index.js") },
    { find: /^react\/(.+)$/, replacement: `${react}/$1.js` },
    { find: /^react-dom$/, replacement: join(dom, "index.js") },
    { find: /^react-dom\/server$/, replacement: join(dom, server ? "server.node.js" : "server.browser.js") },
    { find: /^react-dom\/(.+)$/, replacement: `${dom}/$1.js` },
    { find: /^hindcast$/, replacement: join(pkg, "index.js") },
    { find: /^hindcast\/react$/, replacement: join(pkg, "react.js") },
  ];
}

/**
 * Builds `root` (its index.html) into `outDir`; `development` keeps React's
 * development build (StrictMode's double mounts). Resolves to `outDir`.
 */
export async function buildPage({ root, outDir, major, pkg, development = false }) {
  await build({
    root,
    configFile: false,
    logLevel: "error",
    base: "./",
    mode: development ? "development" : "production",
    define: { "process.env.NODE_ENV": JSON.stringify(development ? "development" : "production") },
    resolve: { alias: aliases(major, pkg) },
    build: { outDir, emptyOutDir: true, minify: !development },
  });
  return outDir;
}

/** Builds `entry` for Node, everything bundled; resolves to the built module's path. */
export async function buildServer({ entry, outDir, major, pkg }) {
  await build({
    root: dirname(entry),
    configFile: false,
    logLevel: "error",
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
    resolve: { alias: aliases(major, pkg, { server: true }) },
    ssr: { noExternal: true },
    build: { ssr: entry, outDir, emptyOutDir: true, rollupOptions: { output: { entryFileNames: "ssr.mjs" } } },
  });
  return join(outDir, "ssr.mjs");
}
