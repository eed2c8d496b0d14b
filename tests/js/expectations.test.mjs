// SPEC §3, stream expectations: "any", "no_stream", "stream_exists",
// { revision }, { version }, each holding and failing, with the exact
// version_mismatch violation, and nothing written on failure.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeWith, event, rejectsWithViolations } from "./helpers.mjs";

// a: r1 (v0), r3 (v1)  → { version: 1, revision: 3 }
// b: r2 (v0)           → { version: 0, revision: 2 }
const fixture = () => storeWith(["a", "b", "a"]);
const A = { version: 1, revision: 3 };

function mismatch(stream, expected, actual) {
  return { kind: "version_mismatch", stream, expected, actual };
}

async function commits(store, stream, expectation) {
  const head = store.revision;
  const commit = await store.transact({ events: [event(stream)], expect: { [stream]: expectation } });
  assert.equal(commit.firstRevision, head + 1);
  assert.equal(store.revision, head + 1);
  return commit;
}

test('"any" holds for a stream with events', async () => {
  const store = await fixture();
  const commit = await commits(store, "a", "any");
  assert.deepEqual(commit.streams, { a: { version: 2, revision: 4 } });
});

test('"any" holds for a stream without events', async () => {
  const store = await fixture();
  const commit = await commits(store, "new", "any");
  assert.deepEqual(commit.streams, { new: { version: 0, revision: 4 } });
});

test('"no_stream" holds for a stream without events', async () => {
  const store = await fixture();
  await commits(store, "new", "no_stream");
  assert.deepEqual(store.stream("new"), { version: 0, revision: 4 });
});

test('"no_stream" fails for a stream with events', async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: "no_stream" } }, [
    mismatch("a", "no_stream", A),
  ]);
});

test('"stream_exists" holds for a stream with events', async () => {
  const store = await fixture();
  await commits(store, "b", "stream_exists");
  assert.deepEqual(store.stream("b"), { version: 1, revision: 4 });
});

test('"stream_exists" fails for a stream without events, with actual null', async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("new")], expect: { new: "stream_exists" } }, [
    mismatch("new", "stream_exists", null),
  ]);
});

test("{ revision } holds when it is the revision of the stream's last event", async () => {
  const store = await fixture();
  await commits(store, "a", { revision: 3 });
  await commits(store, "b", { revision: 2 });
});

test("{ revision } fails for the revision of an earlier event of the stream", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: { revision: 1 } } }, [
    mismatch("a", { revision: 1 }, A),
  ]);
});

test("{ revision } fails for the revision of another stream's event", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: { revision: 2 } } }, [
    mismatch("a", { revision: 2 }, A),
  ]);
});

test("{ revision } fails for a revision beyond the head", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: { revision: 9 } } }, [
    mismatch("a", { revision: 9 }, A),
  ]);
});

test("{ revision: 0 } holds for a stream without events", async () => {
  const store = await fixture();
  await commits(store, "new", { revision: 0 });
});

test("{ revision: 0 } fails for a stream with events", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("b")], expect: { b: { revision: 0 } } }, [
    mismatch("b", { revision: 0 }, { version: 0, revision: 2 }),
  ]);
});

test("{ revision: r > 0 } fails for a stream without events, with actual null", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("new")], expect: { new: { revision: 3 } } }, [
    mismatch("new", { revision: 3 }, null),
  ]);
});

test("{ version } holds when it is the version of the stream's last event", async () => {
  const store = await fixture();
  await commits(store, "a", { version: 1 });
  await commits(store, "b", { version: 0 });
  await commits(store, "a", { version: 2 });
});

test("{ version } fails for another version", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: { version: 0 } } }, [
    mismatch("a", { version: 0 }, A),
  ]);
  await rejectsWithViolations(store, { events: [event("a")], expect: { a: { version: 2 } } }, [
    mismatch("a", { version: 2 }, A),
  ]);
});

test("{ version: 0 } fails for a stream without events, with actual null", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("new")], expect: { new: { version: 0 } } }, [
    mismatch("new", { version: 0 }, null),
  ]);
});

test("a stream may be named in expect without being written (holding)", async () => {
  const store = await fixture();
  const commit = await store.transact({
    events: [event("c")],
    expect: { a: { revision: 3 }, b: "stream_exists", nothing: "no_stream" },
  });
  assert.deepEqual(commit.streams, { c: { version: 0, revision: 4 } });
  assert.deepEqual(store.stream("a"), A);
  assert.equal(store.stream("nothing"), null);
});

test("a stream may be named in expect without being written (failing)", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("c")], expect: { a: { revision: 1 } } }, [
    mismatch("a", { revision: 1 }, A),
  ]);
});

test("expectations are checked against the store before the batch", async () => {
  const store = await fixture();
  const commit = await store.transact({
    events: [event("new"), event("new"), event("a")],
    expect: { new: "no_stream", a: { version: 1 } },
  });
  assert.deepEqual(commit.streams, { new: { version: 1, revision: 5 }, a: { version: 2, revision: 6 } });
});

test("every failing expectation is reported, in the order expect lists them", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, {
    events: [event("a"), event("new")],
    expect: {
      b: "no_stream",
      new: "stream_exists",
      ok: "any",
      a: { version: 0 },
      c: { revision: 4 },
    },
  }, [
    mismatch("b", "no_stream", { version: 0, revision: 2 }),
    mismatch("new", "stream_exists", null),
    mismatch("a", { version: 0 }, A),
    mismatch("c", { revision: 4 }, null),
  ]);
});

test("the order of violations follows expect's key order, not the events'", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, {
    events: [event("a"), event("b")],
    expect: { b: "no_stream", a: "no_stream" },
  }, [
    mismatch("b", "no_stream", { version: 0, revision: 2 }),
    mismatch("a", "no_stream", A),
  ]);
});

test("holding expectations are not listed among the violations", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, {
    events: [event("a")],
    expect: { a: { revision: 3 }, b: { revision: 1 } },
  }, [mismatch("b", { revision: 1 }, { version: 0, revision: 2 })]);
});

test("a stream name that is not an identifier appears as given in the violation", async () => {
  const store = await storeWith(["acc-1"]);
  await rejectsWithViolations(store, { events: [event("acc-1")], expect: { "acc-1": "no_stream" } }, [
    mismatch("acc-1", "no_stream", { version: 0, revision: 1 }),
  ]);
});

test("one failing expectation fails the whole multi-stream batch", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, {
    events: [event("b"), event("c"), event("a")],
    expect: { b: "stream_exists", c: "no_stream", a: { revision: 1 } },
  }, [mismatch("a", { revision: 1 }, A)]);
  assert.equal(store.stream("c"), null);
});

test("after a failed expectation the next commit takes the next revision", async () => {
  const store = await fixture();
  await rejectsWithViolations(store, { events: [event("a"), event("a")], expect: { a: "no_stream" } }, [
    mismatch("a", "no_stream", A),
  ]);
  const commit = await store.transact({ events: [event("a")], expect: { a: { revision: 3 } } });
  assert.equal(commit.firstRevision, 4);
  assert.deepEqual(commit.streams, { a: { version: 2, revision: 4 } });
});
