// SPEC §6 in Node, with fake-indexeddb standing in for the browser's
// IndexedDB: durability, atomic failure, two instances on one name, corrupt
// records, close and delete. (Without a polyfill: persistence-unavailable.test.mjs.)
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, StorageError, ConstraintViolationError, HindcastError } from "hindcast";

let n = 0;
const dbName = () => `hindcast-test-${process.pid}-${n++}`;
const ev = (stream, type = "happened", data = {}) => ({ stream, type, data });

/** Opens `name` directly, without hindcast. */
function rawOpen(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

test("an empty database opens empty and reports its loading", async () => {
  const reports = [];
  const store = await EventStore.open(dbName(), { onProgress: (p) => reports.push(p) });
  assert.equal(store.revision, 0);
  assert.deepEqual(store.read(), []);
  assert.deepEqual(reports, [{ loaded: 0, total: 0 }]);
  await store.close();
});

test("committed batches survive close and reopen exactly", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  await a.transact({ events: [ev("acc-1", "opened", { owner: "Ann" }), ev("acc-2", "opened")], expect: { "acc-1": "no_stream" } });
  await a.transact({
    id: "6f9619ff-8b86-4011-b42d-00c04fc964ff",
    correlationId: "c-1",
    events: [{ stream: "acc-1", type: "deposited", data: { amount: 30, nested: [1, { x: null }] }, subject: "acc-1", tags: ["t1", "t2"], time: "2026-11-23T10:00:00Z", metadata: { by: "me" } }],
  });
  const before = a.read();
  await a.close();
  const reports = [];
  const b = await EventStore.open(name, { onProgress: (p) => reports.push(p) });
  assert.deepEqual(b.read(), before);
  assert.equal(b.revision, 3);
  assert.deepEqual(b.stream("acc-1"), { version: 1, revision: 3 });
  assert.equal(b.lastRevision({ tags: ["t2"] }), 3);
  assert.deepEqual(reports.at(-1), { loaded: 3, total: 3 });
  for (let i = 1; i < reports.length; i++) assert.ok(reports[i].loaded >= reports[i - 1].loaded);
  // The batch id is remembered: the same request replays.
  const again = await b.transact({
    id: "6f9619ff-8b86-4011-b42d-00c04fc964ff",
    correlationId: "c-1",
    events: [{ stream: "acc-1", type: "deposited", data: { amount: 30, nested: [1, { x: null }] }, subject: "acc-1", tags: ["t1", "t2"], time: "2026-11-23T10:00:00Z", metadata: { by: "me" } }],
  });
  assert.equal(again.replayed, true);
  assert.equal(again.revision, 3);
  // Writing goes on where it was.
  const next = await b.transact({ events: [ev("acc-1", "withdrawn")], expect: { "acc-1": { version: 1 } } });
  assert.deepEqual(next.streams, { "acc-1": { version: 2, revision: 4 } });
  await b.close();
});

test("a transact has resolved only once another connection can read it", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  await a.transact({ events: [ev("s")] });
  const b = await EventStore.open(name);
  assert.equal(b.revision, 1);
  await a.close();
  await b.close();
});

test("two instances racing on one expectation: exactly one wins, even when the loser's memory is behind", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  const results = await Promise.allSettled([
    a.transact({ events: [ev("acc-1", "opened")], expect: { "acc-1": "no_stream" } }),
    b.transact({ events: [ev("acc-1", "opened")], expect: { "acc-1": "no_stream" } }),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const [lost] = results.filter((r) => r.status === "rejected");
  assert.ok(lost.reason instanceof ConstraintViolationError, String(lost.reason));
  assert.deepEqual(lost.reason.violations[0].actual, { version: 0, revision: 1 });
  // Behind on purpose: b has not heard of a's later write when it writes.
  await a.transact({ events: [ev("acc-2", "opened")] });
  await assert.rejects(
    b.transact({ events: [ev("acc-2", "opened")], expect: { "acc-2": "no_stream" } }),
    (e) => e instanceof ConstraintViolationError && e.violations[0].stream === "acc-2",
  );
  // Constraints too: b sees a's events inside its write.
  await a.transact({ events: [{ stream: "x", type: "t", subject: "s" }] });
  await assert.rejects(
    b.transact({ events: [ev("y")], constraints: [{ maxRevision: 0, selector: { subject: "s" } }] }),
    ConstraintViolationError,
  );
  await a.close();
  await b.close();
});

test("each instance's subscriptions receive the other's commits, once and in order", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  const seenByB = [];
  const sub = b.subscribe((e) => {
    seenByB.push(`${e.revision}:${e.stream}`);
  });
  await a.transact({ events: [ev("from-a")] });
  await b.transact({ events: [ev("from-b")] });
  await a.transact({ events: [ev("from-a-2"), ev("from-a-3")] });
  await sub.waitFor(4);
  assert.deepEqual(seenByB, ["1:from-a", "2:from-b", "3:from-a-2", "4:from-a-3"]);
  assert.deepEqual(b.read().map((e) => e.stream), ["from-a", "from-b", "from-a-2", "from-a-3"]);
  sub.cancel();
  await a.close();
  await b.close();
});

test("concurrent transacts commit as a group, each batch checked on its own", async () => {
  const store = await EventStore.open(dbName());
  const requests = Array.from({ length: 100 }, (_, i) =>
    store.transact({ events: [ev(`s-${i % 50}`)], expect: { [`s-${i % 50}`]: "no_stream" } }),
  );
  const results = await Promise.allSettled(requests);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 50);
  assert.ok(results.slice(50).every((r) => r.status === "rejected" && r.reason instanceof ConstraintViolationError));
  assert.equal(store.revision, 50);
  assert.deepEqual(results[0].value.streams, { "s-0": { version: 0, revision: 1 } });
  await store.close();
});

test("a failed write (quota) leaves memory, revisions and subscribers untouched", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await store.transact({ events: [ev("a")] });
  const seen = [];
  const sub = store.subscribe((e) => {
    seen.push(e.revision);
  });
  await sub.waitFor(1);
  const { add, put } = IDBObjectStore.prototype;
  IDBObjectStore.prototype.add = IDBObjectStore.prototype.put = function () {
    throw new DOMException("full", "QuotaExceededError");
  };
  try {
    const err = await store.transact({ events: [ev("b"), ev("c")] }).then(() => null, (e) => e);
    assert.ok(err instanceof StorageError, String(err));
    assert.ok(err instanceof HindcastError);
    assert.equal(err.code, "STORAGE");
    assert.equal(err.reason, "quota");
    assert.match(err.message, /QuotaExceededError: full .*nothing of the batch was written.*navigator\.storage\.persist\(\)/);
  } finally {
    Object.assign(IDBObjectStore.prototype, { add, put });
  }
  assert.equal(store.revision, 1);
  assert.deepEqual(store.read().map((e) => e.stream), ["a"]);
  assert.equal(store.stream("b"), null);
  assert.deepEqual(seen, [1]);
  // It carries on, and the failed batch is not in the database either.
  const c = await store.transact({ events: [ev("d")] });
  assert.equal(c.revision, 2);
  await sub.waitFor(2);
  assert.deepEqual(seen, [1, 2]);
  await store.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read().map((e) => e.stream), ["a", "d"]);
  await again.close();
});

/** Runs `f(objectStore)` in a readwrite transaction on `name`, without hindcast. */
async function rawWrite(name, f, version) {
  const db = await new Promise((resolve, reject) => {
    const r = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    r.onupgradeneeded = () => r.result.createObjectStore("events", { keyPath: "revision" });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  await new Promise((resolve, reject) => {
    const tx = db.transaction("events", "readwrite");
    f(tx.objectStore("events"));
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

/** Every stored record of `name`, without hindcast. */
async function rawRecords(name) {
  const db = await rawOpen(name);
  const records = await new Promise((resolve, reject) => {
    const r = db.transaction("events").objectStore("events").getAll();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  db.close();
  return records;
}

const openError = (name) => EventStore.open(name).then((s) => (s.close(), null), (e) => e);

test("a record that does not decode makes open reject as corrupt, naming the revision", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await store.transact({ events: [ev("a"), ev("a")] });
  await store.transact({ events: [ev("b")] });
  await store.close();
  const [first, second] = await rawRecords(name);
  assert.deepEqual([first.revision, first.last, second.revision, second.last], [1, 2, 3, 3]);
  const cases = [
    // [what the second record becomes, the revision named, the reason's words]
    [{ ...second, events: "[{not json" }, 3, /not JSON/],
    [{ ...second, events: second.events.replace('"stream":"b"', '"stream":42') }, 3, /invalid type/],
    [{ ...second, events: second.events.replace('"version":0', '"version":5') }, 3, /version 5 where 0 follows/],
    [{ ...second, last: 4 }, 3, /do not fill revisions 3 to 4/],
    [{ ...second, events: second.events.replace('"data":{}', '"nodata":{}') }, 3, /data: missing/],
    [{ ...second, events: second.events.replace('"data":{}', '"data":{},"schemaVersion":1.5') }, 3, /schemaVersion/],
    [{ ...second, events: second.events.replace('"revision":3', '"revision":7') }, 3, /not an event record/],
  ];
  for (const [bad, revision, why] of cases) {
    await rawWrite(name, (os) => os.put(bad));
    const err = await openError(name);
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.reason, "corrupt");
    assert.equal(err.revision, revision, err.message);
    assert.match(err.message, new RegExp(`revision ${revision}\\b`));
    assert.match(err.message, why);
  }
  // A record keyed where none should start: the gap is named.
  await rawWrite(name, (os) => {
    os.put(second);
    os.delete(3);
    os.put({ ...second, revision: 4, last: 4, events: second.events.replace('"revision":3', '"revision":4') });
  });
  const gap = await openError(name);
  assert.equal(gap.reason, "corrupt");
  assert.equal(gap.revision, 3);
});

test("a group writes whole batches, a record per thousand events or so, and loads them back", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const singles = Array.from({ length: 1500 }, (_, i) => store.transact({ events: [ev(`s-${i % 7}`, "t", { i })] }));
  const big = store.transact({ events: Array.from({ length: 1200 }, (_, i) => ev("big", "t", { i })) });
  await Promise.all([...singles, big]);
  const records = await rawRecords(name);
  assert.deepEqual(
    records.map((r) => [r.revision, r.last]),
    [[1, 1000], [1001, 1500], [1501, 2700]],
  );
  const before = store.read();
  await store.close();
  const reports = [];
  const again = await EventStore.open(name, { onProgress: (p) => reports.push(p) });
  assert.deepEqual(again.read(), before);
  assert.ok(Object.isFrozen(again.read()[5].data));
  assert.deepEqual(reports.at(-1), { loaded: 2700, total: 2700 });
  for (const r of reports) assert.equal(r.total, 2700);
  for (let i = 1; i < reports.length; i++) assert.ok(reports[i].loaded >= reports[i - 1].loaded);
  assert.deepEqual(again.stream("big"), { version: 1199, revision: 2700 });
  await again.close();
});

test("a record that is not a run of batches (one event per record) is corrupt, naming its revision", async () => {
  const name = dbName();
  const event = { revision: 1, stream: "old", version: 0, id: crypto.randomUUID(), type: "t", data: null, batchId: crypto.randomUUID(), recordedAt: 1 };
  await rawWrite(name, (os) => os.put(event), 1);
  const err = await openError(name);
  assert.ok(err instanceof StorageError, String(err));
  assert.equal(err.reason, "corrupt");
  assert.equal(err.revision, 1);
  assert.match(err.message, /not a record of a run of batches/);
});

test("a closed store rejects writes with StorageError closed; reads still work", async () => {
  const store = await EventStore.open(dbName());
  await store.transact({ events: [ev("a")] });
  await store.close();
  const err = await store.transact({ events: [ev("b")] }).then(() => null, (e) => e);
  assert.ok(err instanceof StorageError);
  assert.equal(err.reason, "closed");
  assert.equal(store.read().length, 1);
});

test("delete removes the database and closes stores open on it", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await store.transact({ events: [ev("a")] });
  await EventStore.delete(name);
  const err = await store.transact({ events: [ev("b")] }).then(() => null, (e) => e);
  assert.equal(err?.reason, "closed");
  const fresh = await EventStore.open(name);
  assert.equal(fresh.revision, 0);
  await fresh.close();
});

test("an older connection that closes on versionchange lets open upgrade; one that does not is given up on", async () => {
  const name = dbName();
  await rawWrite(name, () => {}, 1);
  const old = await rawOpen(name);
  let asked = 0;
  old.onversionchange = () => {
    asked++;
    old.close();
  };
  const store = await EventStore.open(name);
  assert.equal(asked, 1);
  await store.close();

  // A version 1 database held by a connection that ignores versionchange.
  const other = dbName();
  await rawWrite(other, () => {}, 1);
  const stubborn = await rawOpen(other);
  stubborn.onversionchange = () => {};
  const err = await openError(other);
  assert.ok(err instanceof StorageError, String(err));
  assert.equal(err.reason, "aborted");
  assert.match(err.message, /did not close/);
  // Once it closes, the abandoned open upgrades and closes again: nothing
  // is left holding the database (a delete would be blocked otherwise).
  stubborn.close();
  const fresh = await EventStore.open(other);
  assert.equal(fresh.revision, 0);
  await fresh.close();
  await EventStore.delete(other);
});

test("a delete blocked by a connection that does not close is given up on", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await store.close();
  const stubborn = await rawOpen(name);
  stubborn.onversionchange = () => {};
  const err = await EventStore.delete(name).then(() => null, (e) => e);
  assert.ok(err instanceof StorageError, String(err));
  assert.equal(err.reason, "aborted");
  assert.match(err.message, /did not close/);
  stubborn.close();
});

test("bad arguments to open reject with InvalidInputError naming them", async () => {
  await assert.rejects(EventStore.open(""), (e) => e.path === "name");
  await assert.rejects(EventStore.open("x", { onProgres: () => {} }), (e) => e.path === "options.onProgres");
  await assert.rejects(EventStore.open("x", { onProgress: 1 }), (e) => e.path === "options.onProgress");
});
