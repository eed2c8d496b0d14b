// SPEC §1 (model) and §3 (commit shape): revisions, stream versions, batches,
// and the shape of a recorded event.

import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore } from "hindcast";
import { UUID_V4, newStore, uuid, event, appendOne, commitOf, revs } from "./helpers.mjs";

const REQUIRED_KEYS = ["batchId", "data", "id", "recordedAt", "revision", "stream", "type", "version"];

test("EventStore.memory() resolves to an empty store", async () => {
  const p = EventStore.memory();
  assert.ok(p instanceof Promise);
  const store = await p;
  assert.equal(store.revision, 0);
  assert.deepEqual(store.read(), []);
  assert.equal(store.lastRevision(), 0);
  assert.equal(store.stream("acc-1"), null);
  assert.deepEqual(store.readStream("acc-1"), []);
});

test("two memory stores are independent", async () => {
  const a = await newStore();
  const b = await newStore();
  await appendOne(a, "s");
  assert.equal(a.revision, 1);
  assert.equal(b.revision, 0);
  assert.deepEqual(b.read(), []);
});

test("revisions are global, 1-based and gap-free across batches", async () => {
  const store = await newStore();
  const c1 = await store.transact({ events: [event("a")] });
  const c2 = await store.transact({ events: [event("b"), event("a"), event("c")] });
  const c3 = await store.transact({ events: [event("c"), event("c")] });
  assert.deepEqual([c1.firstRevision, c1.revision], [1, 1]);
  assert.deepEqual([c2.firstRevision, c2.revision], [2, 4]);
  assert.deepEqual([c3.firstRevision, c3.revision], [5, 6]);
  assert.equal(store.revision, 6);
  assert.deepEqual(revs(store.read()), [1, 2, 3, 4, 5, 6]);
});

test("store.revision is the head and moves with each commit", async () => {
  const store = await newStore();
  assert.equal(store.revision, 0);
  await appendOne(store, "a");
  assert.equal(store.revision, 1);
  await store.transact({ events: [event("a"), event("b")] });
  assert.equal(store.revision, 3);
});

test("stream versions are 0-based and contiguous per stream", async () => {
  const store = await newStore();
  await store.transact({ events: [event("a"), event("b")] });
  await store.transact({ events: [event("a")] });
  await store.transact({ events: [event("c"), event("a"), event("b")] });
  assert.deepEqual(
    store.read().map((e) => [e.revision, e.stream, e.version]),
    [[1, "a", 0], [2, "b", 0], [3, "a", 1], [4, "c", 0], [5, "a", 2], [6, "b", 1]],
  );
  assert.deepEqual(store.readStream("a").map((e) => e.version), [0, 1, 2]);
});

test("a batch's events keep their order and take one contiguous range of revisions", async () => {
  const store = await newStore();
  await appendOne(store, "x");
  const commit = await store.transact({
    events: [event("a", "first"), event("b", "second"), event("a", "third")],
  });
  assert.equal(commit.firstRevision, 2);
  assert.equal(commit.revision, 4);
  assert.deepEqual(
    store.read(undefined, { from: 2 }).map((e) => [e.revision, e.type]),
    [[2, "first"], [3, "second"], [4, "third"]],
  );
});

test("a commit has exactly batchId, firstRevision, revision, streams and replayed", async () => {
  const store = await newStore();
  await appendOne(store, "acc-0");
  const id = uuid();
  const commit = await store.transact({ id, events: [event("acc-1", "account_opened")] });
  assert.deepEqual(commit, commitOf({
    batchId: id,
    firstRevision: 2,
    revision: 2,
    streams: { "acc-1": { version: 0, revision: 2 } },
    replayed: false,
  }));
});

test("commit.streams gives each written stream's last version and revision in the batch", async () => {
  const store = await newStore();
  await store.transact({ events: [event("a"), event("a")] }); // a: v0 r1, v1 r2
  const commit = await store.transact({
    events: [event("a"), event("b"), event("a"), event("c"), event("b")],
  }); // r3 a v2, r4 b v0, r5 a v3, r6 c v0, r7 b v1
  assert.deepEqual(commit.streams, {
    a: { version: 3, revision: 5 },
    b: { version: 1, revision: 7 },
    c: { version: 0, revision: 6 },
  });
  assert.deepEqual(commit.streams.a, store.stream("a"));
  assert.deepEqual(commit.streams.b, store.stream("b"));
  assert.deepEqual(commit.streams.c, store.stream("c"));
});

test("commit.streams leaves out streams only named in expect", async () => {
  const store = await newStore();
  await appendOne(store, "read-only");
  const commit = await store.transact({
    events: [event("written")],
    expect: { "read-only": { revision: 1 }, written: "no_stream" },
  });
  assert.deepEqual(commit.streams, { written: { version: 0, revision: 2 } });
});

test("a generated batch id is a lowercase UUID v4 shared by every event of the batch", async () => {
  const store = await newStore();
  const commit = await store.transact({ events: [event("a"), event("b")] });
  assert.match(commit.batchId, UUID_V4);
  assert.deepEqual(store.read().map((e) => e.batchId), [commit.batchId, commit.batchId]);
  const other = await appendOne(store, "a");
  assert.notEqual(other.batchId, commit.batchId);
  assert.match(other.batchId, UUID_V4);
});

test("generated event ids are distinct lowercase UUID v4s", async () => {
  const store = await newStore();
  await store.transact({ events: [event("a"), event("a"), event("b")] });
  await appendOne(store, "a");
  const ids = store.read().map((e) => e.id);
  for (const id of ids) assert.match(id, UUID_V4);
  assert.equal(new Set(ids).size, ids.length);
});

test("a caller's event id and batch id are kept", async () => {
  const store = await newStore();
  const batchId = uuid();
  const id = uuid();
  const commit = await store.transact({ id: batchId, events: [event("a", "t", {}, { id })] });
  assert.equal(commit.batchId, batchId);
  const [e] = store.read();
  assert.equal(e.id, id);
  assert.equal(e.batchId, batchId);
});

test("uppercase event and batch ids read back in lowercase", async () => {
  const store = await newStore();
  const batchId = uuid();
  const id = uuid();
  const commit = await store.transact({
    id: batchId.toUpperCase(),
    events: [event("a", "t", {}, { id: id.toUpperCase() })],
  });
  assert.equal(commit.batchId, batchId);
  const [e] = store.read();
  assert.equal(e.id, id);
  assert.equal(e.batchId, batchId);
});

test("UUIDs of any version are accepted as ids", async () => {
  const store = await newStore();
  const v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
  const v7 = "01890a5d-ac96-774b-bcce-b302099a8057";
  const commit = await store.transact({ id: v7, events: [event("a", "t", {}, { id: v1 })] });
  assert.equal(commit.batchId, v7);
  assert.equal(store.read()[0].id, v1);
});

test("a minimal recorded event has exactly the required fields", async () => {
  const store = await newStore();
  const commit = await store.transact({ events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }] });
  const [e] = store.read();
  assert.deepEqual(Object.keys(e).sort(), REQUIRED_KEYS);
  assert.deepEqual(e, {
    revision: 1,
    stream: "acc-1",
    version: 0,
    id: e.id,
    type: "account_opened",
    data: { owner: "Ann" },
    batchId: commit.batchId,
    recordedAt: e.recordedAt,
  });
  assert.match(e.id, UUID_V4);
  assert.equal(typeof e.recordedAt, "number");
});

test("every optional field is present, exactly as given, when given", async () => {
  const store = await newStore();
  const id = uuid();
  const batchId = uuid();
  const commit = await store.transact({
    id: batchId,
    correlationId: "corr-42",
    events: [{
      stream: "acc-1",
      type: "money_withdrawn",
      data: { amount: 30 },
      subject: "acc-1",
      tags: ["account:acc-1", "teller:7"],
      id,
      time: "2026-11-23T10:00:00Z",
      metadata: { user: "ann", trace: { span: 3 } },
    }],
  });
  const [e] = store.read();
  assert.deepEqual(e, {
    revision: 1,
    stream: "acc-1",
    version: 0,
    id,
    type: "money_withdrawn",
    data: { amount: 30 },
    subject: "acc-1",
    tags: ["account:acc-1", "teller:7"],
    time: "2026-11-23T10:00:00Z",
    metadata: { user: "ann", trace: { span: 3 } },
    correlationId: "corr-42",
    batchId,
    recordedAt: e.recordedAt,
  });
  assert.equal(commit.batchId, batchId);
});

test("each optional field appears only on the events that were given it", async () => {
  const store = await newStore();
  await store.transact({
    events: [
      event("a", "t", 1, { subject: "s" }),
      event("a", "t", 2, { tags: ["x"] }),
      event("a", "t", 3, { time: "2026-11-23T10:00:00Z" }),
      event("a", "t", 4, { metadata: { m: 1 } }),
      event("a", "t", 5),
    ],
  });
  const extra = store.read().map((e) => Object.keys(e).filter((k) => !REQUIRED_KEYS.includes(k)).sort());
  assert.deepEqual(extra, [["subject"], ["tags"], ["time"], ["metadata"], []]);
});

test("empty tags and empty metadata, when given, read back as given", async () => {
  const store = await newStore();
  await store.transact({ events: [event("a", "t", {}, { tags: [], metadata: {} })] });
  const [e] = store.read();
  assert.deepEqual(e.tags, []);
  assert.deepEqual(e.metadata, {});
});

test("the correlation id is on every event of its batch and on no other", async () => {
  const store = await newStore();
  await store.transact({ correlationId: "c-1", events: [event("a"), event("b")] });
  await appendOne(store, "a");
  assert.deepEqual(store.read().map((e) => e.correlationId), ["c-1", "c-1", undefined]);
  assert.equal(Object.hasOwn(store.read()[2], "correlationId"), false);
});

test("optional fields given as undefined count as absent", async () => {
  const store = await newStore();
  const commit = await store.transact({
    id: undefined,
    correlationId: undefined,
    expect: undefined,
    constraints: undefined,
    events: [{
      stream: "a",
      type: "t",
      data: { x: 1 },
      subject: undefined,
      tags: undefined,
      id: undefined,
      time: undefined,
      metadata: undefined,
    }],
  });
  assert.match(commit.batchId, UUID_V4);
  const [e] = store.read();
  assert.deepEqual(Object.keys(e).sort(), REQUIRED_KEYS);
  assert.match(e.id, UUID_V4);
});

test("omitted data reads back as null", async () => {
  const store = await newStore();
  await store.transact({ events: [{ stream: "a", type: "t" }] });
  const [e] = store.read();
  assert.equal(Object.hasOwn(e, "data"), true);
  assert.equal(e.data, null);
});

test("data given as undefined counts as omitted and reads back as null", async () => {
  const store = await newStore();
  await store.transact({ events: [{ stream: "a", type: "t", data: undefined }] });
  assert.equal(store.read()[0].data, null);
});

test("data given as null reads back as null", async () => {
  const store = await newStore();
  await store.transact({ events: [{ stream: "a", type: "t", data: null }] });
  assert.equal(store.read()[0].data, null);
});

test("time reads back exactly as given", async () => {
  const store = await newStore();
  const times = [
    "2026-11-23T10:00:00Z",
    "2026-11-23T10:00:00.123+02:00",
    "2026-11-23T10:00:00.123456-05:30",
    "1999-12-31T23:59:59.5+00:00",
  ];
  await store.transact({ events: times.map((time) => event("a", "t", {}, { time })) });
  assert.deepEqual(store.read().map((e) => e.time), times);
});

test("stream, type, subject and tags keep any non-empty unicode string", async () => {
  const store = await newStore();
  await store.transact({
    events: [event("账户-1 😀", "geöffnet", {}, { subject: "主题", tags: ["étiquette", "🏷️", " "] })],
  });
  const [e] = store.read();
  assert.equal(e.stream, "账户-1 😀");
  assert.equal(e.type, "geöffnet");
  assert.equal(e.subject, "主题");
  assert.deepEqual(e.tags, ["étiquette", "🏷️", " "]);
  assert.deepEqual(store.stream("账户-1 😀"), { version: 0, revision: 1 });
});

test("recordedAt is milliseconds since the epoch and the same for every event of a batch", async () => {
  const store = await newStore();
  const before = Date.now();
  await store.transact({ events: [event("a"), event("b"), event("a")] });
  const after = Date.now();
  const times = store.read().map((e) => e.recordedAt);
  for (const t of times) {
    assert.equal(typeof t, "number");
    assert.ok(Number.isFinite(t));
    assert.ok(t >= before - 1000 && t <= after + 1000, `recordedAt ${t} is near Date.now() (${before}..${after})`);
  }
  assert.equal(new Set(times).size, 1);
});

test("recordedAt never decreases with revision", async () => {
  const store = await newStore();
  for (let i = 0; i < 30; i++) {
    await store.transact({ events: [event(i % 2 ? "a" : "b")] });
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  const times = store.read().map((e) => e.recordedAt);
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i] >= times[i - 1], `recordedAt at revision ${i + 1} (${times[i]}) >= previous (${times[i - 1]})`);
  }
});

test("recordedAt never decreases even if the clock steps back", async () => {
  const store = await newStore();
  await appendOne(store, "a");
  const first = store.read()[0].recordedAt;
  const realNow = Date.now;
  Date.now = () => realNow.call(Date) - 3_600_000;
  try {
    await appendOne(store, "a");
  } finally {
    Date.now = realNow;
  }
  const second = store.read()[1].recordedAt;
  assert.ok(second >= first, `recordedAt ${second} >= ${first}`);
});

test("store.stream gives the version and revision of the stream's last event, or null", async () => {
  const store = await newStore();
  await store.transact({ events: [event("a"), event("b"), event("a")] });
  assert.deepEqual(store.stream("a"), { version: 1, revision: 3 });
  assert.deepEqual(store.stream("b"), { version: 0, revision: 2 });
  assert.equal(store.stream("c"), null);
});
