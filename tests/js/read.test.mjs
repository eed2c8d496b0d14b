// SPEC §4, reading: store.revision, read(selector?, { from, to, limit,
// backwards }), readStream(stream, { fromVersion, toVersion, limit, backwards }),
// lastRevision(selector?) and stream(name), with the bounds of SEMANTICS.md.

import { test } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, revs } from "./helpers.mjs";

// Ten single-event batches alternating between streams a and b:
// r1 a0, r2 b0, r3 a1, r4 b1, r5 a2, r6 b2, r7 a3, r8 b3, r9 a4, r10 b4.
async function fixture() {
  const store = await newStore();
  for (let r = 1; r <= 10; r++) {
    await store.transact({ events: [event(r % 2 ? "a" : "b", `t${r}`, { r })] });
  }
  return store;
}

const range = (a, b) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

/** The revisions read(selector, options) must return, from the contract. */
function expectedRead(matching, { from, to, limit, backwards } = {}) {
  const lo = from ?? 1;
  const hi = to ?? Infinity;
  let out = matching.filter((r) => r >= lo && r <= hi);
  if (backwards) out = out.reverse();
  if (limit !== undefined) out = out.slice(0, limit);
  return out;
}

test("store.revision is the head", async () => {
  const store = await fixture();
  assert.equal(store.revision, 10);
});

test("read() returns every event in revision order", async () => {
  const store = await fixture();
  const events = store.read();
  assert.deepEqual(revs(events), range(1, 10));
  assert.deepEqual(events.map((e) => e.type), range(1, 10).map((r) => `t${r}`));
  assert.deepEqual(events.map((e) => e.data), range(1, 10).map((r) => ({ r })));
});

test("read() with empty options is read()", async () => {
  const store = await fixture();
  assert.deepEqual(store.read({}, {}), store.read());
  assert.deepEqual(store.read(undefined, undefined), store.read());
  assert.deepEqual(store.read(undefined, { from: undefined, to: undefined, limit: undefined, backwards: undefined }), store.read());
});

test("read() from is an inclusive lower bound", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { from: 4 })), range(4, 10));
  assert.deepEqual(revs(store.read(undefined, { from: 10 })), [10]);
  assert.deepEqual(revs(store.read(undefined, { from: 0 })), range(1, 10));
  assert.deepEqual(revs(store.read(undefined, { from: 1 })), range(1, 10));
});

test("read() from beyond the head returns []", async () => {
  const store = await fixture();
  assert.deepEqual(store.read(undefined, { from: 11 }), []);
  assert.deepEqual(store.read(undefined, { from: 11, backwards: true }), []);
});

test("read() to is an inclusive upper bound", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { to: 3 })), [1, 2, 3]);
  assert.deepEqual(revs(store.read(undefined, { to: 1 })), [1]);
  assert.deepEqual(store.read(undefined, { to: 0 }), []);
});

test("read() to beyond the head reads to the head", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { to: 1000 })), range(1, 10));
  assert.deepEqual(revs(store.read(undefined, { to: Number.MAX_SAFE_INTEGER, backwards: true })), range(1, 10).reverse());
});

test("read() from and to bound the range", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { from: 3, to: 6 })), [3, 4, 5, 6]);
  assert.deepEqual(revs(store.read(undefined, { from: 5, to: 5 })), [5]);
});

test("read() with from > to returns []", async () => {
  const store = await fixture();
  assert.deepEqual(store.read(undefined, { from: 6, to: 3 }), []);
  assert.deepEqual(store.read(undefined, { from: 6, to: 3, backwards: true }), []);
});

test("read() limit counts from the start", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { limit: 3 })), [1, 2, 3]);
  assert.deepEqual(revs(store.read(undefined, { limit: 100 })), range(1, 10));
  assert.deepEqual(revs(store.read(undefined, { from: 3, to: 6, limit: 2 })), [3, 4]);
});

test("read() with limit 0 returns []", async () => {
  const store = await fixture();
  assert.deepEqual(store.read(undefined, { limit: 0 }), []);
  assert.deepEqual(store.read(undefined, { limit: 0, backwards: true }), []);
});

test("read() backwards returns the range newest first", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { backwards: true })), range(1, 10).reverse());
  assert.deepEqual(revs(store.read(undefined, { from: 3, to: 6, backwards: true })), [6, 5, 4, 3]);
  assert.deepEqual(revs(store.read(undefined, { from: 8, backwards: true })), [10, 9, 8]);
  assert.deepEqual(revs(store.read(undefined, { to: 3, backwards: true })), [3, 2, 1]);
});

test("read() backwards: false reads forwards", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { backwards: false, limit: 2 })), [1, 2]);
});

test("read() backwards with limit counts from the newest end", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read(undefined, { backwards: true, limit: 3 })), [10, 9, 8]);
  assert.deepEqual(revs(store.read(undefined, { from: 3, to: 6, limit: 2, backwards: true })), [6, 5]);
  assert.deepEqual(revs(store.read(undefined, { to: 4, limit: 2, backwards: true })), [4, 3]);
});

test("read() with a selector bounds, limits and reverses the matching events", async () => {
  const store = await fixture();
  assert.deepEqual(revs(store.read({ stream: "a" })), [1, 3, 5, 7, 9]);
  assert.deepEqual(revs(store.read({ stream: "a" }, { from: 2, to: 8 })), [3, 5, 7]);
  assert.deepEqual(revs(store.read({ stream: "a" }, { from: 2, to: 8, limit: 2 })), [3, 5]);
  assert.deepEqual(revs(store.read({ stream: "a" }, { from: 2, to: 8, limit: 2, backwards: true })), [7, 5]);
  assert.deepEqual(revs(store.read({ stream: "b" }, { limit: 2, backwards: true })), [10, 8]);
  assert.deepEqual(revs(store.read({ stream: "b" }, { limit: 2 })), [2, 4]);
  assert.deepEqual(store.read({ stream: "c" }, { limit: 2 }), []);
});

test("read() on an empty store returns [] for any options", async () => {
  const store = await newStore();
  assert.deepEqual(store.read(), []);
  assert.deepEqual(store.read({ stream: "a" }, { from: 1, to: 5, limit: 2, backwards: true }), []);
});

test("read() returns what the contract says for every combination of options", async () => {
  const store = await fixture();
  const selectors = [
    [undefined, range(1, 10)],
    [{}, range(1, 10)],
    [{ stream: "a" }, [1, 3, 5, 7, 9]],
    [{ stream: "b" }, [2, 4, 6, 8, 10]],
    [{ type: ["t2", "t3", "t9"] }, [2, 3, 9]],
    [{ stream: "none" }, []],
  ];
  const froms = [undefined, 0, 1, 3, 10, 11];
  const tos = [undefined, 0, 1, 6, 10, 20];
  const limits = [undefined, 0, 1, 2, 100];
  const backwardses = [undefined, false, true];
  let checked = 0;
  for (const [selector, matching] of selectors) {
    for (const from of froms) for (const to of tos) for (const limit of limits) for (const backwards of backwardses) {
      const options = {};
      if (from !== undefined) options.from = from;
      if (to !== undefined) options.to = to;
      if (limit !== undefined) options.limit = limit;
      if (backwards !== undefined) options.backwards = backwards;
      const got = revs(store.read(selector, options));
      assert.deepEqual(got, expectedRead(matching, options), `read(${JSON.stringify(selector)}, ${JSON.stringify(options)})`);
      checked++;
    }
  }
  assert.equal(checked, 6 * 6 * 6 * 5 * 3);
});

// --- readStream --------------------------------------------------------------

test("readStream() returns the stream's events in version order", async () => {
  const store = await fixture();
  const events = store.readStream("a");
  assert.deepEqual(events.map((e) => [e.version, e.revision]), [[0, 1], [1, 3], [2, 5], [3, 7], [4, 9]]);
  assert.deepEqual(events, store.read({ stream: "a" }));
});

test("readStream() of a stream with no events is []", async () => {
  const store = await fixture();
  assert.deepEqual(store.readStream("none"), []);
  assert.deepEqual(store.readStream("none", { fromVersion: 0, limit: 5, backwards: true }), []);
});

test("readStream() fromVersion is an inclusive lower bound", async () => {
  const store = await fixture();
  assert.deepEqual(store.readStream("a", { fromVersion: 2 }).map((e) => e.version), [2, 3, 4]);
  assert.deepEqual(store.readStream("a", { fromVersion: 0 }).map((e) => e.version), [0, 1, 2, 3, 4]);
  assert.deepEqual(store.readStream("a", { fromVersion: 4 }).map((e) => e.version), [4]);
  assert.deepEqual(store.readStream("a", { fromVersion: 5 }), []);
});

test("readStream() toVersion is an inclusive upper bound, in both directions", async () => {
  const store = await fixture();
  const versions = (opts) => store.readStream("a", opts).map((e) => e.version);
  assert.deepEqual(versions({ toVersion: 2 }), [0, 1, 2]);
  assert.deepEqual(versions({ fromVersion: 1, toVersion: 3 }), [1, 2, 3]);
  // "The 2 events before version 5": SPEC §4's example.
  assert.deepEqual(versions({ toVersion: 4, backwards: true, limit: 2 }), [4, 3]);
  assert.deepEqual(versions({ toVersion: 9 }), [0, 1, 2, 3, 4]);
  assert.deepEqual(versions({ fromVersion: 3, toVersion: 2 }), []);
  assert.throws(() => store.readStream("a", { toVersion: -1 }), (e) => e.code === "INVALID_INPUT" && e.path === "options.toVersion");
  assert.throws(() => store.readStream("a", { toVersion: 1.5 }), (e) => e.code === "INVALID_INPUT" && e.path === "options.toVersion");
});

test("readStream() limit counts from the start", async () => {
  const store = await fixture();
  assert.deepEqual(store.readStream("a", { limit: 2 }).map((e) => e.version), [0, 1]);
  assert.deepEqual(store.readStream("a", { fromVersion: 1, limit: 2 }).map((e) => e.version), [1, 2]);
  assert.deepEqual(store.readStream("a", { limit: 0 }), []);
  assert.deepEqual(store.readStream("a", { limit: 99 }).length, 5);
});

test("readStream() backwards returns newest first, limit counting from the newest", async () => {
  const store = await fixture();
  assert.deepEqual(store.readStream("b", { backwards: true }).map((e) => e.version), [4, 3, 2, 1, 0]);
  assert.deepEqual(store.readStream("b", { backwards: true, limit: 2 }).map((e) => e.version), [4, 3]);
  assert.deepEqual(store.readStream("b", { backwards: true, fromVersion: 3 }).map((e) => e.version), [4, 3]);
  assert.deepEqual(store.readStream("b", { backwards: true, fromVersion: 1, limit: 2 }).map((e) => e.version), [4, 3]);
  assert.deepEqual(store.readStream("b", { backwards: true, fromVersion: 3, limit: 5 }).map((e) => e.version), [4, 3]);
  assert.deepEqual(store.readStream("b", { backwards: true, limit: 0 }), []);
  assert.deepEqual(store.readStream("b", { backwards: false, limit: 1 }).map((e) => e.version), [0]);
});

test("readStream() returns what the contract says for every combination of options", async () => {
  const store = await fixture();
  const versions = [0, 1, 2, 3, 4];
  for (const fromVersion of [undefined, 0, 1, 3, 4, 5, 100]) {
    for (const limit of [undefined, 0, 1, 2, 10]) {
      for (const backwards of [undefined, false, true]) {
        const options = {};
        if (fromVersion !== undefined) options.fromVersion = fromVersion;
        if (limit !== undefined) options.limit = limit;
        if (backwards !== undefined) options.backwards = backwards;
        let want = versions.filter((v) => v >= (fromVersion ?? 0));
        if (backwards) want = want.reverse();
        if (limit !== undefined) want = want.slice(0, limit);
        const got = store.readStream("a", options);
        assert.deepEqual(got.map((e) => e.version), want, `readStream("a", ${JSON.stringify(options)})`);
        assert.ok(got.every((e) => e.stream === "a"));
      }
    }
  }
});

test("readStream() events equal the same events from read()", async () => {
  const store = await fixture();
  const byRevision = new Map(store.read().map((e) => [e.revision, e]));
  for (const e of [...store.readStream("a"), ...store.readStream("b")]) {
    assert.deepEqual(e, byRevision.get(e.revision));
  }
});

// --- lastRevision and stream -------------------------------------------------

test("lastRevision() is the head, lastRevision(selector) the newest match or 0", async () => {
  const store = await fixture();
  assert.equal(store.lastRevision(), 10);
  assert.equal(store.lastRevision({}), 10);
  assert.equal(store.lastRevision({ stream: "a" }), 9);
  assert.equal(store.lastRevision({ type: ["t2", "t5"] }), 5);
  assert.equal(store.lastRevision({ type: "nope" }), 0);
  assert.equal(store.lastRevision([{ stream: "a" }, { type: "t10" }]), 10);
});

test("stream() gives { version, revision } of the stream's last event, or null", async () => {
  const store = await fixture();
  assert.deepEqual(store.stream("a"), { version: 4, revision: 9 });
  assert.deepEqual(store.stream("b"), { version: 4, revision: 10 });
  assert.equal(store.stream("c"), null);
});

test("reads see a commit as soon as transact resolves", async () => {
  const store = await fixture();
  const commit = await store.transact({ events: [event("c", "new"), event("a", "new")] });
  assert.equal(store.revision, 12);
  assert.deepEqual(revs(store.read(undefined, { from: commit.firstRevision })), [11, 12]);
  assert.deepEqual(store.stream("c"), { version: 0, revision: 11 });
  assert.deepEqual(store.stream("a"), { version: 5, revision: 12 });
  assert.equal(store.lastRevision({ type: "new" }), 12);
  assert.deepEqual(store.readStream("a", { backwards: true, limit: 1 })[0].revision, 12);
});

test("reads are synchronous: they return arrays and objects, not promises", async () => {
  const store = await fixture();
  assert.ok(Array.isArray(store.read()));
  assert.ok(Array.isArray(store.readStream("a")));
  assert.equal(typeof store.lastRevision(), "number");
  assert.equal(typeof store.revision, "number");
  assert.equal(typeof store.stream("a"), "object");
});

test("a read of a few events from a large store returns only those", async () => {
  const store = await newStore();
  const batch = Array.from({ length: 1000 }, (_, i) => event(`s${i % 10}`, "t", { i }));
  for (let b = 0; b < 5; b++) await store.transact({ events: batch.map((e) => structuredClone(e)) });
  assert.equal(store.revision, 5000);
  assert.deepEqual(revs(store.read(undefined, { from: 2500, limit: 3 })), [2500, 2501, 2502]);
  assert.deepEqual(revs(store.read(undefined, { backwards: true, limit: 2 })), [5000, 4999]);
  assert.deepEqual(revs(store.read({ stream: "s3" }, { backwards: true, limit: 2 })), [4994, 4984]);
  assert.deepEqual(store.readStream("s3", { fromVersion: 499 }).map((e) => e.revision), [4994]);
  assert.deepEqual(store.stream("s3"), { version: 499, revision: 4994 });
});
