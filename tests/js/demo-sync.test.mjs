// The demo page's "Two devices" section in headless Chromium, served as
// scripts/demo serves it: the real hindcast-server behind the demo server's
// per-device proxy. Both devices withdraw offline, each allowed by its own
// balance; back online, the server confirms one and refuses the other, whose
// device shows why; both converge. Device A's pending batches survive a
// reload while offline (IndexedDB), and so does a refusal until dismissed;
// two tabs share device A. Without IndexedDB, device A runs in memory. And
// the proxy alone. Screenshots go to target/screenshots/.
import { test, before, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM } from "./browser/static.mjs";
import { WAIT, freshContext, waitText } from "./browser/demo-page.mjs";
import { serveDemo, startSyncServer } from "../../scripts/serve.mjs";

const SHOTS = fileURLToPath(new URL("../../target/screenshots/", import.meta.url));
let dir;
let hindcast;
let server;
let browser;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), "hindcast-demo-"));
  hindcast = await startSyncServer({ data: join(dir, "sync.db") });
  server = await serveDemo({ port: 0, serverUrl: hindcast.url });
  browser = await chromium.launch(CHROMIUM);
});

// The proxy's switches outlive a page: every test starts with both devices online.
beforeEach(async () => {
  for (const key of ["a", "b"]) {
    const answer = await fetch(`${server.url}sync/${key}/online`, { method: "POST" });
    assert.deepEqual(await answer.json(), { device: key, offline: false, server: true });
  }
});

after(async () => {
  await browser?.close();
  await server?.close();
  await hindcast?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});


const card = (page, key) => page.locator(`#device-${key}`);

/** A device's facts as the card shows them. */
const facts = (page, key) =>
  page.$eval(`#device-${key}`, (c) =>
    Object.fromEntries(["balance", "confirmed", "pending", "state"].map((r) => [r, c.querySelector(`[data-role="${r}"]`).textContent])),
  );

/** Waits until device `key` shows exactly these facts; fails showing what it had. */
async function waitFacts(page, key, want, timeout = WAIT) {
  try {
    await page.waitForFunction(
      ([k, w]) => {
        const c = document.querySelector(`#device-${k}`);
        return Object.entries(w).every(([r, v]) => c?.querySelector(`[data-role="${r}"]`)?.textContent === v);
      },
      [key, want],
      { timeout },
    );
  } catch {
    const had = await facts(page, key).catch(() => "(no such card)");
    assert.fail(`device ${key} should show ${JSON.stringify(want)}; it shows ${JSON.stringify(had)}`);
  }
}


/** The account's events on device `key`, newest first: [revision, type, amount, by, state]. */
const eventRows = (page, key) =>
  page.$$eval(`#device-${key} [data-role="events"] tr`, (rows) => rows.map((r) => [...r.cells].slice(0, 5).map((c) => c.textContent)));

/** The account's deposits on device `key`, newest first: [revision, amount, memo]. */
const memoRows = (page, key) =>
  page.$$eval(`#device-${key} [data-role="events"] tr`, (rows) =>
    rows.filter((r) => r.cells[1].textContent === "money_deposited").map((r) => [r.cells[0].textContent, r.cells[2].textContent, r.cells[5].textContent]),
  );

/** Deposits or withdraws on device `key` through its form. */
async function move(page, key, op, amount) {
  const c = card(page, key);
  await c.getByLabel("Amount").fill(String(amount));
  await c.getByRole("button", { name: op === "deposit" ? "Deposit" : "Withdraw" }).click();
}

/** Flips device `key`'s offline switch and waits for the proxy's answer to show in it. */
async function setOffline(page, key, offline) {
  const toggle = card(page, key).getByRole("switch", { name: "Offline" });
  await toggle.setChecked(offline);
  await page.waitForFunction(
    ([k, want]) => {
      const t = document.querySelector(`#device-${k} [data-role="offline"]`);
      return t.checked === want && !t.disabled;
    },
    [key, offline],
    { timeout: WAIT },
  );
}

/** Opens the page on a log of its own and waits for both devices to have heard from the server. */
async function openPage(context, log, query = "") {
  const page = await context.newPage();
  await page.goto(`${server.url}?db=demo-sync-${process.pid}-${log}&log=${log}${query}`);
  for (const key of ["a", "b"]) await waitFacts(page, key, { state: "online" });
  return page;
}

/** A screenshot of the "Two devices" section. */
const shot = (page, name) => page.locator("section:has(#devices)").screenshot({ path: `${SHOTS}${name}.png` });

test("two devices withdraw offline; back online the server refuses one, shown with its reason; both converge", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
  const log = `story-${Date.now()}`;
  const page = await openPage(context, log);
  for (const key of ["a", "b"]) await waitFacts(page, key, { balance: "0", confirmed: "0, up to revision 0", pending: "0" });

  // A deposits 100; the server confirms it and B receives it.
  await move(page, "a", "deposit", 100);
  await waitText(page, "#device-a [data-role=result]", "Deposited 100: confirmed at revision 1 of the shared log.");
  for (const key of ["a", "b"]) {
    await waitFacts(page, key, { balance: "100", confirmed: "100, up to revision 1", pending: "0", state: "online" });
  }

  // Both offline: each finds out when its live stream is cut.
  for (const key of ["a", "b"]) await setOffline(page, key, true);
  for (const key of ["a", "b"]) await waitFacts(page, key, { state: "offline" });

  // Each withdraws on the 100 it sees: allowed locally, pending.
  await move(page, "a", "withdraw", 70);
  await waitText(page, "#device-a [data-role=result]", "Withdrew 70 (decided on 100 as of revision 1): pending on device A (revision 2 here) until the server confirms it.");
  await waitFacts(page, "a", { balance: "30", confirmed: "100, up to revision 1", pending: "1", state: "offline" });
  await move(page, "b", "withdraw", 60);
  await waitText(page, "#device-b [data-role=result]", "Withdrew 60 (decided on 100 as of revision 1): pending on device B (revision 2 here) until the server confirms it.");
  await waitFacts(page, "b", { balance: "40", confirmed: "100, up to revision 1", pending: "1", state: "offline" });
  assert.deepEqual(await eventRows(page, "a"), [
    ["2", "money_withdrawn", "\u221270", "A", "pending"],
    ["1", "money_deposited", "100", "A", "confirmed"],
  ]);
  assert.deepEqual(await eventRows(page, "b"), [
    ["2", "money_withdrawn", "\u221260", "B", "pending"],
    ["1", "money_deposited", "100", "A", "confirmed"],
  ]);
  await shot(page, "7-devices-offline");

  // A comes back first: its withdrawal is confirmed. B, still offline, still shows its own.
  await setOffline(page, "a", false);
  await waitText(page, "#device-a [data-role=result]", "Withdrew 70 (decided on 100 as of revision 1): confirmed at revision 2 of the shared log.");
  await waitFacts(page, "a", { balance: "30", confirmed: "30, up to revision 2", pending: "0", state: "online" });
  assert.deepEqual(await facts(page, "b"), { balance: "40", confirmed: "100, up to revision 1", pending: "1", state: "offline" });

  // B comes back: the server refuses B's withdrawal (B never saw A's), and B shows why.
  await setOffline(page, "b", false);
  await waitText(page, "#device-b [data-role=result]", "Withdrew 60 (decided on 100 as of revision 1): refused by the server, nothing of it stands.");
  await waitText(page, "#device-b [data-role=result]", "Expected the newest matching event at revision 1 at most; found revision 2.");
  const violations = [
    {
      kind: "max_revision_exceeded",
      constraint: { maxRevision: 1, selector: { stream: "account-1" } },
      max: 1,
      found: 2,
      message: "at most revision 1 on stream account-1; found 2",
    },
  ];
  assert.deepEqual(JSON.parse(await page.locator("#device-b [data-role=result] pre").textContent()), violations);
  const label = await page.locator("#device-b [data-role=result] .json-label").textContent();
  const batchId = /e\.batchId ([0-9a-f-]{36}), e\.violations:$/.exec(label)?.[1];
  assert.ok(batchId, `the refusal should name its batch: ${label}`);
  // The same refusal through sync.onRejected, kept until dismissed.
  const refusals = page.locator("#device-b [data-role=rejections] li");
  await refusals.first().waitFor({ timeout: WAIT });
  assert.equal(await refusals.count(), 1);
  assert.equal(await refusals.first().getAttribute("data-batch"), batchId);
  assert.equal(
    await refusals.first().locator("p").allTextContents().then((t) => t.join(" | ")),
    "Refused by the server: a withdrawal of 60 on device B. | Expected the newest matching event at revision 1 at most; found revision 2. | Reported by store.sync.onRejected, kept until dismissed. Dismiss",
  );
  assert.equal(await page.locator("#device-a [data-role=rejections] li").count(), 0);

  // Converged: the same balance, the same confirmed log, nothing pending.
  const converged = [
    ["2", "money_withdrawn", "\u221270", "A", "confirmed"],
    ["1", "money_deposited", "100", "A", "confirmed"],
  ];
  for (const key of ["a", "b"]) {
    await waitFacts(page, key, { balance: "30", confirmed: "30, up to revision 2", pending: "0", state: "online" });
    assert.deepEqual(await eventRows(page, key), converged);
  }
  await shot(page, "8-devices-converged");

  // Dismissed, the refusal goes; a withdrawal the balance does not allow is not sent.
  await refusals.first().getByRole("button", { name: "Dismiss" }).click();
  await refusals.first().waitFor({ state: "detached", timeout: WAIT });
  await move(page, "b", "withdraw", 50);
  await waitText(page, "#device-b [data-role=result]", "Not withdrawn: device B shows 30, less than 50.");
  await waitFacts(page, "b", { balance: "30", pending: "0" });

  assert.deepEqual(errors, []);
  await context.close();
});

test("device A's pending batches survive a reload while offline; once online, one is confirmed and one refused, the refusal kept until dismissed", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
  const log = `reload-${Date.now()}`;
  const page = await openPage(context, log);
  assert.equal(
    await card(page, "a").locator("[data-role=where]").textContent(),
    `This tab's IndexedDB store “hindcast-demo-sync-${log}”: every tab of this page shares it, and its pending batches survive a reload.`,
  );

  await move(page, "a", "deposit", 100);
  for (const key of ["a", "b"]) await waitFacts(page, key, { balance: "100", confirmed: "100, up to revision 1", pending: "0" });
  // A, offline, withdraws 70 on the 100 it sees, then deposits 5 (no condition).
  await setOffline(page, "a", true);
  await waitFacts(page, "a", { state: "offline" });
  await move(page, "a", "withdraw", 70);
  await waitFacts(page, "a", { balance: "30", pending: "1" });
  await move(page, "a", "deposit", 5);
  await waitFacts(page, "a", { balance: "35", confirmed: "100, up to revision 1", pending: "2", state: "offline" });
  const held = [
    ["3", "money_deposited", "5", "A", "pending"],
    ["2", "money_withdrawn", "\u221270", "A", "pending"],
    ["1", "money_deposited", "100", "A", "confirmed"],
  ];
  assert.deepEqual(await eventRows(page, "a"), held);
  // Meanwhile B, online, withdraws 50.
  await move(page, "b", "withdraw", 50);
  await waitText(page, "#device-b [data-role=result]", "Withdrew 50 (decided on 100 as of revision 1): confirmed at revision 2 of the shared log.");

  // Reloaded: A's two pending batches are still there, and A is still offline.
  await page.reload();
  await waitFacts(page, "a", { balance: "35", confirmed: "100, up to revision 1", pending: "2", state: "offline" });
  await waitFacts(page, "b", { balance: "50", confirmed: "50, up to revision 2", pending: "0", state: "online" });
  assert.equal(await card(page, "a").getByRole("switch", { name: "Offline" }).isChecked(), true);
  assert.deepEqual(await eventRows(page, "a"), held);
  await shot(page, "9-device-a-reloaded-offline");

  // Online again: the withdrawal is refused (A never saw B's), the deposit confirmed after B's withdrawal.
  await setOffline(page, "a", false);
  const converged = [
    ["3", "money_deposited", "5", "A", "confirmed"],
    ["2", "money_withdrawn", "\u221250", "B", "confirmed"],
    ["1", "money_deposited", "100", "A", "confirmed"],
  ];
  for (const key of ["a", "b"]) {
    await waitFacts(page, key, { balance: "55", confirmed: "55, up to revision 3", pending: "0", state: "online" });
    assert.deepEqual(await eventRows(page, key), converged);
  }
  // The withdrawal was decided before the reload: its refusal comes through onRejected.
  const refusal = [
    "Refused by the server: a withdrawal of 70 on device A.",
    "Expected the newest matching event at revision 1 at most; found revision 2.",
    "Reported by store.sync.onRejected, kept until dismissed. Dismiss",
  ];
  const refusals = page.locator("#device-a [data-role=rejections] li");
  await refusals.first().waitFor({ timeout: WAIT });
  assert.deepEqual(await refusals.locator("p").allTextContents(), refusal);
  await shot(page, "10-device-a-sent-after-reload");

  // Kept in IndexedDB until dismissed: still there after a reload, gone after Dismiss and another.
  await page.reload();
  await waitFacts(page, "a", { balance: "55", confirmed: "55, up to revision 3", pending: "0", state: "online" });
  await refusals.first().waitFor({ timeout: WAIT });
  assert.deepEqual(await refusals.locator("p").allTextContents(), refusal);
  await refusals.first().getByRole("button", { name: "Dismiss" }).click();
  await refusals.first().waitFor({ state: "detached", timeout: WAIT });
  await page.reload();
  await waitFacts(page, "a", { balance: "55", confirmed: "55, up to revision 3", pending: "0", state: "online" });
  assert.equal(await refusals.count(), 0);

  assert.deepEqual(errors, []);
  await context.close();
});

test("two tabs share device A: its pending batch, its switch, and what the server decides", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
  const log = `tabs-${Date.now()}`;
  const one = await openPage(context, log);
  await setOffline(one, "a", true);
  await waitFacts(one, "a", { state: "offline" });
  await move(one, "a", "deposit", 40);
  await waitFacts(one, "a", { balance: "40", confirmed: "0, up to revision 0", pending: "1", state: "offline" });

  // A second tab: the same device A (its pending deposit, its switch); a device B of its own.
  const two = await context.newPage();
  await two.goto(one.url());
  await waitFacts(two, "a", { confirmed: "0, up to revision 0", pending: "1" });
  await waitFacts(two, "b", { balance: "0", state: "online" });
  assert.equal(await card(two, "a").getByRole("switch", { name: "Offline" }).isChecked(), true);
  assert.deepEqual(await eventRows(two, "a"), [["1", "money_deposited", "40", "A", "pending"]]);

  // Online from the second tab: the first tab's switch follows, and both tabs see the deposit confirmed.
  await setOffline(two, "a", false);
  await one.waitForFunction(() => !document.querySelector("#device-a [data-role=offline]").checked, null, { timeout: WAIT });
  for (const page of [one, two]) {
    for (const key of ["a", "b"]) {
      await waitFacts(page, key, { balance: "40", confirmed: "40, up to revision 1", pending: "0", state: "online" });
    }
    assert.deepEqual(await eventRows(page, "a"), [["1", "money_deposited", "40", "A", "confirmed"]]);
  }
  await shot(two, "11-second-tab");

  assert.deepEqual(errors, []);
  await context.close();
});

test(
  "a second tab's device A shows the balance with the pending batch it loaded",
  async () => {
    const errors = [];
    const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
    const log = `tabs-balance-${Date.now()}`;
    const one = await openPage(context, log);
    await setOffline(one, "a", true);
    await move(one, "a", "deposit", 40);
    await waitFacts(one, "a", { balance: "40", confirmed: "0, up to revision 0", pending: "1" });
    const two = await context.newPage();
    await two.goto(one.url());
    await waitFacts(two, "a", { pending: "1" });
    await waitFacts(two, "a", { balance: "40", confirmed: "0, up to revision 0" }, 2_000);
    assert.deepEqual(errors, []);
    await context.close();
  },
);

test("without IndexedDB, device A is a memory store and says so", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
  await context.addInitScript(() => {
    delete globalThis.indexedDB;
  });
  const page = await context.newPage();
  const log = `memory-${Date.now()}`;
  await page.goto(`${server.url}?db=demo-sync-none-${process.pid}&log=${log}`);
  await page.getByRole("button", { name: "Run it in memory instead" }).click();
  for (const key of ["a", "b"]) await waitFacts(page, key, { balance: "0", pending: "0", state: "online" });
  assert.equal(
    await card(page, "a").locator("[data-role=where]").textContent(),
    "This browser offers no IndexedDB here, so device A is a memory store in this page: a reload forgets its pending batches.",
  );
  await move(page, "b", "deposit", 20);
  for (const key of ["a", "b"]) await waitFacts(page, key, { balance: "20", confirmed: "20, up to revision 1", pending: "0" });
  assert.deepEqual(errors, []);
  await context.close();
});

test("the proxy: a device offline loses its live stream and is refused; online it reaches the server again", async () => {
  const base = `${server.url}sync/a`;
  assert.deepEqual(await (await fetch(base)).json(), { device: "a", offline: false, server: true });
  assert.equal((await fetch(`${base}/healthz`)).status, 404); // only /v1/… goes to the server
  assert.equal((await fetch(`${base}/offline`)).status, 405);

  // A live stream of device a, open through the proxy.
  const stream = await new Promise((resolve, reject) => {
    get(`${base}/v1/logs/proxy-${Date.now()}/events?after=0`, { headers: { accept: "text/event-stream" } }, resolve).on("error", reject);
  });
  assert.equal(stream.statusCode, 200);
  assert.match(stream.headers["content-type"], /^text\/event-stream/);
  const cut = new Promise((resolve) => stream.on("close", resolve));
  stream.resume();

  assert.deepEqual(await (await fetch(`${base}/offline`, { method: "POST" })).json(), { device: "a", offline: true, server: true });
  await cut; // the open stream lost its connection
  await assert.rejects(fetch(`${base}/v1/logs/bank/events?after=0`), TypeError); // a network error
  const other = await fetch(`${server.url}sync/b/v1/logs/bank/events?after=0`);
  assert.equal(other.status, 200, "device b is still online");
  await other.body.cancel();

  assert.deepEqual(await (await fetch(`${base}/online`, { method: "POST" })).json(), { device: "a", offline: false, server: true });
  const back = await fetch(`${base}/v1/logs/bank/events?after=0`);
  assert.equal(back.status, 200);
  assert.deepEqual(Object.keys(await back.json()).sort(), ["events", "head"]);
});

test("two versions of the app: device B on version 1 pauses before a version-2 deposit, asks to update, and folds on once updated", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors, `${server.url}sync/`);
  const log = `versions-${Date.now()}`;
  const page = await openPage(context, log, "&b=1");
  await waitText(page, "#device-b [data-role=app-version]", "version 1");
  await waitText(page, "#device-a [data-role=app-version]", "version 2");
  assert.equal(await card(page, "b").getByLabel("Memo").isVisible(), false);

  // B (version 1) deposits 100: recorded as version 1.
  await move(page, "b", "deposit", 100);
  await waitText(page, "#device-b [data-role=result]", "Deposited 100: confirmed at revision 1 of the shared log.");
  // A (version 2) reads it upcast: the memo its upcast step gives.
  await waitFacts(page, "a", { balance: "100", confirmed: "100, up to revision 1" });
  assert.deepEqual(await memoRows(page, "a"), [["1", "100", "(before memos)"]]);

  // A deposits 50 with a memo: version 2. B's balance stops just before it, and B asks to update.
  await card(page, "a").getByLabel("Memo").fill("rent");
  await move(page, "a", "deposit", 50);
  await waitText(page, "#device-a [data-role=result]", "Deposited 50: confirmed at revision 2 of the shared log.");
  await waitText(
    page,
    "#device-b [data-role=update]",
    "Device B runs version 1 of the app, and the log holds money_deposited written by version 2 (from revision 2). Its balance stops just before it.",
  );
  await waitFacts(page, "b", { balance: "100", confirmed: "100, up to revision 2", pending: "0" });
  assert.deepEqual(await memoRows(page, "b"), [["2", "50", "rent"], ["1", "100", ""]]);
  await shot(page, "devices-5-version-1-paused");

  // Updated to version 2 (the page reloads): B folds on, its old deposit upcast.
  await card(page, "b").locator("[data-role=update]").getByRole("button", { name: "Update to version 2" }).click();
  await page.waitForURL(/[?&]b=2/);
  for (const key of ["a", "b"]) await waitFacts(page, key, { state: "online" });
  await waitText(page, "#device-b [data-role=app-version]", "version 2");
  await waitFacts(page, "b", { balance: "150", confirmed: "150, up to revision 2", pending: "0" });
  assert.equal(await page.locator("#device-b [data-role=update]").isHidden(), true);
  assert.deepEqual(await memoRows(page, "b"), [["2", "50", "rent"], ["1", "100", "(before memos)"]]);
  await shot(page, "devices-6-version-2-updated");
  assert.deepEqual(errors, []);
  await context.close();
});
