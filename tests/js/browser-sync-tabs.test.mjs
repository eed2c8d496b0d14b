// SPEC §8.4 for IndexedDB stores in headless Chromium (real IndexedDB,
// Web Locks, BroadcastChannel): device A is two tabs of one browser
// context sharing one queue, device B another context. The server is
// stopped while both write, a tab reloads with pending batches, the
// leading tab is killed while its push is in flight (the server has
// committed it, the answer never arrives), the other tab takes over: no
// batch lost or doubled, every device converges on the server's log, and a
// subscription sees each confirmed event exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./browser/static.mjs";
import { startServer, proxy, token } from "./sync-server.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
let pages;
let server;
let browser;

before(async () => {
  pages = await serve(root);
  server = await startServer();
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await server?.stop();
});

/**
 * Opens, in `page`, `window.synced`: the IndexedDB store `name` syncing
 * with `url`; `window.seen` collects what a confirmed-only subscription
 * delivers.
 */
function openSynced(page, name, url, who) {
  return page.evaluate(
    async ([name, url, jwt]) => {
      window.synced = await window.EventStore.open(name, { sync: { url, token: () => jwt } });
      window.seen = [];
      window.synced.subscribe((e) => {
        window.seen.push([e.revision, e.data.by, e.pending === true]);
      });
    },
    [name, url, token(who)],
  );
}

/** A tab of `context` with the store `name` open (see openSynced). */
async function tab(context, name, url, who) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${pages.url}/tests/js/browser/tab.html?db=plain-${name}`);
  await page.evaluate(() => window.ready);
  await openSynced(page, name, url, who);
  page.errors = errors;
  return page;
}

const write = (page, by) =>
  page.evaluate(async (by) => {
    const c = await window.synced.transact({ events: [{ stream: "s", type: "wrote", data: { by } }] });
    return { pending: c.pending, revision: c.revision };
  }, by);

const read = (page) => page.evaluate(() => window.synced.read().map((e) => [e.revision, e.data.by, e.pending === true]));

async function serverLog(log) {
  const res = await fetch(`${server.url}/v1/logs/${log}/events?after=0&limit=1000`, {
    headers: { authorization: `Bearer ${token("reader")}` },
  });
  return (await res.json()).events;
}

/** Reloads a tab and opens the store again. */
async function reopen(page, name, url, who) {
  await page.reload();
  await page.evaluate(() => window.ready);
  await openSynced(page, name, url, who);
}

test("two tabs share one queue through a server restart, a reload and the leading tab's death mid-push", async () => {
  const log = `tabs-${Date.now()}`;
  const name = `device-a-${Date.now()}`;
  const pa = await proxy(server.url);
  const pb = await proxy(server.url);
  const url = `${pa.url}/v1/logs/${log}`;
  const a = await browser.newContext();
  const b = await browser.newContext();
  const leader = await tab(a, name, url, "alice"); // opened first: it leads
  const follower = await tab(a, name, url, "alice");
  const other = await tab(b, `device-b-${Date.now()}`, `${pb.url}/v1/logs/${log}`, "bob");

  assert.deepEqual(await write(leader, "a1"), { pending: true, revision: 1 });
  await follower.evaluate(() => window.synced.sync.waitFor(1));
  await other.evaluate(() => window.synced.sync.waitFor(1));
  assert.deepEqual(await read(follower), [[1, "a1", false]]);

  // The server stops; both tabs of A and device B write.
  await server.stop({ keep: true });
  assert.deepEqual(await write(follower, "a2"), { pending: true, revision: 2 });
  assert.deepEqual(await write(leader, "a3"), { pending: true, revision: 3 });
  assert.deepEqual(await write(other, "b1"), { pending: true, revision: 2 });
  assert.deepEqual(await read(leader), [
    [1, "a1", false],
    [2, "a2", true],
    [3, "a3", true],
  ]);

  // The follower reloads: the queue is in IndexedDB.
  await reopen(follower, name, url, "alice");
  assert.deepEqual(await read(follower), [
    [1, "a1", false],
    [2, "a2", true],
    [3, "a3", true],
  ]);
  assert.equal(await follower.evaluate(() => window.synced.sync.status.pendingBatches), 2);

  // The server starts again on the same data (B stays cut off for now).
  pb.offline = true;
  server = await startServer({ dir: server.dir });
  pa.target = server.url;
  pb.target = server.url;

  // A's leading tab pushes a2 and a3; the server commits them; the tab dies before the answer.
  const held = pa.holdNextPush();
  await leader.evaluate(() => {
    window.synced.sync.flush().catch(() => {});
  });
  await held.answered;
  await leader.close();
  held.release();

  // The follower takes over: it pushes again and hears the recorded outcomes.
  await follower.evaluate(() => window.synced.sync.flush());
  assert.deepEqual(await read(follower), [
    [1, "a1", false],
    [2, "a2", false],
    [3, "a3", false],
  ]);

  // B comes back: its b1 lands after them; both devices converge on the server's log.
  pb.offline = false;
  await other.evaluate(() => window.synced.sync.flush());
  await follower.evaluate(() => window.synced.sync.waitFor(4));
  const shared = [
    [1, "a1"],
    [2, "a2"],
    [3, "a3"],
    [4, "b1"],
  ];
  assert.deepEqual((await serverLog(log)).map((e) => [e.revision, e.data.by]), shared);
  const confirmed = shared.map(([r, by]) => [r, by, false]);
  assert.deepEqual(await read(follower), confirmed);
  assert.deepEqual(await read(other), confirmed);
  // Each confirmed event delivered once, in the shared order (the follower since its reload).
  assert.deepEqual(await follower.evaluate(() => window.seen), confirmed);
  assert.deepEqual(await other.evaluate(() => window.seen), confirmed);
  assert.deepEqual(follower.errors, []);
  assert.deepEqual(other.errors, []);
  await a.close();
  await b.close();
  await pa.close();
  await pb.close();
});
