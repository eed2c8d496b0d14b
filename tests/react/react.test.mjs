// hindcast/react in headless Chromium, under React 19 and React 18: the page
// (page/) is built with Vite once per version, React's development build
// (StrictMode's double mounts), against the unpacked package at
// $HINDCAST_PKG; renderToString runs in Node on a server build of
// page/ssr.jsx; examples/react is built for production and used against the
// real hindcast-server.
//
// The static server, hindcast-server and the browser are started here and
// stopped in `after`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "../js/browser/static.mjs";
import { startServer, token } from "../js/sync-server.mjs";
import { buildPage, buildServer } from "./build.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = process.env.HINDCAST_PKG;
if (!PKG) throw new Error("HINDCAST_PKG: the unpacked package to test (tests/react/run.sh sets it)");
const VERSIONS = [19, 18];
/** How long a test waits for the page, in ms. */
const WAIT = 15_000;

let work;
let pages;
let server;
let browser;
/** The server builds of page/ssr.jsx by React major. */
const ssr = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), "hindcast-react-"));
  for (const major of VERSIONS) {
    await buildPage({ root: join(HERE, "page"), outDir: join(work, `r${major}`), major, pkg: PKG, development: true });
    ssr[major] = await buildServer({ entry: join(HERE, "page/ssr.jsx"), outDir: join(work, `ssr${major}`), major, pkg: PKG });
  }
  await buildPage({ root: join(HERE, "../../examples/react"), outDir: join(work, "example"), major: 19, pkg: PKG });
  pages = await serve(work);
  server = await startServer();
  browser = await chromium.launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await pages?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * A page of the harness built for React `major`, in `context` (default: a
 * fresh one); `errors` collects its page errors and console errors.
 */
async function harness(major, context) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console.error: ${m.text()}`));
  await page.goto(`${pages.url}/r${major}/index.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: WAIT }).catch((e) => assert.fail(`${e.message}; ${errors.join("; ")}`));
  assert.equal(await page.evaluate(() => window.t.version.split(".")[0]), String(major));
  return { context, page, errors };
}

/** Waits until the element `id` shows `want`; fails with what it shows. */
async function shows(page, id, want) {
  try {
    await page.waitForFunction(([id, want]) => window.t.text(id) === want, [id, want], { timeout: WAIT });
  } catch {
    assert.fail(`#${id} should show ${JSON.stringify(want)}; it shows ${JSON.stringify(await page.evaluate((id) => window.t.text(id), id))}`);
  }
}

/** Waits until `fn(arg)` is true in the page. */
async function until(page, fn, arg) {
  await page.waitForFunction(fn, arg, { timeout: WAIT });
}

const OPEN_AND_DEPOSIT = [
  { stream: "acc-1", type: "account_opened", data: { owner: "Ann" } },
  { stream: "acc-1", type: "money_deposited", data: { amount: 100 } },
];

for (const major of VERSIONS) {
  test(`React ${major}: StrictMode mounts leave exactly as many live subscriptions as components; one projection per definition`, async () => {
    const { context, page, errors } = await harness(major);
    await page.evaluate(async (events) => {
      const { h, c } = window.t;
      const { store, counts } = await window.t.memory();
      await store.transact({ events: [...events, { stream: "acc-2", type: "account_opened", data: { owner: "Bob" } }] });
      Object.assign(window, { store, counts });
      // Seven components: three projections (three definitions), four subscriptions.
      const definitions = [c.BALANCES, { ...c.BALANCES }, { ...c.BALANCES }];
      window.first = window.t.mount(
        [
          ...definitions.map((definition, i) => h(c.Balance, { key: `b${i}`, store, account: "acc-1", definition, name: `balance${i}` })),
          h(c.Revision, { key: "r0", store, name: "revision0" }),
          h(c.Revision, { key: "r1", store, name: "revision1" }),
          h(c.Events, { key: "e0", store, stream: "acc-1", name: "events0" }),
          h(c.Events, { key: "e1", store, name: "events1" }),
        ],
        true,
      );
    }, OPEN_AND_DEPOSIT);
    for (const i of [0, 1, 2]) await shows(page, `balance${i}`, "acc-1: 100");
    await shows(page, "revision0", "revision 3");
    await shows(page, "events0", "events 1,2");
    await shows(page, "events1", "events 1,2,3");
    const counts = () => page.evaluate(() => ({ live: { ...window.counts.live }, made: { ...window.counts.made } }));
    // StrictMode subscribed, unsubscribed and subscribed again; the projections were made once.
    assert.deepEqual(await counts(), {
      live: { subscribe: 4, project: 3, onStatus: 0, onRejected: 0 },
      made: { subscribe: 8, project: 3, onStatus: 0, onRejected: 0 },
    });

    // A commit re-renders them (the reads' selectors are new literals each render): nothing is made again.
    await page.evaluate(() => window.store.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 1 } }] }));
    await shows(page, "balance2", "acc-1: 101");
    await shows(page, "events0", "events 1,2,4");
    await shows(page, "revision1", "revision 4");
    assert.deepEqual((await counts()).made, { subscribe: 8, project: 3, onStatus: 0, onRejected: 0 });

    // Unmounted: nothing is left open.
    await page.evaluate(() => window.t.unmount(window.first));
    await until(page, () => window.counts.total() === 0);

    // Two components showing one definition share its projection.
    await page.evaluate(() => {
      const { h, c } = window.t;
      window.second = window.t.mount(
        ["x", "y"].map((name) => h(c.Balance, { key: name, store: window.store, account: "acc-1", name })),
        true,
      );
    });
    await shows(page, "x", "acc-1: 101");
    await shows(page, "y", "acc-1: 101");
    assert.deepEqual(await counts(), {
      live: { subscribe: 0, project: 1, onStatus: 0, onRejected: 0 },
      made: { subscribe: 8, project: 4, onStatus: 0, onRejected: 0 },
    });
    await page.evaluate(() => window.t.unmount(window.second));
    await until(page, () => window.counts.total() === 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`React ${major}: a component re-renders once per commit that changes what its hook shows, never for others`, async () => {
    const { context, page, errors } = await harness(major);
    await page.evaluate(async (events) => {
      const { h, c } = window.t;
      const { store } = await window.t.memory();
      await store.transact({ events: [...events, { stream: "acc-2", type: "account_opened", data: { owner: "Bob" } }] });
      window.store = store;
      window.t.mount([
        h(c.Balance, { key: "b", store, account: "acc-1", name: "balance" }),
        h(c.Revision, { key: "r", store, name: "revision" }),
        h(c.Events, { key: "e1", store, stream: "acc-1", name: "acc1" }),
        h(c.Events, { key: "e2", store, stream: "acc-2", name: "acc2" }),
      ]);
    }, OPEN_AND_DEPOSIT);
    await shows(page, "balance", "acc-1: 100");
    const renders = () => page.evaluate(() => ({ ...window.t.renders }));
    // The projection's first render shows `initial`; it re-renders once caught up.
    assert.deepEqual(await renders(), { balance: 2, revision: 1, acc1: 1, acc2: 1 });
    const commit = (events) => page.evaluate((events) => window.store.transact({ events }), events);

    await commit([{ stream: "acc-1", type: "money_deposited", data: { amount: 50 } }]);
    await shows(page, "balance", "acc-1: 150");
    await shows(page, "acc1", "events 1,2,4");
    await shows(page, "revision", "revision 4");
    assert.deepEqual(await renders(), { balance: 3, revision: 2, acc1: 2, acc2: 1 });

    // An event no fold and no selector here takes: only the revision changes.
    await commit([{ stream: "acc-3", type: "note_added", data: { text: "hi" } }]);
    await shows(page, "revision", "revision 5");
    // A batch of three: one render each.
    await commit([1, 2, 3].map((amount) => ({ stream: "acc-1", type: "money_deposited", data: { amount } })));
    await shows(page, "balance", "acc-1: 156");
    await shows(page, "acc1", "events 1,2,4,6,7,8");
    await shows(page, "revision", "revision 8");
    assert.deepEqual(await renders(), { balance: 4, revision: 4, acc1: 3, acc2: 1 });
    assert.equal(await page.evaluate(() => window.t.text("acc2")), "events 3");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test(`React ${major}: a new definition object every render: ten projections, then the last is kept and the mistake reported`, async () => {
    const { context, page, errors } = await harness(major);
    await page.evaluate(async (events) => {
      const { h, c } = window.t;
      const { store, counts } = await window.t.memory();
      await store.transact({ events });
      Object.assign(window, { store, counts });
      window.root = window.t.mount([h(c.InlineBalance, { store, account: "acc-1", name: "inline" })]);
    }, OPEN_AND_DEPOSIT);
    await until(page, () => window.counts.made.project === 10 && window.t.text("inline") === "acc-1: 100");
    await page.evaluate(() => window.store.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 5 } }] }));
    await shows(page, "inline", "acc-1: 105");
    assert.deepEqual(await page.evaluate(() => [window.counts.made.project, window.counts.live.project]), [10, 1]);
    // Console messages reach the test a moment after the page logs them.
    const said = "console.error: hindcast/react: useProjection was given a new definition object 10 renders in a row";
    const reported = () => errors.filter((e) => e.startsWith(said)).length === 1;
    for (const start = Date.now(); !reported() && Date.now() - start < WAIT; ) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(errors.map((e) => e.startsWith(said)), [true]);
    await page.evaluate(() => window.t.unmount(window.root));
    await until(page, () => window.counts.total() === 0);
    await context.close();
  });

  test(`React ${major}: useStore suspends while opening, opens once per key, closes after its last user; a failed open reaches the error boundary`, async () => {
    const { context, page, errors } = await harness(major);
    const name = `use-store-${major}-${Date.now()}`;
    const fallbacks = await page.evaluate((name) => {
      const { h, c, EventStore } = window.t;
      window.opened = 0;
      window.open = () => {
        window.opened++;
        return EventStore.open(name).then((store) => {
          window.openedStore = store;
          store.closed.then((reason) => (window.closedWith = reason));
          return store;
        });
      };
      window.both = window.t.mount(
        ["a", "b"].map((id) => h(c.Opening, { key: id, name, open: window.open, account: "acc-1", id })),
        true,
      );
      return document.querySelectorAll(".opening").length;
    }, name);
    assert.equal(fallbacks, 2);
    await shows(page, "a-revision", "revision 0");
    await shows(page, "b-revision", "revision 0");
    assert.equal(await page.evaluate(() => window.opened), 1);
    await page.evaluate((events) => window.openedStore.transact({ events }), OPEN_AND_DEPOSIT);
    await shows(page, "a-balance", "acc-1: 100");
    await shows(page, "b-events", "events 1,2");
    await page.evaluate(() => window.t.unmount(window.both));
    await until(page, () => window.closedWith === "closed");
    // Opened again by the next user.
    await page.evaluate((name) => {
      const { h, c } = window.t;
      window.t.mount([h(c.Opening, { name, open: window.open, account: "acc-1", id: "c" })]);
    }, name);
    await shows(page, "c-balance", "acc-1: 100");
    assert.equal(await page.evaluate(() => window.opened), 2);
    assert.deepEqual(errors, []);

    await page.evaluate(() => {
      const { h, c, EventStore } = window.t;
      window.t.mount([h(c.Opening, { name: "nameless", open: () => EventStore.open(""), account: "acc-1", id: "d" })]);
    });
    await until(page, () => document.querySelector(".failed") !== null);
    assert.match(await page.evaluate(() => document.querySelector(".failed").textContent), /^InvalidInputError: .*name/);
    await context.close();
  });

  test(`React ${major}: two tabs of one IndexedDB store both re-render on the other's commit`, async () => {
    const context = await browser.newContext();
    const name = `tabs-${major}-${Date.now()}`;
    const tabs = [await harness(major, context), await harness(major, context)];
    for (const { page } of tabs) {
      await page.evaluate((name) => {
        const { h, c, EventStore } = window.t;
        const open = () => EventStore.open(name).then((store) => (window.store = store));
        window.t.mount([h(c.Opening, { name, open, account: "acc-1", id: "tab" })]);
      }, name);
      await shows(page, "tab-revision", "revision 0");
    }
    const [a, b] = tabs.map((t) => t.page);
    await a.evaluate((events) => window.store.transact({ events }), OPEN_AND_DEPOSIT);
    await shows(b, "tab-balance", "acc-1: 100");
    await shows(b, "tab-revision", "revision 2");
    await shows(b, "tab-events", "events 1,2");
    await b.evaluate(() => window.store.transact({ events: [{ stream: "acc-1", type: "money_withdrawn", data: { amount: 30 } }] }));
    await shows(a, "tab-balance", "acc-1: 70");
    await shows(a, "tab-revision", "revision 3");
    await shows(a, "tab-events", "events 1,2,3");
    assert.deepEqual([...tabs[0].errors, ...tabs[1].errors], []);
    await context.close();
  });

  test(`React ${major}: a syncing store's status and rejections show, and a rejection is dismissed`, async () => {
    const { context, page, errors } = await harness(major);
    const log = `react-${major}-${Date.now()}`;
    const url = `${server.url}/v1/logs/${log}`;
    await page.evaluate(
      async ([url, jwt]) => {
        const { h, c } = window.t;
        const { store, counts } = await window.t.memory({ url, token: () => jwt });
        Object.assign(window, { store, counts });
        window.root = window.t.mount(
          [
            h(c.Status, { key: "s", store }),
            h(c.Rejections, { key: "r", store }),
            h(c.Events, { key: "e", store, name: "events" }),
            h(c.Balance, { key: "b", store, account: "acc-9", name: "balance" }),
          ],
          true,
        );
      },
      [url, token("ann")],
    );
    await shows(page, "status", "online, confirmed 0, pending 0");
    assert.deepEqual(await page.evaluate(() => ({ ...window.counts.live })), { subscribe: 1, project: 1, onStatus: 3, onRejected: 1 });

    // A batch confirmed keeps its revision (nothing is delivered again): the read shows it confirmed all the same.
    await page.evaluate(async () => {
      await window.store.transact({ events: [{ stream: "acc-0", type: "account_opened", data: { owner: "Ann" } }] });
      await window.store.sync.flush();
    });
    await shows(page, "status", "online, confirmed 1, pending 0");
    await shows(page, "events", "events 1");

    // Another device opens acc-9 while this one is offline and opens it too.
    await context.setOffline(true);
    const { EventStore } = await import(pathToFileURL(join(PKG, "index.js")).href);
    const other = await EventStore.memory({ sync: { url, token: token("bob") } });
    const opened = [{ stream: "acc-9", type: "account_opened", data: { owner: "Bob" } }];
    await (await other.transact({ events: opened, expect: { "acc-9": "no_stream" } })).confirmed;
    await other.close();
    const batchId = await page.evaluate(async (events) => {
      const commit = await window.store.transact({ events, expect: { "acc-9": "no_stream" } });
      commit.confirmed.catch(() => {});
      return commit.batchId;
    }, opened);
    await shows(page, "events", "events 1,2p");
    await shows(page, "balance", "acc-9: 0");
    await shows(page, "status", "offline, confirmed 1, pending 1");

    await context.setOffline(false);
    await page.evaluate(() => window.store.sync.flush());
    await shows(page, "status", "online, confirmed 2, pending 0");
    await shows(page, "events", "events 1,2");
    await until(page, () => document.querySelector("#rejected").dataset.count === "1");
    assert.equal(await page.evaluate(() => document.querySelector("#rejected li").textContent), `${batchId} version_mismatch dismiss`);
    await page.click("#rejected button");
    await until(page, () => document.querySelector("#rejected").dataset.count === "0");
    assert.deepEqual(await page.evaluate(() => window.store.sync.rejected()), []);

    await page.evaluate(() => window.t.unmount(window.root));
    await until(page, () => window.counts.total() === 0);
    // Offline, Chromium reports the requests it could not make.
    assert.deepEqual(errors.filter((e) => !e.includes("net::ERR_INTERNET_DISCONNECTED")), []);
    await context.close();
  });

  test(`React ${major}: renderToString in Node renders the initial state without subscribing or opening`, async () => {
    const { render } = await import(pathToFileURL(ssr[major]).href);
    const out = await render();
    assert.equal(out.version.split(".")[0], String(major));
    assert.equal(out.revision, 2);
    assert.ok(
      out.html.startsWith(
        '<main><p id="balance">acc-1: none</p><p id="revision">revision 0</p><p id="events">events </p>' +
          '<p id="status">no sync</p><ul id="rejected" data-count="0"></ul>' +
          '<p id="synced">offline, confirmed 0, pending 0</p><ul id="synced-rejected" data-count="0"></ul><!--$!-->',
      ),
      out.html,
    );
    assert.ok(out.html.endsWith('<p class="opening">opening</p><!--/$--></main>'), out.html);
    assert.deepEqual(out.made, { subscribe: 0, project: 0, onStatus: 0, onRejected: 0 });
    assert.deepEqual(out.syncedMade, { subscribe: 0, project: 0, onStatus: 0, onRejected: 0 });
    assert.equal(out.opened, 0);
  });
}

test("examples/react: the bank app, built for production, syncs and refuses an overdraft", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`console.error: ${m.text()}`));
  const log = `${server.url}/v1/logs/example-${Date.now()}`;
  await page.goto(`${pages.url}/example/index.html?sync=${encodeURIComponent(log)}&token=${token("teller")}`);
  const sees = async (selector, want) => {
    try {
      await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [selector, want], { timeout: WAIT });
    } catch {
      assert.fail(`${selector} should show ${JSON.stringify(want)}; it shows ${JSON.stringify(await page.locator(selector).first().textContent().catch(() => null))}`);
    }
  };
  await sees("#sync", "online, 0 confirmed, 0 pending");
  await page.fill("#owner", "Ann");
  await page.click("#open");
  await sees("#acc-1 .who", "acc-1 Ann: 0");
  await page.fill("#amount", "100");
  await page.click("#acc-1 .deposit");
  await sees("#acc-1 .who", "acc-1 Ann: 100");
  await page.fill("#amount", "30");
  await page.click("#acc-1 .withdraw");
  await sees("#acc-1 .who", "acc-1 Ann: 70");
  await page.fill("#amount", "100");
  await page.click("#acc-1 .withdraw");
  await sees("#message", "Not enough money: acc-1 has 70.");
  await sees("#total", "The bank holds 70");
  await sees("#sync", "online, 3 confirmed, 0 pending");
  assert.deepEqual(errors, []);
  await context.close();
});

test("types: the hooks under strict TypeScript (types/usage.tsx), react.js against react.d.ts, the READMEs' tsx examples", () => {
  const root = join(HERE, "../..");
  const out = join(root, "target/react-readme");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  let n = 0;
  for (const [name, file] of [["readme", "README.md"], ["package-readme", "pkg-template/README.md"]]) {
    const examples = [...readFileSync(join(root, file), "utf8").matchAll(/```tsx\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(examples.length >= 1, `${file} has a tsx example`);
    examples.forEach((source, i) => writeFileSync(join(out, `${name}-${i + 1}.tsx`), `${source}\nexport {};\n`));
    n += examples.length;
  }
  execFileSync(process.execPath, [join(HERE, "node_modules/typescript/bin/tsc"), "-p", join(HERE, "types")], { stdio: "inherit" });
  assert.ok(n >= 2);
});
