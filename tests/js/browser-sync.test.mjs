// SPEC §8.4 in headless Chromium: two devices (two browser contexts, each a
// page on the test server's origin) syncing memory stores through the real
// hindcast-server on another origin (CORS, fetch, the live stream), one of
// them offline for a while (the browser's own offline switch and `online`
// event).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./browser/static.mjs";
import { startServer, token } from "./sync-server.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
let pages;
let hindcast;
let browser;

before(async () => {
  pages = await serve(root);
  hindcast = await startServer();
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await hindcast?.stop();
});

/** A device: its own browser context and page, holding a syncing memory store. */
async function device(log, who) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${pages.url}/tests/js/browser/tab.html?db=sync-${who}-${Date.now()}`);
  await page.evaluate(() => window.ready);
  await page.evaluate(
    async ([url, jwt]) => {
      window.synced = await window.EventStore.memory({ sync: { url, token: () => jwt } });
    },
    [`${hindcast.url}/v1/logs/${log}`, token(who)],
  );
  return { context, page, errors };
}

const write = (d, by) =>
  d.page.evaluate(async (by) => {
    const c = await window.synced.transact({ events: [{ stream: "s", type: "wrote", data: { by } }] });
    return { pending: c.pending, revision: c.revision };
  }, by);

const read = (d) => d.page.evaluate(() => window.synced.read().map((e) => [e.revision, e.data.by, e.pending === true]));

test("two browser devices sync across origins; one offline catches up when the browser is online again", async () => {
  const log = `browser-${Date.now()}`;
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  assert.deepEqual(await write(a, "a1"), { pending: true, revision: 1 });
  await b.page.evaluate(() => window.synced.sync.waitFor(1));
  assert.deepEqual(await read(b), [[1, "a1", false]]);

  await b.context.setOffline(true);
  assert.deepEqual(await write(b, "b1"), { pending: true, revision: 2 });
  assert.deepEqual(await a.page.evaluate(async () => (await (await window.synced.transact({ events: [{ stream: "s", type: "wrote", data: { by: "a2" } }] })).confirmed).revision), 2);
  assert.equal(await b.page.evaluate(() => window.synced.sync.status.state), "offline");
  assert.deepEqual(await read(b), [
    [1, "a1", false],
    [2, "b1", true],
  ]);

  // Back online: b1 is sent (flush tries at once, as the `online` event does) and lands after a2.
  await b.context.setOffline(false);
  const confirmed = await b.page.evaluate(async () => {
    await window.synced.sync.flush();
    return window.synced.sync.status;
  });
  assert.equal(confirmed.state, "online");
  assert.equal(confirmed.pendingBatches, 0);
  await a.page.evaluate(() => window.synced.sync.waitFor(3));
  const expected = [
    [1, "a1", false],
    [2, "a2", false],
    [3, "b1", false],
  ];
  assert.deepEqual(await read(a), expected);
  assert.deepEqual(await read(b), expected);
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context.close();
  await b.context.close();
});
