// SPEC §6 in headless Chromium, against its real IndexedDB: durability
// across close and reopen, injected failures (quota, an aborted
// transaction) that leave memory and subscribers untouched, a corrupt
// record, two instances on one name racing with a stale loser, and delete.
// (The same logic with fake-indexeddb in Node: persistence.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./browser/static.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
let server;
let browser;
let page;

before(async () => {
  server = await serve(root);
  browser = await chromium.launch(CHROMIUM);
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${server.url}/tests/js/browser/tab.html?db=unused-${Date.now()}`);
  await page.evaluate(() => window.ready);
  assert.deepEqual(errors, []);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let n = 0;
const dbName = () => `browser-persistence-${Date.now()}-${n++}`;

test("committed batches survive close and reopen, stored as runs of whole batches", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const a = await EventStore.open(name);
    await a.transact({ events: [{ stream: "acc-1", type: "opened", data: { owner: "Ann" } }, { stream: "acc-2", type: "opened" }] });
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        a.transact({ events: [{ stream: `s-${i % 3}`, type: "t", data: JSON.parse(`{"i":${i},"__proto__":{"x":1}}`), tags: ["g"] }] }),
      ),
    );
    const before = JSON.stringify(a.read());
    await a.close();
    const reports = [];
    const b = await EventStore.open(name, { onProgress: (p) => reports.push(p) });
    const after = JSON.stringify(b.read());
    const records = await new Promise((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => {
        const get = r.result.transaction("events").objectStore("events").getAll();
        get.onsuccess = () => {
          r.result.close();
          resolve(get.result.map((x) => [x.revision, x.last]));
        };
        get.onerror = () => reject(get.error);
      };
    });
    const proto = Object.getPrototypeOf(b.read({ stream: "s-0" })[0].data) === Object.prototype;
    await b.close();
    return { same: before === after, revision: b.revision, last: reports.at(-1), records, proto };
  }, dbName());
  assert.equal(out.same, true);
  assert.equal(out.revision, 1202);
  assert.deepEqual(out.last, { loaded: 1202, total: 1202 });
  // The first group is the lone batch of 2; the next, 1,200 single-event batches.
  assert.deepEqual(out.records, [[1, 2], [3, 1002], [1003, 1202]]);
  assert.equal(out.proto, true);
});

test("a failed write (quota, abort) leaves memory, revisions, subscribers and the database untouched", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const store = await EventStore.open(name);
    await store.transact({ events: [{ stream: "a", type: "x" }] });
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e.revision);
    });
    await sub.waitFor(1);
    const { add, put } = IDBObjectStore.prototype;
    const failures = [];
    try {
      IDBObjectStore.prototype.add = IDBObjectStore.prototype.put = function () {
        throw new DOMException("full", "QuotaExceededError");
      };
      failures.push(await store.transact({ events: [{ stream: "b", type: "x" }] }).then(() => null, (e) => [e.name, e.code, e.reason]));
      // A transaction aborted after its records were handed over.
      IDBObjectStore.prototype.add = IDBObjectStore.prototype.put = function (...args) {
        const request = put.apply(this, args);
        this.transaction.abort();
        return request;
      };
      failures.push(await store.transact({ events: [{ stream: "c", type: "x" }] }).then(() => null, (e) => [e.name, e.code, e.reason]));
    } finally {
      Object.assign(IDBObjectStore.prototype, { add, put });
    }
    const afterFailures = { revision: store.revision, streams: store.read().map((e) => e.stream), b: store.stream("b"), seen: [...seen] };
    const next = await store.transact({ events: [{ stream: "d", type: "x" }] });
    await sub.waitFor(2);
    await store.close();
    const again = await EventStore.open(name);
    const reopened = again.read().map((e) => e.stream);
    await again.close();
    return { failures, afterFailures, next: next.revision, seen, reopened };
  }, dbName());
  assert.deepEqual(out.failures, [
    ["StorageError", "STORAGE", "quota"],
    ["StorageError", "STORAGE", "aborted"],
  ]);
  assert.deepEqual(out.afterFailures, { revision: 1, streams: ["a"], b: null, seen: [1] });
  assert.equal(out.next, 2);
  assert.deepEqual(out.seen, [1, 2]);
  assert.deepEqual(out.reopened, ["a", "d"]);
});

test("a record that does not decode makes open reject as corrupt, naming the revision", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const store = await EventStore.open(name);
    await store.transact({ events: [{ stream: "a", type: "x" }] });
    await store.transact({ events: [{ stream: "b", type: "x" }, { stream: "b", type: "y" }] });
    await store.close();
    await new Promise((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => {
        const tx = r.result.transaction("events", "readwrite");
        const os = tx.objectStore("events");
        const get = os.get(2);
        get.onsuccess = () => os.put({ ...get.result, events: get.result.events.replace('"type":"y"', '"type":""') });
        tx.oncomplete = () => {
          r.result.close();
          resolve();
        };
        tx.onabort = () => reject(tx.error);
      };
    });
    return EventStore.open(name).then(
      () => null,
      (e) => ({ name: e.name, reason: e.reason, revision: e.revision, message: e.message }),
    );
  }, dbName());
  assert.equal(out.name, "StorageError");
  assert.equal(out.reason, "corrupt");
  assert.equal(out.revision, 3);
  assert.match(out.message, /revision 3 is corrupt \(an empty type\)/);
});

test("two instances on one name race with a stale loser: exactly one wins, and each sees the other's events", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const a = await EventStore.open(name);
    const b = await EventStore.open(name);
    const seenByB = [];
    const sub = b.subscribe((e) => {
      seenByB.push(`${e.revision}:${e.stream}`);
    });
    const race = await Promise.allSettled([
      a.transact({ events: [{ stream: "acc-1", type: "opened" }], expect: { "acc-1": "no_stream" } }),
      b.transact({ events: [{ stream: "acc-1", type: "opened" }], expect: { "acc-1": "no_stream" } }),
    ]);
    // b is behind on purpose: a writes, and b decides before it hears of it.
    await a.transact({ events: [{ stream: "acc-2", type: "opened" }] });
    const stale = await b
      .transact({ events: [{ stream: "acc-2", type: "opened" }], expect: { "acc-2": "no_stream" } })
      .then(() => null, (e) => [e.name, e.violations[0].kind, e.violations[0].stream, e.violations[0].actual]);
    await b.transact({ events: [{ stream: "from-b", type: "x" }] });
    await sub.waitFor(3);
    const seenByA = [];
    const subA = a.subscribe((e) => {
      seenByA.push(`${e.revision}:${e.stream}`);
    });
    await subA.waitFor(3);
    await a.close();
    await b.close();
    return {
      outcomes: race.map((r) => (r.status === "fulfilled" ? `won ${r.value.revision}` : `${r.reason.name} ${r.reason.violations[0].kind}`)),
      stale,
      seenByA,
      seenByB,
    };
  }, dbName());
  assert.deepEqual([...out.outcomes].sort(), ["ConstraintViolationError version_mismatch", "won 1"]);
  assert.deepEqual(out.stale, ["ConstraintViolationError", "version_mismatch", "acc-2", { version: 0, revision: 2 }]);
  assert.deepEqual(out.seenByB, ["1:acc-1", "2:acc-2", "3:from-b"]);
  assert.deepEqual(out.seenByA, ["1:acc-1", "2:acc-2", "3:from-b"]);
});

test("delete removes the database and closes stores open on it", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const store = await EventStore.open(name);
    await store.transact({ events: [{ stream: "a", type: "x" }] });
    await EventStore.delete(name);
    const write = await store.transact({ events: [{ stream: "b", type: "x" }] }).then(() => null, (e) => [e.name, e.reason]);
    const fresh = await EventStore.open(name);
    const revision = fresh.revision;
    await fresh.close();
    await EventStore.delete(name);
    return { write, revision, kept: store.read().length };
  }, dbName());
  assert.deepEqual(out, { write: ["StorageError", "closed"], revision: 0, kept: 1 });
});

test("event schemas over a database: written by version 1, read upcast by version 3, paused by version 1 again; the records never change", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    const v3 = {
      money_deposited: {
        version: 3,
        upcast: { 1: (d) => ({ amount: d.amount, currency: "EUR" }), 2: (d) => ({ ...d, channel: "unknown" }) },
      },
    };
    const v1 = { money_deposited: { version: 1 } };
    /** The database's records, as stored. */
    const stored = () =>
      new Promise((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => {
          const get = r.result.transaction("events").objectStore("events").getAll();
          get.onsuccess = () => {
            r.result.close();
            resolve(JSON.stringify(get.result));
          };
          get.onerror = () => reject(get.error);
        };
      });
    const total = { initial: 0, on: { money_deposited: (s, e) => s + e.data.amount } };

    // "Version 1" of the app writes two deposits.
    const old = await EventStore.open(name, { schemas: v1 });
    await old.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 10 } }] });
    await old.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 20 } }] });
    await old.close();
    const written = await stored();

    // "Version 3" reads them upcast, and writes one of its own.
    const next = await EventStore.open(name, { schemas: v3 });
    const upcast = next.read().map((e) => [e.schemaVersion, e.data]);
    const unchanged = (await stored()) === written;
    await next.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 5, currency: "SEK", channel: "app" } }] });
    await next.close();
    const withV3 = await stored();

    // "Version 1" again: its projection pauses before the version-3 event; newer() lists it.
    const again = await EventStore.open(name, { schemas: v1 });
    const p = again.project(total);
    await p.ready;
    const paused = { state: p.state, position: p.position, newer: again.schemas.newer() };
    const asRecorded = again.read()[2];
    await again.close();
    return { upcast, unchanged, paused, asRecorded: [asRecorded.schemaVersion, asRecorded.data], untouched: (await stored()) === withV3 };
  }, dbName());
  assert.deepEqual(out.upcast, [
    [3, { amount: 10, currency: "EUR", channel: "unknown" }],
    [3, { amount: 20, currency: "EUR", channel: "unknown" }],
  ]);
  assert.equal(out.unchanged, true);
  assert.deepEqual(out.paused, {
    state: 30,
    position: 2,
    newer: [{ type: "money_deposited", schemaVersion: 3, known: 1, firstRevision: 3 }],
  });
  assert.deepEqual(out.asRecorded, [3, { amount: 5, currency: "SEK", channel: "app" }]);
  assert.equal(out.untouched, true);
});

test("projection snapshots in real IndexedDB: kept on close, the next projection folds only what follows", async () => {
  const out = await page.evaluate(async (name) => {
    const { EventStore } = window;
    let folds = 0;
    const spec = () => ({
      initial: { total: 0, byStream: {} },
      on: {
        deposited: (s, e) => {
          folds++;
          s.total += e.data.amount;
          s.byStream[e.stream] = (s.byStream[e.stream] ?? 0) + e.data.amount;
          return s;
        },
      },
      snapshot: { key: "totals", every: 500 },
    });
    const a = await EventStore.open(name);
    await Promise.all(Array.from({ length: 1200 }, (_, i) => a.transact({ events: [{ stream: `s-${i % 4}`, type: "deposited", data: { amount: 1 } }] })));
    const p = a.project({ ...spec(), initial: { total: 0, byStream: {} } });
    await p.ready;
    const first = { folds, state: structuredClone(p.state) };
    await a.close();
    folds = 0;
    const b = await EventStore.open(name);
    await b.transact({ events: [{ stream: "s-0", type: "deposited", data: { amount: 10 } }] });
    const q = b.project(spec());
    await q.ready;
    const second = { folds, state: q.state, position: q.position };
    await b.close();
    return { first, second };
  }, dbName());
  assert.deepEqual(out.first, { folds: 1200, state: { total: 1200, byStream: { "s-0": 300, "s-1": 300, "s-2": 300, "s-3": 300 } } });
  assert.deepEqual(out.second, { folds: 1, state: { total: 1210, byStream: { "s-0": 310, "s-1": 300, "s-2": 300, "s-3": 300 } }, position: 1201 });
});
