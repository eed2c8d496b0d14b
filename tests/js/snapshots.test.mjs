// SPEC §5 "Snapshots" in Node, with fake-indexeddb standing in for the
// browser's IndexedDB: a projection with `snapshot` keeps its state every
// `every` events and on close, and a later one with the same key starts
// from it (folding only what follows); a changed key or schema version is
// ignored; a state that cannot be stored keeps the previous snapshot; two
// instances on one key; bad input; a memory store ignores it; and a
// database written before snapshots existed (version 3) opens, upgraded in
// place with nothing lost.
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, InvalidInputError } from "hindcast";

let n = 0;
const dbName = () => `hindcast-snapshots-${process.pid}-${n++}`;

/** A balance projection that counts its folds in `counter.folds`. */
const balances = (counter, snapshot, extra = {}) => ({
  initial: {},
  on: {
    deposited: (s, e) => {
      counter.folds++;
      return { ...s, [e.stream]: (s[e.stream] ?? 0) + e.data.amount };
    },
  },
  snapshot,
  ...extra,
});

/** Writes `count` deposits of 1..count over three accounts, one batch each. */
async function deposits(store, count, from = 1) {
  for (let i = from; i < from + count; i++) {
    await store.transact({ events: [{ stream: `acc-${i % 3}`, type: "deposited", data: { amount: i } }] });
  }
}

/** The snapshots kept in `name`, without hindcast. */
async function rawSnapshots(name) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const all = await new Promise((resolve, reject) => {
    const r = db.transaction("snapshots").objectStore("snapshots").getAll();
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  db.close();
  return all;
}

const full = { "acc-1": 1 + 4 + 7 + 10, "acc-2": 2 + 5 + 8, "acc-0": 3 + 6 + 9 };

test("a projection keeps its state every `every` events and on close; the next one starts there", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await deposits(store, 10);
  const counter = { folds: 0 };
  const p = store.project(balances(counter, { key: "balances-1", every: 4 }));
  await p.ready;
  assert.deepEqual(p.state, full);
  assert.equal(counter.folds, 10);
  await store.close(); // keeps the last state
  const kept = await rawSnapshots(name);
  assert.equal(kept.length, 1);
  assert.deepEqual(
    { key: kept[0].key, position: kept[0].position, types: kept[0].types, state: kept[0].state },
    { key: "balances-1", position: 10, types: { deposited: 1 }, state: full },
  );

  const again = await EventStore.open(name);
  await deposits(again, 2, 11);
  const counter2 = { folds: 0 };
  const changes = [];
  const q = again.project(balances(counter2, { key: "balances-1", every: 4 }));
  q.onChange((state, position) => changes.push(position));
  assert.equal(q.position, 0); // the snapshot is being read
  await q.ready;
  assert.deepEqual(q.state, { ...full, "acc-2": full["acc-2"] + 11, "acc-0": full["acc-0"] + 12 });
  assert.equal(q.position, 12);
  assert.equal(counter2.folds, 2); // only what follows the snapshot
  assert.deepEqual(changes, [10, 12]);
  q.close(); // keeps it again
  await again.close();
  assert.equal((await rawSnapshots(name))[0].position, 12);
});

test("every: a snapshot is kept once that many events were folded since the last", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const p = store.project(balances({ folds: 0 }, { key: "k", every: 3 }));
  await p.ready;
  await deposits(store, 2);
  await p.waitFor(2);
  assert.deepEqual(await rawSnapshots(name), []);
  await deposits(store, 1, 3);
  await p.waitFor(3);
  // The put is under way once the fold of the third is reported; reading waits for it.
  const kept = await rawSnapshots(name);
  assert.deepEqual(kept.map((s) => s.position), [3]);
  await store.close();
});

test("a changed key, or a changed schema version of a folded type, is not used (and is replaced)", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await deposits(store, 10);
  const p = store.project(balances({ folds: 0 }, { key: "v1" }));
  await p.ready;
  await store.close();

  const other = await EventStore.open(name);
  const c1 = { folds: 0 };
  const q = other.project(balances(c1, { key: "v2" }));
  await q.ready;
  assert.equal(c1.folds, 10);
  assert.deepEqual(q.state, full);
  await other.close();

  // "deposited" is now at schema version 2: the snapshot of version 1 folds is ignored.
  const upcast = { deposited: { version: 2, upcast: { 1: (d) => ({ ...d, currency: "EUR" }) } } };
  const v2 = await EventStore.open(name, { schemas: upcast });
  const c2 = { folds: 0 };
  const r = v2.project(balances(c2, { key: "v1" }));
  await r.ready;
  assert.equal(c2.folds, 10);
  assert.deepEqual(r.state, full);
  await v2.close();
  const kept = Object.fromEntries((await rawSnapshots(name)).map((s) => [s.key, s.types]));
  assert.deepEqual(kept, { v1: { deposited: 2 }, v2: { deposited: 1 } });
});

test("a state that cannot be stored keeps the previous snapshot, and the projection goes on", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  await deposits(store, 3);
  let poison = false;
  const spec = {
    initial: { total: 0 },
    on: { deposited: (s, e) => ({ total: s.total + e.data.amount, ...(poison ? { f: () => 1 } : {}) }) },
    snapshot: { key: "total", every: 1 },
  };
  const p = store.project(spec);
  await p.ready;
  assert.deepEqual((await rawSnapshots(name)).map((s) => [s.position, s.state]), [[3, { total: 6 }]]);
  poison = true;
  const errors = [];
  const original = console.error;
  console.error = (...args) => errors.push(args.map(String).join(" "));
  try {
    await deposits(store, 1, 4);
    await p.waitFor(4);
    assert.equal(p.state.total, 10);
    // The failed put (a function cannot be cloned) wrote nothing.
    assert.deepEqual((await rawSnapshots(name)).map((s) => [s.position, s.state]), [[3, { total: 6 }]]);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /the snapshot "total" was not kept/);
  } finally {
    console.error = original;
  }
  poison = false;
  await deposits(store, 1, 5);
  await p.waitFor(5);
  assert.deepEqual((await rawSnapshots(name)).map((s) => [s.position, s.state]), [[5, { total: 15 }]]);
  await store.close();
});

test("two instances on one name and one key both keep it; the next projection's state is exact", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  await deposits(a, 6);
  await b.waitFor(6);
  const pa = a.project(balances({ folds: 0 }, { key: "shared", every: 2 }));
  const pb = b.project(balances({ folds: 0 }, { key: "shared", every: 2 }));
  await Promise.all([pa.ready, pb.ready]);
  await deposits(b, 4, 7);
  await a.waitFor(10);
  await Promise.all([pa.waitFor(10), pb.waitFor(10)]);
  await a.close();
  await b.close();
  const c = await EventStore.open(name);
  const counter = { folds: 0 };
  const pc = c.project(balances(counter, { key: "shared" }));
  await pc.ready;
  assert.deepEqual(pc.state, full);
  assert.equal(counter.folds, 0);
  await c.close();
});

test("bad input: the snapshot's key and every, an initial state that cannot be cloned, unknown keys", async () => {
  const store = await EventStore.open(dbName());
  const on = { deposited: (s) => s };
  const cases = [
    [{ initial: 0, on, snapshot: { key: "" } }, "snapshot.key"],
    [{ initial: 0, on, snapshot: { every: 5 } }, "snapshot.key"],
    [{ initial: 0, on, snapshot: { key: "k", every: 0 } }, "snapshot.every"],
    [{ initial: 0, on, snapshot: { key: "k", every: -3 } }, "snapshot.every"],
    [{ initial: 0, on, snapshot: { key: "k", every: 1.5 } }, "snapshot.every"],
    [{ initial: 0, on, snapshot: { key: "k", evrey: 5 } }, "snapshot.evrey"],
    [{ initial: 0, on, snapshot: "k" }, "snapshot"],
    [{ initial: { f: () => 1 }, on, snapshot: { key: "k" } }, "initial"],
  ];
  for (const [spec, path] of cases) {
    assert.throws(() => store.project(spec), (e) => e instanceof InvalidInputError && e.path === path, path);
  }
  await store.close();
});

test("a memory store accepts snapshot and ignores it", async () => {
  const store = await EventStore.memory();
  await deposits(store, 10);
  const counter = { folds: 0 };
  const p = store.project(balances(counter, { key: "k", every: 1 }));
  await p.ready;
  assert.deepEqual(p.state, full);
  assert.equal(counter.folds, 10);
  assert.throws(() => store.project(balances(counter, { key: "" })), (e) => e instanceof InvalidInputError && e.path === "snapshot.key");
});

test("a database written before snapshots existed (version 3) opens upgraded in place, nothing lost", async () => {
  const name = dbName();
  // Version 3's object stores and a record as that version wrote it.
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 3);
    r.onupgradeneeded = () => {
      r.result.createObjectStore("events", { keyPath: "revision" });
      r.result.createObjectStore("pending", { keyPath: "seq" });
      r.result.createObjectStore("rejected", { keyPath: "batchId" });
      r.result.createObjectStore("sync", { keyPath: "key" });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const events = [
    { revision: 1, stream: "acc-1", version: 0, id: "0a2d1c52-52f8-4d59-9a4b-0bbd5c8c5a01", type: "deposited", data: { amount: 5 }, batchId: "7e0f8e0c-7d24-4d83-9d0f-1b6f2a9a1c11", recordedAt: 1764000000000 },
    { revision: 2, stream: "acc-2", version: 0, id: "0a2d1c52-52f8-4d59-9a4b-0bbd5c8c5a02", type: "deposited", data: { amount: 7 }, batchId: "7e0f8e0c-7d24-4d83-9d0f-1b6f2a9a1c11", recordedAt: 1764000000000 },
  ];
  await new Promise((resolve, reject) => {
    const tx = db.transaction("events", "readwrite");
    tx.objectStore("events").put({ revision: 1, last: 2, events: JSON.stringify(events) });
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
  db.close();
  const store = await EventStore.open(name);
  assert.deepEqual(store.read(), events);
  const p = store.project(balances({ folds: 0 }, { key: "b" }));
  await p.ready;
  assert.deepEqual(p.state, { "acc-1": 5, "acc-2": 7 });
  await store.close();
  assert.deepEqual((await rawSnapshots(name)).map((s) => s.position), [2]);
  const reopened = await EventStore.open(name);
  assert.deepEqual(reopened.read(), events);
  await reopened.close();
});
