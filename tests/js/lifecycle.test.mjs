// SPEC §4 store.waitFor, §6 store.closed and "Retrying a decision", in
// memory and on IndexedDB (fake-indexeddb).
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, ConstraintViolationError, InvalidInputError, StorageError } from "hindcast";

let n = 0;
const dbName = () => `hindcast-life-${process.pid}-${n++}`;
const ev = (stream, type = "t", data = {}) => ({ stream, type, data });
const within = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r("timed out"), ms))]);

test("store.waitFor resolves once the head reaches the revision, at once if it has", async () => {
  const store = await EventStore.memory();
  assert.equal(await store.waitFor(0), undefined);
  const order = [];
  const two = store.waitFor(2).then(() => order.push(`2 at ${store.revision}`));
  const one = store.waitFor(1).then(() => order.push(`1 at ${store.revision}`));
  await store.transact({ events: [ev("a")] });
  await one;
  assert.deepEqual(order, ["1 at 1"]);
  await store.transact({ events: [ev("a")] });
  await two;
  assert.deepEqual(order, ["1 at 1", "2 at 2"]);
});

test("store.waitFor rejects bad revisions with InvalidInputError at revision", async () => {
  const store = await EventStore.memory();
  for (const bad of [-1, 1.5, "1", null, undefined, NaN, 2 ** 53]) {
    const err = await store.waitFor(bad).then(() => null, (e) => e);
    assert.ok(err instanceof InvalidInputError, `${bad}: ${err}`);
    assert.equal(err.path, "revision");
  }
});

test("store.waitFor rejects with StorageError closed when the store closes first", async () => {
  const store = await EventStore.memory();
  const pending = store.waitFor(5);
  await store.close();
  const err = await pending.then(() => null, (e) => e);
  assert.ok(err instanceof StorageError);
  assert.equal(err.reason, "closed");
  const later = await store.waitFor(1).then(() => null, (e) => e);
  assert.equal(later.reason, "closed");
  assert.equal(await store.waitFor(0), undefined); // already reached
});

test("after another instance commits r, waitFor(r) then reads include it (no notice needed)", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  const commit = await a.transact({ events: [ev("x", "t", { v: 1 }), ev("y")] });
  await b.waitFor(commit.revision);
  assert.deepEqual(b.read().map((e) => [e.revision, e.stream]), [
    [1, "x"],
    [2, "y"],
  ]);
  await a.close();
  await b.close();
});

test("closed resolves with 'closed' on close(); writes reject, reads answer, subscriptions and projections end", async () => {
  for (const make of [() => EventStore.memory(), () => EventStore.open(dbName())]) {
    const store = await make();
    await store.transact({ events: [ev("a", "opened")] });
    const sub = store.subscribe(() => {});
    const proj = store.project({ initial: 0, on: { opened: (s) => s + 1 } });
    await proj.waitFor(1);
    await store.close();
    assert.equal(await store.closed, "closed");
    assert.equal(await within(sub.done, 5000), undefined);
    assert.equal(await within(proj.done, 5000), undefined);
    const err = await store.transact({ events: [ev("b")] }).then(() => null, (e) => e);
    assert.ok(err instanceof StorageError);
    assert.equal(err.reason, "closed");
    assert.deepEqual(store.read().map((e) => e.stream), ["a"]);
    assert.equal(proj.state, 1);
    assert.equal(proj.position, 1);
  }
});

test("closed resolves with 'deleted' in every instance when the database is deleted, before any write", async () => {
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  await a.transact({ events: [ev("a")] });
  await EventStore.delete(name);
  assert.equal(await within(a.closed, 5000), "deleted");
  assert.equal(await within(b.closed, 5000), "deleted");
  const err = await b.transact({ events: [ev("b")] }).then(() => null, (e) => e);
  assert.equal(err.reason, "closed");
});

test("closed resolves with 'upgraded' when a newer version opens the database", async () => {
  const name = dbName();
  const store = await EventStore.open(name);
  const newer = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 99);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  assert.equal(await within(store.closed, 5000), "upgraded");
  newer.close();
});

test("retry calls again on a constraint violation, with the attempt number, and returns the result", async () => {
  const store = await EventStore.memory();
  await store.transact({ events: [ev("acc", "opened")] });
  const attempts = [];
  const commit = await store.retry(
    async (attempt) => {
      attempts.push(attempt);
      // The first two decisions are made on a stale view.
      const seen = attempt < 3 ? 0 : store.revision;
      return store.transact({ events: [ev("acc", "withdrawn")], constraints: [{ maxRevision: seen, selector: { stream: "acc" } }] });
    },
    { delay: 1, maxDelay: 2 },
  );
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(commit.revision, 2);
});

test("retry rejects at once on any other error, and with the last violation after the last attempt", async () => {
  const store = await EventStore.memory();
  let calls = 0;
  const boom = new Error("boom");
  assert.equal(await store.retry(() => { calls++; throw boom; }).then(() => null, (e) => e), boom);
  assert.equal(calls, 1);
  calls = 0;
  const err = await store
    .retry(() => { calls++; return store.transact({ events: [ev("a")], constraints: [{ minRevision: 10 + calls }] }); }, { attempts: 3, delay: 0 })
    .then(() => null, (e) => e);
  assert.ok(err instanceof ConstraintViolationError);
  assert.equal(calls, 3);
  assert.deepEqual(err.violations[0].constraint, { minRevision: 13 });
  assert.equal(store.revision, 0);
});

test("retry checks its arguments, naming the bad one", async () => {
  const store = await EventStore.memory();
  const cases = [
    [[undefined], "fn"],
    [[() => 1, { attempts: 0 }], "options.attempts"],
    [[() => 1, { delay: -1 }], "options.delay"],
    [[() => 1, { maxDelay: Infinity }], "options.maxDelay"],
    [[() => 1, { tries: 3 }], "options.tries"],
    [[() => 1, 5], "options"],
  ];
  for (const [args, path] of cases) {
    const err = await store.retry(...args).then(() => null, (e) => e);
    assert.ok(err instanceof InvalidInputError, String(err));
    assert.equal(err.path, path);
  }
});
