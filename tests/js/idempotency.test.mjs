// SPEC §3, idempotency: batch-id replay and duplicate event ids.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  newStore, storeWith, event, uuid, commitOf, rejectsInvalid, rejectsWithViolations, snapshot, assertUnchanged,
} from "./helpers.mjs";

function request(id, extra = {}) {
  return {
    id,
    correlationId: "corr-1",
    events: [
      event("acc-1", "money_withdrawn", { amount: 30, note: { a: 1, b: [1, 2] } }, {
        subject: "acc-1",
        tags: ["account:acc-1"],
        time: "2026-11-23T10:00:00Z",
        metadata: { user: "ann" },
      }),
      event("acc-2", "money_deposited", { amount: 30 }),
    ],
    ...extra,
  };
}

test("a replayed batch id returns the first commit with replayed: true and writes nothing", async () => {
  const store = await storeWith(["acc-1"]);
  const id = uuid();
  const first = await store.transact(request(id));
  assert.deepEqual(first, commitOf({
    batchId: id,
    firstRevision: 2,
    revision: 3,
    streams: { "acc-1": { version: 1, revision: 2 }, "acc-2": { version: 0, revision: 3 } },
    replayed: false,
  }));
  const before = snapshot(store);
  const again = await store.transact(request(id));
  assert.deepEqual(again, { ...first, replayed: true });
  assertUnchanged(store, before);
});

test("a replay is recognised after later batches, and returns the original commit", async () => {
  const store = await newStore();
  const id = uuid();
  const first = await store.transact(request(id));
  await store.transact({ events: [event("acc-1", "x"), event("acc-3", "y")] });
  const before = snapshot(store);
  const again = await store.transact(request(id));
  assert.deepEqual(again, { ...first, replayed: true });
  assertUnchanged(store, before);
});

test("a replay returns the first commit whatever the expectations say now", async () => {
  const store = await newStore();
  const id = uuid();
  const first = await store.transact(request(id, { expect: { "acc-1": "no_stream" } }));
  const again = await store.transact(request(id, { expect: { "acc-1": "no_stream" } }));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(store.revision, 2);
});

test("a replay returns the first commit whatever the constraints say now", async () => {
  const store = await newStore();
  const id = uuid();
  const first = await store.transact(request(id, { constraints: [{ maxRevision: 0 }] }));
  const again = await store.transact(request(id, { constraints: [{ maxRevision: 0 }] }));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(store.revision, 2);
});

test("a replay does not compare expectations and constraints with the first request", async () => {
  const store = await newStore();
  const id = uuid();
  const first = await store.transact(request(id));
  const again = await store.transact(request(id, {
    expect: { "acc-1": { version: 7 }, other: "stream_exists" },
    constraints: [{ minRevision: 100 }, { failIfEventsMatch: {} }],
  }));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(store.revision, 2);
});

test("a replay may omit the event ids the first request gave", async () => {
  const store = await newStore();
  const id = uuid();
  const ids = [uuid(), uuid()];
  const withIds = request(id);
  withIds.events.forEach((e, i) => { e.id = ids[i]; });
  const first = await store.transact(withIds);
  const again = await store.transact(request(id));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.deepEqual(store.read().map((e) => e.id), ids);
});

test("a replay may repeat the event ids, in any case", async () => {
  const store = await newStore();
  const id = uuid();
  const ids = [uuid(), uuid()];
  const withIds = () => {
    const r = request(id);
    r.events.forEach((e, i) => { e.id = ids[i]; });
    return r;
  };
  const first = await store.transact(withIds());
  const again = await store.transact(withIds());
  assert.deepEqual(again, { ...first, replayed: true });
  const upper = withIds();
  upper.id = id.toUpperCase();
  upper.events.forEach((e) => { e.id = e.id.toUpperCase(); });
  assert.deepEqual(await store.transact(upper), { ...first, replayed: true });
  assert.equal(store.revision, 2);
});

test("a batch id in another case is the same batch id", async () => {
  const store = await newStore();
  const id = uuid();
  const first = await store.transact(request(id));
  const again = await store.transact(request(id.toUpperCase()));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(again.batchId, id);
});

test("a generated batch id can be replayed through commit.batchId", async () => {
  const store = await newStore();
  const first = await store.transact(request(undefined));
  const again = await store.transact(request(first.batchId));
  assert.deepEqual(again, { ...first, replayed: true });
  assert.equal(store.revision, 2);
});

// --- same batch id, different events ----------------------------------------

const changes = {
  "a different stream": (r) => { r.events[1].stream = "acc-3"; },
  "a different type": (r) => { r.events[0].type = "money_deposited"; },
  "different data": (r) => { r.events[0].data.amount = 31; },
  "data with keys in another order": (r) => { r.events[0].data = { note: { a: 1, b: [1, 2] }, amount: 30 }; },
  "a different subject": (r) => { r.events[0].subject = "acc-2"; },
  "a missing subject": (r) => { delete r.events[0].subject; },
  "different tags": (r) => { r.events[0].tags = ["account:acc-2"]; },
  "a different time": (r) => { r.events[0].time = "2026-11-23T10:00:01Z"; },
  "different metadata": (r) => { r.events[0].metadata = { user: "bob" }; },
  "metadata added": (r) => { r.events[1].metadata = { user: "ann" }; },
  "a different correlationId": (r) => { r.correlationId = "corr-2"; },
  "a missing correlationId": (r) => { delete r.correlationId; },
  "an event more": (r) => { r.events.push(event("acc-1", "fee_charged")); },
  "an event less": (r) => { r.events.pop(); },
  "events in another order": (r) => { r.events.reverse(); },
  "different event ids": (r) => { r.events[0].id = uuid(); },
};

for (const [what, change] of Object.entries(changes)) {
  test(`the same batch id with ${what} is an InvalidInputError and writes nothing`, async () => {
    const store = await newStore();
    const id = uuid();
    const first = request(id);
    if (what === "different event ids") first.events[0].id = uuid();
    await store.transact(first);
    const second = request(id);
    change(second);
    await rejectsInvalid(store, second, /.*/);
  });
}

test("a batch id used only by a failed batch is not taken", async () => {
  const store = await storeWith(["acc-1"]);
  const id = uuid();
  await rejectsWithViolations(store, request(id, { expect: { "acc-1": "no_stream" } }), [
    { kind: "version_mismatch", stream: "acc-1", expected: "no_stream", actual: { version: 0, revision: 1 } },
  ]);
  const commit = await store.transact(request(id));
  assert.equal(commit.replayed, false);
  assert.equal(commit.batchId, id);
  assert.equal(commit.firstRevision, 2);
});

test("a batch id used only by invalid input is not taken", async () => {
  const store = await newStore();
  const id = uuid();
  const bad = request(id);
  bad.events[1].type = "";
  await rejectsInvalid(store, bad, "events[1].type");
  const commit = await store.transact(request(id));
  assert.equal(commit.replayed, false);
  assert.equal(commit.revision, 2);
});

// --- duplicate event ids ---------------------------------------------------

test("an event id already stored (from another batch) is a duplicate_event_id violation", async () => {
  const store = await newStore();
  const id = uuid();
  await store.transact({ events: [event("a"), event("b", "t", {}, { id })] }); // id at r2
  await rejectsWithViolations(store, { events: [event("c", "t", {}, { id })] }, [
    { kind: "duplicate_event_id", id, revision: 2 },
  ]);
});

test("an event id already stored is a duplicate whatever its case", async () => {
  const store = await newStore();
  const id = uuid();
  await store.transact({ events: [event("a", "t", {}, { id })] });
  await rejectsWithViolations(store, { events: [event("a", "t", {}, { id: id.toUpperCase() })] }, [
    { kind: "duplicate_event_id", id, revision: 1 },
  ]);
});

test("each stored event id in a batch is reported, in event order", async () => {
  const store = await newStore();
  const [x, y, z] = [uuid(), uuid(), uuid()];
  await store.transact({ events: [event("a", "t", {}, { id: x }), event("a", "t", {}, { id: y })] }); // x r1, y r2
  await rejectsWithViolations(store, {
    events: [event("b", "t", {}, { id: y }), event("b", "t", {}, { id: z }), event("b", "t", {}, { id: x })],
  }, [
    { kind: "duplicate_event_id", id: y, revision: 2 },
    { kind: "duplicate_event_id", id: x, revision: 1 },
  ]);
});

test("the same event id twice within one batch is an InvalidInputError", async () => {
  const store = await storeWith(["a"]);
  const id = uuid();
  await rejectsInvalid(store, {
    events: [event("b", "t", {}, { id }), event("c", "t", {}, { id })],
  }, "events[1].id");
});

test("the same event id twice within one batch, in different cases, is an InvalidInputError", async () => {
  const store = await storeWith(["a"]);
  const id = uuid();
  await rejectsInvalid(store, {
    events: [event("b"), event("b", "t", {}, { id }), event("c", "t", {}, { id: id.toUpperCase() })],
  }, "events[2].id");
});

test("an event id may equal a batch id", async () => {
  const store = await newStore();
  const id = uuid();
  const commit = await store.transact({ id, events: [event("a", "t", {}, { id })] });
  assert.equal(commit.batchId, id);
  assert.equal(store.read()[0].id, id);
});
