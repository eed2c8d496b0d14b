// SPEC §6 in a real browser: two tabs of one page on one IndexedDB store
// race on one expectation (exactly one wins), and each tab sees both tabs'
// events, through the BroadcastChannel notice and the catch-up read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./browser/static.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
let server;
let browser;

before(async () => {
  server = await serve(root);
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("two tabs racing on one expectation: exactly one wins, both see both tabs' events", async () => {
  const context = await browser.newContext();
  const url = `${server.url}/tests/js/browser/tab.html?db=race-${Date.now()}`;
  const [a, b] = await Promise.all([context.newPage(), context.newPage()]);
  const errors = [];
  for (const p of [a, b]) p.on("pageerror", (e) => errors.push(e));
  await Promise.all([a.goto(url), b.goto(url)]);
  await Promise.all([a.evaluate(() => window.ready), b.evaluate(() => window.ready)]);

  const race = (page) =>
    page.evaluate(() =>
      window.store
        .transact({ events: [{ stream: "acc-1", type: "account_opened" }], expect: { "acc-1": "no_stream" } })
        .then(
          (c) => `won ${c.revision}`,
          (e) => `${e.name} ${e.code} ${e.violations?.[0]?.kind}`,
        ),
    );
  const outcomes = await Promise.all([race(a), race(b)]);
  assert.deepEqual(outcomes.filter((o) => o === "won 1").length, 1, outcomes.join(" | "));
  assert.deepEqual(
    outcomes.filter((o) => o === "ConstraintViolationError CONSTRAINT_VIOLATION version_mismatch").length,
    1,
    outcomes.join(" | "),
  );

  // Each tab writes once more; both tabs end up with all three events.
  await a.evaluate(() => window.store.transact({ events: [{ stream: "from-a", type: "x" }] }));
  await b.evaluate(() => window.store.transact({ events: [{ stream: "from-b", type: "x" }] }));
  for (const page of [a, b]) {
    await page.evaluate(() => window.sub.waitFor(3));
    const streams = await page.evaluate(() => window.store.read().map((e) => e.stream));
    assert.deepEqual(streams, ["acc-1", "from-a", "from-b"]);
    assert.deepEqual(await page.evaluate(() => window.seen), [1, 2, 3]);
  }
  assert.deepEqual(errors, []);
  await context.close();
});
