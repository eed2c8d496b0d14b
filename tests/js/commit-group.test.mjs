// A persistent store's commit group under hostile input (fake-indexeddb):
// null in optional fields, requests changed after the call, batches whose
// text cannot be made, records bounded in size, notices owed at close.
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, InvalidInputError } from "hindcast";

let n = 0;
const dbName = () => `hindcast-group-${process.pid}-${n++}`;

/** Every record stored in `name`, read without hindcast. */
async function rawRecords(name) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const r = db.transaction("events").objectStore("events").getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  } finally {
    db.close();
  }
}

/** Resolves with `p`'s value, or with "timed out" after `ms` (a deadline, not a wait). */
const within = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r("timed out"), ms))]);

test("null in an optional field is the field left out: stored, loaded by another instance and on reopen", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  const commit = await a.transact({
    id: null,
    correlationId: null,
    expect: null,
    constraints: null,
    events: [{ stream: "s", type: "t", data: null, subject: null, time: null, tags: null, id: null, metadata: null }],
  });
  const [e] = a.read();
  assert.deepEqual(Object.keys(e), ["revision", "stream", "version", "id", "type", "data", "batchId", "recordedAt"]);
  assert.equal(e.batchId, commit.batchId);
  // The other instance's next write reads it, and a reopen loads it.
  const next = await b.transact({ events: [{ stream: "s", type: "t" }], expect: { s: { revision: 1 } } });
  assert.equal(next.revision, 2);
  await a.close();
  await b.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read()[0], e);
  await again.close();
});

test("a request is read at the call: changing or reusing it afterwards changes nothing", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const request = { correlationId: "first", events: [{ stream: "s", type: "t", data: { n: 1 } }] };
  const one = store.transact(request);
  request.correlationId = "second";
  const two = store.transact(request);
  request.correlationId = 42; // not a string: had it been read late, the database would not load
  request.events[0].data.n = 99;
  await Promise.all([one, two]);
  assert.deepEqual(
    store.read().map((e) => [e.correlationId, e.data.n]),
    [
      ["first", 1],
      ["second", 1],
    ],
  );
  await store.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read().map((e) => e.correlationId), ["first", "second"]);
  await again.close();
});

test("a batch whose text cannot be made fails alone; the rest of its group commits", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const { stringify } = JSON;
  // Stands in for a text past the runtime's string limit (hundreds of MiB).
  JSON.stringify = function (v, ...rest) {
    if (Array.isArray(v) && v.some((e) => e?.data?.huge === true)) throw new RangeError("Invalid string length");
    return stringify.call(this, v, ...rest);
  };
  let results;
  try {
    results = await Promise.allSettled([
      store.transact({ events: [{ stream: "a", type: "t" }] }),
      store.transact({ events: [{ stream: "b", type: "t", data: { huge: true } }] }),
      store.transact({ events: [{ stream: "c", type: "t" }], expect: { b: "no_stream" } }),
    ]);
  } finally {
    JSON.stringify = stringify;
  }
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  const err = results[1].reason;
  assert.ok(err instanceof InvalidInputError, String(err));
  assert.equal(err.path, "events");
  assert.match(err.message, /too large to store \(Invalid string length\); split it/);
  assert.deepEqual(results.map((r) => r.value?.revision), [1, undefined, 2]);
  assert.deepEqual(store.read().map((e) => e.stream), ["a", "c"]);
  await store.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read().map((e) => e.stream), ["a", "c"]);
  await again.close();
});

test("data nested too deep for storage is refused at the call; an unrelated transact of the group commits", async () => {
  const store = await EventStore.open(dbName());
  let deep = {};
  for (let i = 0; i < 3000; i++) deep = { d: deep };
  const results = await Promise.allSettled([
    store.transact({ events: [{ stream: "a", type: "t", data: deep }] }),
    store.transact({ events: [{ stream: "b", type: "t" }] }),
  ]);
  assert.equal(results[0].status, "rejected");
  assert.ok(results[0].reason instanceof InvalidInputError);
  assert.equal(results[0].reason.path, "events[0].data" + ".d".repeat(1000));
  assert.match(results[0].reason.message, /nested more than 1000 levels deep/);
  assert.equal(results[1].value.revision, 1);
  await store.close();
});

test("records are bounded in characters as well as events; a batch is never split", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const big = "x".repeat(1_500_000);
  // Six concurrent transacts make one group: at most two such batches fit a record.
  const commits = await Promise.all(
    Array.from({ length: 6 }, (_, i) => store.transact({ events: [{ stream: `s${i}`, type: "t", data: big }] })),
  );
  assert.deepEqual(commits.map((c) => c.revision), [1, 2, 3, 4, 5, 6]);
  const records = await rawRecords(name);
  assert.deepEqual(records.map((r) => [r.revision, r.last]), [
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  for (const r of records) assert.ok(r.events.length <= 1 << 22, `${r.events.length} characters`);
  await store.close();
  const again = await EventStore.open(name);
  assert.equal(again.read()[5].data.length, 1_500_000);
  await again.close();
});

test("a write followed at once by close still reaches the other instances", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  const seen = [];
  // A subscription (unlike store.waitFor) does not read by itself: only the notice moves it.
  const sub = b.subscribe((e) => {
    seen.push(e.revision);
  });
  // A first write, so the next notice is throttled rather than sent at once.
  await a.transact({ events: [{ stream: "s", type: "t" }] });
  await within(sub.waitFor(1), 5000);
  await a.transact({ events: [{ stream: "s", type: "t" }] });
  await a.close();
  assert.equal(await within(sub.waitFor(2), 5000), undefined);
  assert.deepEqual(seen, [1, 2]);
  await b.close();
});
