// The demo page (www/) in headless Chromium, served as scripts/demo serves
// it: a person's walk through the bank story, a stale decision refused, the
// constraint playground, a reload (the log is in IndexedDB), two tabs
// updating each other and racing, a reset, and a browser without IndexedDB.
// Screenshots go to target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM } from "./browser/static.mjs";
import { WAIT, freshContext, waitText } from "./browser/demo-page.mjs";
import { serveDemo } from "../../scripts/serve.mjs";

const SHOTS = fileURLToPath(new URL("../../target/screenshots/", import.meta.url));
let server;
let browser;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  server = await serveDemo({ port: 0 }); // the package from HINDCAST_PKG_DIR, else pkg/
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await server?.close();
});



/** Waits until the balances table shows exactly these balances. */
async function waitBalances(page, want) {
  const read = () =>
    page.$$eval("#balances tr", (rows) => Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[2].textContent])));
  try {
    await page.waitForFunction(
      (w) => {
        const rows = [...document.querySelectorAll("#balances tr")];
        const got = Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[2].textContent]));
        return JSON.stringify(got) === JSON.stringify(w);
      },
      want,
      { timeout: WAIT },
    );
  } catch {
    assert.deepEqual(await read(), want);
  }
}

/** The log table's rows, newest first: [revision, stream, version, type, data, written by]. */
const logRows = (page) => page.$$eval("#log tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));

/** Waits for the page to have loaded the store up to `revision`. */
const ready = (page, revision) => waitText(page, "#status", `Head: revision ${revision}.`);

/** This tab's name, from the status line. */
const tabOf = async (page) => (await page.locator("#status").textContent()).match(/This is tab (\w+)\./)[1];

/** Section 1's money form: deposit or withdraw. */
async function move(page, op, account, amount) {
  const form = page.locator("#money-form");
  await form.getByLabel("Account").selectOption(account);
  await form.getByLabel("Amount").fill(String(amount));
  await form.getByRole("button", { name: op === "deposit" ? "Deposit" : "Withdraw" }).click();
}

async function openAccount(page, account, owner) {
  const form = page.locator("#open-form");
  await form.getByLabel("Account").fill(account);
  await form.getByLabel("Owner").fill(owner);
  await form.getByRole("button", { name: "Open account" }).click();
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

test("the bank story: refusals shown, kept across a reload, shared live by two tabs", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors);
  const url = `${server.url}?db=demo-test-${process.pid}-${Date.now()}`;
  const page = await context.newPage();
  await page.goto(url);
  await ready(page, 0);
  await waitText(page, "#status", "Stored in IndexedDB");
  assert.equal(await page.locator("#no-accounts").isVisible(), true);
  // Served without a hindcast-server, the "Two devices" section says so (demo-sync.test.mjs has one).
  await waitText(page, "#devices-none", "No sync server here: scripts/demo starts one");
  assert.equal(await page.locator("#devices").isVisible(), false);

  // Open, deposit, withdraw; a withdrawal the balance does not allow is not sent.
  await openAccount(page, "acc-1", "Ann");
  await waitText(page, "#bank-result", "Opened acc-1 for Ann, at revision 1.");
  await move(page, "deposit", "acc-1", 100);
  await waitText(page, "#bank-result", "Deposited 100 into acc-1, at revision 2.");
  await move(page, "withdraw", "acc-1", 30);
  await waitText(page, "#bank-result", "Withdrew 30 from acc-1, at revision 3.");
  await waitBalances(page, { "acc-1": "70" });
  await move(page, "withdraw", "acc-1", 500);
  await waitText(page, "#bank-result", "Not withdrawn: acc-1 holds 70, less than 500.");
  // Opening it again is refused by its no_stream expectation.
  await openAccount(page, "acc-1", "Ann");
  await waitText(page, "#bank-result", "Refused: nothing was written.");
  await waitText(page, "#bank-result", "acc-1: expected no stream yet; found version 2, at revision 3.");
  await openAccount(page, "acc-2", "Ben");
  await waitText(page, "#bank-result", "Opened acc-2 for Ben, at revision 4.");
  await move(page, "deposit", "acc-2", 50);
  await waitText(page, "#bank-result", "Deposited 50 into acc-2, at revision 5.");
  await waitBalances(page, { "acc-1": "70", "acc-2": "50" });

  // The stale decision: B looks (revision 5), A withdraws (revision 6), B is refused.
  const stale = page.locator("#stale-form");
  await stale.getByLabel("Account").selectOption("acc-1");
  await stale.getByLabel("Amount").fill("50");
  await page.getByRole("button", { name: "Play the whole race" }).click();
  await waitText(page, "#stale-result", "Refused: teller B's withdrawal of 50 from acc-1 was not written.");
  const staleText = await page.locator("#stale-result").textContent();
  for (const line of [
    "1. Teller B saw 70 in acc-1, as of revision 5.",
    "2. Teller A withdrew 50 from acc-1, at revision 6.",
    "B decided on acc-1 as of revision 5 (balance 70). Expected no newer event on acc-1 than revision 5; found revision 6.",
    "Without the check both withdrawals would stand, and acc-1 would hold \u221230: overdrawn. It holds 20.",
  ]) {
    assert.ok(staleText.includes(line), `the refusal should say ${JSON.stringify(line)}; it says ${JSON.stringify(staleText)}`);
  }
  assert.deepEqual(JSON.parse(await page.locator("#stale-result pre").textContent()), [
    { kind: "max_revision_exceeded", constraint: { maxRevision: 5, selector: { stream: "acc-1" } }, max: 5, found: 6 },
  ]);
  await waitBalances(page, { "acc-1": "20", "acc-2": "50" });

  // The playground: "nothing on acc-1 yet" fails; a DCB condition after the head holds.
  const play = page.locator("#play-form");
  await play.getByLabel("Kind").selectOption("maxRevision");
  await play.getByLabel("r", { exact: true }).fill("0");
  await play.getByLabel("stream").fill("acc-1");
  await waitText(page, "#play-preview", '{"maxRevision":0,"selector":{"stream":"acc-1"}}');
  await waitText(page, "#play-now", "Now: the newest matching event is at revision 6; the head is revision 6.");
  await play.getByRole("button", { name: "Check" }).click();
  await waitText(page, "#play-result", "Fails: the batch was refused and nothing was written.");
  await waitText(page, "#play-result", "Expected the newest matching event at revision 0 at most; found revision 6.");
  assert.deepEqual(JSON.parse(await page.locator("#play-result pre").textContent()), [
    { kind: "max_revision_exceeded", constraint: { maxRevision: 0, selector: { stream: "acc-1" } }, max: 0, found: 6 },
  ]);
  await play.getByLabel("Kind").selectOption("revisionRange");
  await play.getByLabel("a", { exact: true }).fill("3");
  await play.getByLabel("b", { exact: true }).fill("6");
  await play.getByLabel("type").selectOption("money_deposited");
  await play.getByRole("button", { name: "Check" }).click();
  await waitText(page, "#play-result", "Expected the newest matching event between revisions 3 and 6; found revision 2.");
  await play.getByLabel("Kind").selectOption("failIfEventsMatch");
  await play.getByLabel("after p").fill("6");
  await play.getByLabel("type").selectOption("");
  await waitText(page, "#play-preview", '{"failIfEventsMatch":{"stream":"acc-1"},"after":6}');
  await play.getByRole("button", { name: "Check" }).click();
  await waitText(page, "#play-result", "Holds: the batch committed, at revision 7.");

  // The log, newest first, exactly.
  const me = await tabOf(page);
  const mine = `this tab (${me})`;
  const story = [
    ["7", "playground", "0", "constraint_checked", '{"constraint":{"failIfEventsMatch":{"stream":"acc-1"},"after":6}}', mine],
    ["6", "acc-1", "3", "money_withdrawn", '{"amount":50,"teller":"A"}', mine],
    ["5", "acc-2", "1", "money_deposited", '{"amount":50}', mine],
    ["4", "acc-2", "0", "account_opened", '{"owner":"Ben"}', mine],
    ["3", "acc-1", "2", "money_withdrawn", '{"amount":30}', mine],
    ["2", "acc-1", "1", "money_deposited", '{"amount":100}', mine],
    ["1", "acc-1", "0", "account_opened", '{"owner":"Ann"}', mine],
  ];
  await ready(page, 7);
  assert.deepEqual(await logRows(page), story);
  await shot(page, "1-story");

  // A reload: everything comes back from IndexedDB.
  await page.reload();
  await ready(page, 7);
  await waitText(page, "#status", "loaded 7 events");
  await waitBalances(page, { "acc-1": "20", "acc-2": "50" });
  assert.deepEqual(await logRows(page), story);
  assert.equal(await tabOf(page), me, "a reload keeps the tab's name");
  await shot(page, "2-reloaded");

  // A second tab: each tab's writes show in the other.
  const other = await context.newPage();
  await other.goto(url);
  await ready(other, 7);
  await waitBalances(other, { "acc-1": "20", "acc-2": "50" });
  const them = await tabOf(other);
  assert.notEqual(them, me);
  await move(other, "deposit", "acc-2", 5);
  await waitText(other, "#bank-result", "Deposited 5 into acc-2, at revision 8.");
  await waitBalances(page, { "acc-1": "20", "acc-2": "55" });
  assert.deepEqual((await logRows(page))[0], ["8", "acc-2", "2", "money_deposited", '{"amount":5}', `tab ${them}`]);
  await move(page, "withdraw", "acc-1", 10);
  await waitText(page, "#bank-result", "Withdrew 10 from acc-1, at revision 9.");
  await waitBalances(other, { "acc-1": "10", "acc-2": "55" });
  assert.deepEqual((await logRows(other))[0], ["9", "acc-1", "4", "money_withdrawn", '{"amount":10}', `tab ${me}`]);

  // A race between the tabs: B looks here, the other tab withdraws, B here is refused.
  await stale.getByLabel("Account").selectOption("acc-1");
  await stale.getByLabel("Amount").fill("5");
  await page.getByRole("button", { name: "B looks at the balance" }).click();
  await waitText(page, "#stale-view", "Teller B saw 10 in acc-1, as of revision 9. acc-1 has not changed since");
  await move(other, "withdraw", "acc-1", 5);
  await waitText(other, "#bank-result", "Withdrew 5 from acc-1, at revision 10.");
  await waitText(page, "#stale-view", `Since then acc-1 changed in tab ${them} (revision 10, balance 5): B's view is stale.`);
  await shot(page, "3-tab-one-view-gone-stale");
  await page.getByRole("button", { name: "B withdraws on what B saw" }).click();
  await waitText(page, "#stale-result", "Refused: teller B's withdrawal of 5 from acc-1 was not written.");
  await waitText(page, "#stale-result", "Expected no newer event on acc-1 than revision 9; found revision 10.");
  for (const p of [page, other]) {
    await ready(p, 10);
    await waitBalances(p, { "acc-1": "5", "acc-2": "55" });
  }
  await page.bringToFront();
  await shot(page, "4-tab-one-after-race");
  await other.bringToFront();
  await shot(other, "5-tab-two-after-race");

  // Reset: the log is deleted, and the other tab starts afresh too.
  await page.getByRole("button", { name: "Reset: delete the log" }).click();
  for (const p of [page, other]) {
    await ready(p, 0);
    await waitBalances(p, {});
    assert.deepEqual(await logRows(p), []);
  }
  await other.locator("#money-form").getByRole("button", { name: "Deposit" }).click();
  await waitText(other, "#bank-result", "Open an account first.");
  // A fresh log proposes acc-1 again.
  assert.equal(await other.locator("#open-form").getByLabel("Account").inputValue(), "acc-1");
  await other.locator("#open-form").getByRole("button", { name: "Open account" }).click();
  await waitText(other, "#bank-result", "Opened acc-1 for Ann, at revision 1.");
  await waitBalances(page, { "acc-1": "0" });

  assert.deepEqual(errors, []);
  await context.close();
});

test("without IndexedDB the page says so, and runs in memory on request", async () => {
  const errors = [];
  const context = await freshContext(browser, server.url, errors);
  await context.addInitScript(() => {
    delete globalThis.indexedDB;
  });
  const page = await context.newPage();
  await page.goto(`${server.url}?db=demo-test-none-${process.pid}`);
  await waitText(page, "#unavailable", "This browser has no IndexedDB here");
  assert.equal(await page.locator("#demo").isVisible(), false);
  await shot(page, "6-no-indexeddb");
  await page.getByRole("button", { name: "Run it in memory instead" }).click();
  await ready(page, 0);
  await waitText(page, "#status", "In memory only");
  await openAccount(page, "acc-1", "Ann");
  await waitText(page, "#bank-result", "Opened acc-1 for Ann, at revision 1.");
  await waitBalances(page, { "acc-1": "0" });
  assert.deepEqual(errors, []);
  await context.close();
});
