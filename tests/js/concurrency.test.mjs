// SPEC §3 "Evaluation": every check runs against the store as it stands just
// before the batch, so concurrent writers racing on one expectation or
// constraint see exactly one winner.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConstraintViolationError } from "hindcast";
import { newStore, storeWith, event, uuid, revs, assertViolations } from "./helpers.mjs";

/** Starts n transacts without awaiting, then settles them all. */
async function race(store, n, makeRequest) {
  const promises = [];
  for (let i = 0; i < n; i++) promises.push(store.transact(makeRequest(i)));
  for (const p of promises) assert.ok(p instanceof Promise);
  return Promise.allSettled(promises);
}

function split(results) {
  return {
    fulfilled: results.filter((r) => r.status === "fulfilled").map((r) => r.value),
    rejected: results.filter((r) => r.status === "rejected").map((r) => r.reason),
  };
}

test('10 concurrent writers expecting "no_stream": exactly one wins', async () => {
  const store = await storeWith(["other"]);
  const results = await race(store, 10, (i) => ({
    events: [event("acc-1", "account_opened", { by: i })],
    expect: { "acc-1": "no_stream" },
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 1);
  assert.equal(rejected.length, 9);
  assert.deepEqual(fulfilled[0].streams, { "acc-1": { version: 0, revision: 2 } });
  for (const err of rejected) {
    assertViolations(err, [
      { kind: "version_mismatch", stream: "acc-1", expected: "no_stream", actual: { version: 0, revision: 2 } },
    ]);
  }
  assert.equal(store.revision, 2);
  assert.equal(store.readStream("acc-1").length, 1);
});

test("10 concurrent writers expecting the same { revision }: exactly one wins", async () => {
  const store = await storeWith(["acc-1", "other", "acc-1"]); // acc-1 last at r3
  const results = await race(store, 10, (i) => ({
    events: [event("acc-1", "money_withdrawn", { by: i }), event("ledger", "entry", { by: i })],
    expect: { "acc-1": { revision: 3 } },
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 1);
  assert.equal(rejected.length, 9);
  const winner = fulfilled[0];
  assert.deepEqual(winner.streams, { "acc-1": { version: 2, revision: 4 }, ledger: { version: 0, revision: 5 } });
  for (const err of rejected) {
    assertViolations(err, [
      { kind: "version_mismatch", stream: "acc-1", expected: { revision: 3 }, actual: { version: 2, revision: 4 } },
    ]);
  }
  assert.equal(store.revision, 5);
  assert.deepEqual(revs(store.read()), [1, 2, 3, 4, 5]);
});

test("10 concurrent writers expecting the same { version }: exactly one wins", async () => {
  const store = await storeWith(["acc-1"]);
  const results = await race(store, 10, () => ({
    events: [event("acc-1", "x")],
    expect: { "acc-1": { version: 0 } },
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 1);
  assert.equal(rejected.length, 9);
  for (const err of rejected) assert.ok(err instanceof ConstraintViolationError);
  assert.deepEqual(store.stream("acc-1"), { version: 1, revision: 2 });
});

test("10 concurrent writers with { maxRevision: position, selector }: exactly one wins", async () => {
  const store = await storeWith(["acc-1", "acc-2"]);
  const position = store.revision;
  const selector = { stream: "acc-1" };
  const results = await race(store, 10, () => ({
    events: [event("acc-1", "money_withdrawn")],
    constraints: [{ maxRevision: position, selector }],
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 1);
  assert.equal(rejected.length, 9);
  for (const err of rejected) {
    assertViolations(err, [
      { kind: "max_revision_exceeded", constraint: { maxRevision: 2, selector }, max: 2, found: 3 },
    ]);
  }
});

test("10 concurrent create-once writers (failIfEventsMatch): exactly one wins", async () => {
  const store = await newStore();
  const query = [{ types: ["user_registered"], tags: ["email:ann@example.com"] }];
  const results = await race(store, 10, (i) => ({
    events: [event(`user-${i}`, "user_registered", { i }, { tags: ["email:ann@example.com"] })],
    constraints: [{ failIfEventsMatch: query }],
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 1);
  assert.equal(rejected.length, 9);
  for (const err of rejected) {
    assertViolations(err, [{ kind: "max_revision_exceeded", constraint: { failIfEventsMatch: query }, max: 0, found: 1 }]);
  }
  assert.equal(store.revision, 1);
});

test("10 concurrent writers without conditions all commit, in gap-free revisions", async () => {
  const store = await newStore();
  const results = await race(store, 10, (i) => ({ events: [event("s", "t", { i }), event(`own-${i}`, "t", { i })] }));
  const { fulfilled, rejected } = split(results);
  assert.equal(rejected.length, 0);
  const ranges = fulfilled.map((c) => [c.firstRevision, c.revision]).sort((x, y) => x[0] - y[0]);
  assert.deepEqual(ranges, Array.from({ length: 10 }, (_, i) => [2 * i + 1, 2 * i + 2]));
  assert.equal(store.revision, 20);
  assert.deepEqual(store.readStream("s").map((e) => e.version), Array.from({ length: 10 }, (_, i) => i));
  for (const c of fulfilled) {
    const [e0, e1] = store.read(undefined, { from: c.firstRevision, to: c.revision });
    assert.equal(e0.batchId, c.batchId);
    assert.equal(e1.batchId, c.batchId);
    assert.equal(e0.data.i, e1.data.i);
  }
});

test("10 concurrent sends of one batch id: one commit, nine replays of it", async () => {
  const store = await newStore();
  const id = uuid();
  const results = await race(store, 10, () => ({ id, events: [event("s", "t", { a: 1 })], expect: { s: "no_stream" } }));
  const { fulfilled, rejected } = split(results);
  assert.equal(rejected.length, 0);
  assert.equal(fulfilled.filter((c) => !c.replayed).length, 1);
  assert.equal(fulfilled.filter((c) => c.replayed).length, 9);
  const first = fulfilled.find((c) => !c.replayed);
  for (const c of fulfilled) assert.deepEqual({ ...c, replayed: false }, first);
  assert.equal(store.revision, 1);
});

test("concurrent winners and losers leave no gaps and no trace of the losers", async () => {
  const store = await newStore();
  const results = await race(store, 20, (i) => ({
    events: [event(`k${i % 5}`, "t", { i })],
    expect: { [`k${i % 5}`]: "no_stream" },
  }));
  const { fulfilled, rejected } = split(results);
  assert.equal(fulfilled.length, 5);
  assert.equal(rejected.length, 15);
  assert.deepEqual(revs(store.read()), [1, 2, 3, 4, 5]);
  const winners = new Set(fulfilled.map((c) => c.revision));
  assert.deepEqual([...winners].sort(), [1, 2, 3, 4, 5]);
  for (let k = 0; k < 5; k++) assert.equal(store.readStream(`k${k}`).length, 1);
});
