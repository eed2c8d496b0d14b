// SPEC §5 "Subscriptions" and docs/SEMANTICS.md "Subscriptions and
// projections": exactly once, in revision order, no gap at the seam between
// history and live events, never an event of a failed batch; matchers and
// selectors; `after`; asynchronous delivery; re-entrancy; async handlers;
// faults; "stop"; cancel; waitFor; bad input.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { HandlerError, HindcastError, InvalidInputError } from "hindcast";
import {
  newStore,
  event,
  appendOne,
  revs,
  range,
  collect,
  deferred,
  turns,
  rng,
  between,
  settledState,
  withoutStrayErrors,
  rejection,
  throwsInvalid,
  assertInvalidInputError,
} from "./helpers.mjs";

/** A store with `n` single-event batches over streams a, b (alternating). */
async function storeOf(n) {
  const store = await newStore();
  for (let i = 1; i <= n; i++) await appendOne(store, i % 2 ? "a" : "b", "happened", { i });
  return store;
}

/** Asserts `err` is the HandlerError for `event` caused by exactly `cause`. */
function assertHandlerError(err, cause, event) {
  assert.ok(err instanceof HandlerError, `expected a HandlerError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.ok(err instanceof HindcastError, "HandlerError extends HindcastError");
  assert.ok(err instanceof Error, "HandlerError extends Error");
  assert.equal(err.code, "HANDLER");
  assert.ok("cause" in err, "a HandlerError carries .cause");
  assert.equal(err.cause, cause, ".cause is the thrown value itself");
  assert.equal(err.event, event, ".event is the (stored) event being handled");
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0);
}

/** Asserts `err` is the STOPPED HindcastError of a waitFor. */
function assertStopped(err) {
  assert.ok(err instanceof HindcastError, `expected a HindcastError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.ok(!(err instanceof HandlerError), "a plain stop is not a HandlerError");
  assert.equal(err.code, "STOPPED");
}

// ---------------------------------------------------------------------------
// 1. Exactly once, in order, no gap; never an event of a failed batch.
// ---------------------------------------------------------------------------

describe("exactly once, in revision order, no gap", () => {
  test("history then live events arrive once each, in order, as the stored frozen objects", async () => {
    const store = await newStore();
    for (let i = 0; i < 4; i++) {
      await store.transact({ events: [event("a", "x", { i }), event("b", "y", { i })] }); // r1..r8
    }
    const { sub, received } = collect(store);
    assert.equal(received.length, 0, "nothing is delivered inside subscribe");
    for (let i = 4; i < 8; i++) {
      await store.transact({ events: [event("a", "x", { i }), event("c", "z", { i }), event("b", "y", { i })] }); // r9..r20
    }
    await sub.waitFor(20);
    assert.deepEqual(revs(received), range(1, 20));
    assert.equal(sub.position, 20);
    const all = store.read();
    received.forEach((e, i) => assert.equal(e, all[i], "a subscription gets the same objects reads return"));
    assert.ok(Object.isFrozen(received[0]), "recorded events are frozen");
    assert.ok(Object.isFrozen(received[0].data), "their data too");
    await turns();
    assert.equal(received.length, 20, "nothing is delivered twice");
  });

  test("subscriptions started between unawaited commits of a running writer miss and repeat nothing", async () => {
    const store = await newStore();
    const subs = [];
    const watch = (options, expectFrom) => {
      const c = collect(store, options);
      subs.push({ ...c, options, from: expectFrom });
    };
    watch(undefined, 1); // before the writer starts
    const writes = [];
    const writer = (async () => {
      for (let i = 0; i < 90; i++) {
        const events = [event(`s${i % 3}`, "t", { i })];
        if (i % 4 === 0) events.push(event("s9", "u", { i }), event(`s${(i + 1) % 3}`, "t", { i }));
        const p = store.transact({ events });
        writes.push(p);
        if (i % 5 === 0) watch(undefined, 1); // between two commits, in the same tick
        if (i % 7 === 3) watch({ selector: { stream: "s1" } }, 1);
        if (i % 11 === 5) watch({ after: "end" }, store.revision + 1);
        if (i % 13 === 6) watch({ after: store.revision - 2, selector: [{ type: "u" }, { stream: "s0" }] }, store.revision - 1);
        if (i % 9 === 4) queueMicrotask(() => watch(undefined, 1)); // from a microtask of its own
        if (i % 3 === 0) await p; // some commits follow one another without a break
      }
    })();
    // Meanwhile, from outside the writer's loop:
    await Promise.resolve();
    watch(undefined, 1);
    await writer;
    await Promise.all(writes);
    watch(undefined, 1); // after the writer
    const head = store.revision;
    assert.equal(head, 90 + 23 * 2);
    assert.ok(subs.length > 30);
    for (const { sub, received, options, from } of subs) {
      await sub.waitFor(head);
      const expected = store.read(options?.selector, { from });
      assert.deepEqual(revs(received), revs(expected), `subscription ${JSON.stringify(options)} from ${from}`);
      received.forEach((e, i) => assert.equal(e, expected[i]));
      assert.equal(sub.position, head);
    }
  });

  test("a subscriber never sees an event of a failed batch (violation, bad input, duplicate id)", async () => {
    const store = await newStore();
    const early = collect(store);
    const usedId = crypto.randomUUID();
    const failures = [];
    let good = 0;
    for (let i = 0; i < 15; i++) {
      const ok = store.transact({ events: [event("acc", "deposited", { i, good: true }), event(`other-${i % 2}`, "noted", { i, good: true })] });
      good += 2;
      // A stream expectation that cannot hold.
      failures.push(store.transact({ events: [event("acc", "deposited", { i, good: false })], expect: { acc: "no_stream" } }));
      // A batch constraint that cannot hold, the bad event first.
      failures.push(store.transact({ events: [event("acc", "withdrawn", { i, good: false }), event("x", "y", { good: false })], constraints: [{ maxRevision: 0 }] }));
      // Bad input in the second event: the first must not leak either.
      failures.push(store.transact({ events: [event("acc", "deposited", { i, good: false }), { stream: "acc", type: "", data: { good: false } }] }));
      failures.push(store.transact({ events: [event("acc", "deposited", { i, good: false }), event("acc", "deposited", { good: false, bad: () => 1 })] }));
      // A duplicate event id (the first use commits once).
      if (i === 0) {
        await store.transact({ events: [event("ids", "once", { good: true }, { id: usedId })] });
        good += 1;
      } else {
        failures.push(store.transact({ events: [event("ids", "again", { good: false }, { id: usedId })] }));
      }
      if (i % 2 === 0) await ok;
      else ok.catch(() => {});
    }
    const results = await Promise.allSettled(failures);
    assert.ok(results.every((r) => r.status === "rejected"), "every bad batch was refused");
    assert.equal(store.revision, good);
    const late = collect(store);
    for (const { sub, received } of [early, late]) {
      await sub.waitFor(good);
      assert.deepEqual(revs(received), range(1, good));
      assert.ok(received.every((e) => e.data.good === true), "no event of a failed batch is delivered");
    }
  });

  test("a batch of many events is delivered whole, in order, to a live subscriber", async () => {
    const store = await storeOf(2);
    const { sub, received } = collect(store, { selector: { stream: "big" } });
    await sub.waitFor(2);
    const commit = await store.transact({ events: range(0, 99).map((n) => event("big", "n", { n })) });
    assert.equal(commit.revision, 102);
    await sub.waitFor(102);
    assert.deepEqual(revs(received), range(3, 102));
    assert.deepEqual(received.map((e) => e.version), range(0, 99));
  });
});

// ---------------------------------------------------------------------------
// 3. Matchers and selectors.
// ---------------------------------------------------------------------------

/** r1 a/opened, r2 a/deposited, r3 b/opened, r4 a/note, r5 b/deposited, r6 c/note, r7 c/closed. */
async function matcherStore() {
  const store = await newStore();
  for (const [stream, type] of [["a", "opened"], ["a", "deposited"], ["b", "opened"], ["a", "note"], ["b", "deposited"], ["c", "note"], ["c", "closed"]]) {
    await appendOne(store, stream, type);
  }
  return store;
}

describe("matchers", () => {
  test("only the listed types are delivered, each to its own handler, in revision order", async () => {
    const store = await matcherStore();
    const log = [];
    const sub = store.subscribe({
      opened: (e) => { log.push(["opened", e.revision, e]); },
      deposited: (e) => { log.push(["deposited", e.revision, e]); },
    });
    await sub.waitFor(7);
    assert.deepEqual(log.map(([h, r]) => [h, r]), [["opened", 1], ["deposited", 2], ["opened", 3], ["deposited", 5]]);
    const all = store.read();
    for (const [h, r, e] of log) {
      assert.equal(e, all[r - 1], "the handler receives the stored event");
      assert.equal(e.type, h);
    }
    assert.equal(sub.position, 7, "position advances over the note and closed events at the end");
  });

  test("a selector narrows the matchers further", async () => {
    const store = await matcherStore();
    const log = [];
    const sub = store.subscribe(
      { opened: (e) => { log.push(["opened", e.revision]); }, deposited: (e) => { log.push(["deposited", e.revision]); } },
      { selector: { stream: "a" } },
    );
    await sub.waitFor(7);
    assert.deepEqual(log, [["opened", 1], ["deposited", 2]]);
    assert.equal(sub.position, 7);

    const log2 = [];
    const sub2 = store.subscribe({ note: (e) => { log2.push(e.revision); } }, { selector: [{ stream: "c" }, { type: "opened" }] });
    await sub2.waitFor(7);
    assert.deepEqual(log2, [6]);
    assert.equal(sub2.position, 7);
  });

  test("matchers advance position over live events of other types and streams", async () => {
    const store = await matcherStore();
    const log = [];
    const sub = store.subscribe({ opened: (e) => { log.push(e.revision); } }, { selector: { stream: ["a", "b", "d"] } });
    await sub.waitFor(7);
    const pending = sub.waitFor(10);
    await appendOne(store, "d", "opened"); // 8: delivered
    await appendOne(store, "d", "closed"); // 9: other type
    await appendOne(store, "e", "opened"); // 10: other stream
    await pending;
    assert.equal(sub.position, 10);
    assert.equal(store.revision, 10);
    assert.deepEqual(log, [1, 3, 8]);
    await store.transact({ events: [event("zz", "other"), event("a", "note")] }); // 11, 12: neither matches
    await sub.waitFor(12);
    assert.equal(sub.position, 12);
    assert.deepEqual(log, [1, 3, 8]);
  });

  test("a matcher for a type never written delivers nothing and still follows the head", async () => {
    const store = await matcherStore();
    let calls = 0;
    const sub = store.subscribe({ never_written: () => { calls++; } });
    await sub.waitFor(7);
    assert.equal(sub.position, 7);
    await appendOne(store, "a", "opened");
    await sub.waitFor(8);
    assert.equal(sub.position, 8);
    assert.equal(calls, 0);
  });

  test("a plain handler with a selector gets exactly what read(selector) returns", async () => {
    const store = await newStore();
    const r = rng(7);
    const selectors = [
      { stream: "s1" },
      { type: ["t0", "t2"] },
      { subject: "p1" },
      { tags: ["k1"] },
      { tags: ["k0", "k2"] },
      [{ stream: "s0", type: "t1" }, { tags: ["k2"] }],
      { types: ["t1"], tags: ["k0"] },
      [{ types: ["t0"], tags: ["k1"] }, { types: [], tags: ["k2"] }],
    ];
    const early = selectors.map((selector) => ({ selector, ...collect(store, { selector }) }));
    for (let i = 0; i < 60; i++) {
      const events = range(1, between(r, 1, 3)).map(() => {
        const tags = ["k0", "k1", "k2"].filter(() => r() < 0.4);
        const e = event(`s${between(r, 0, 2)}`, `t${between(r, 0, 2)}`, { i });
        if (r() < 0.7) e.subject = `p${between(r, 0, 2)}`;
        if (tags.length) e.tags = tags;
        return e;
      });
      await store.transact({ events });
    }
    const late = selectors.map((selector) => ({ selector, ...collect(store, { selector }) }));
    for (const { selector, sub, received } of [...early, ...late]) {
      await sub.waitFor(store.revision);
      assert.deepEqual(revs(received), revs(store.read(selector)), JSON.stringify(selector));
      assert.equal(sub.position, store.revision);
    }
  });
});

// ---------------------------------------------------------------------------
// 4. `after`.
// ---------------------------------------------------------------------------

describe("after", () => {
  test('after: "end" delivers only events committed after subscribing', async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store, { after: "end" });
    assert.equal(sub.position, 3, 'an "end" subscription starts at the head');
    await sub.waitFor(3);
    assert.deepEqual(received, []);
    await appendOne(store, "a");
    await appendOne(store, "b");
    await sub.waitFor(5);
    assert.deepEqual(revs(received), [4, 5]);
  });

  test('after: "end" includes a commit made in the same tick right after subscribing', async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store, { after: "end" });
    const commit = store.transact({ events: [event("a"), event("b")] });
    await commit;
    await sub.waitFor(5);
    assert.deepEqual(revs(received), [4, 5]);
  });

  test('after: "end" on an empty store', async () => {
    const store = await newStore();
    const { sub, received } = collect(store, { after: "end" });
    assert.equal(sub.position, 0);
    await appendOne(store, "a");
    await sub.waitFor(1);
    assert.deepEqual(revs(received), [1]);
  });

  test("after: n delivers revisions > n, history then live", async () => {
    const store = await storeOf(5);
    const { sub, received } = collect(store, { after: 2 });
    assert.equal(sub.position, 2);
    await sub.waitFor(5);
    assert.deepEqual(revs(received), [3, 4, 5]);
    await appendOne(store, "a");
    await sub.waitFor(6);
    assert.deepEqual(revs(received), [3, 4, 5, 6]);
  });

  test("after: 0 is the default (from the beginning)", async () => {
    const store = await storeOf(3);
    const zero = collect(store, { after: 0 });
    const dflt = collect(store, {});
    const none = collect(store);
    for (const { sub, received } of [zero, dflt, none]) {
      await sub.waitFor(3);
      assert.deepEqual(revs(received), [1, 2, 3]);
    }
  });

  test("after: the head delivers only new events", async () => {
    const store = await storeOf(4);
    const { sub, received } = collect(store, { after: 4 });
    await appendOne(store, "b");
    await sub.waitFor(5);
    assert.deepEqual(revs(received), [5]);
  });

  test("after beyond the head skips until events pass it", async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store, { after: 5 });
    for (let i = 0; i < 5; i++) await appendOne(store, "a"); // 4..8
    await sub.waitFor(8);
    assert.deepEqual(revs(received), [6, 7, 8]);
  });

  test("after combines with a selector and with matchers", async () => {
    const store = await matcherStore();
    const { sub, received } = collect(store, { after: 2, selector: { stream: "a" } });
    await sub.waitFor(7);
    assert.deepEqual(revs(received), [4]);
    const log = [];
    const m = store.subscribe({ opened: (e) => { log.push(e.revision); } }, { after: 1 });
    await m.waitFor(7);
    assert.deepEqual(log, [3]);
  });
});

// ---------------------------------------------------------------------------
// 5. Delivery is asynchronous.
// ---------------------------------------------------------------------------

describe("asynchronous delivery", () => {
  test("no event is delivered inside the caller's subscribe call", async () => {
    const store = await storeOf(3);
    let inSubscribe = false;
    const seen = [];
    inSubscribe = true;
    const sub = store.subscribe((e) => { seen.push([e.revision, inSubscribe]); });
    const m = store.subscribe({ happened: (e) => { seen.push([e.revision, inSubscribe]); } });
    assert.deepEqual(seen, [], "nothing delivered before subscribe returned");
    inSubscribe = false;
    await sub.waitFor(3);
    await m.waitFor(3);
    assert.equal(seen.length, 6);
    assert.ok(seen.every(([, flag]) => flag === false));
  });

  test("no event is delivered inside the caller's transact call", async () => {
    const store = await storeOf(2);
    let inTransact = false;
    const seen = [];
    const sub = store.subscribe((e) => { seen.push([e.revision, inTransact]); });
    await sub.waitFor(2);
    assert.equal(seen.length, 2);
    for (let i = 0; i < 5; i++) {
      inTransact = true;
      const p = store.transact({ events: [event("a"), event("b")] });
      inTransact = false;
      assert.equal(seen.length, 2 + 2 * i, "nothing delivered before transact returned");
      await p;
      await sub.waitFor(store.revision);
    }
    assert.deepEqual(seen.map(([r]) => r), range(1, 12));
    assert.ok(seen.every(([, flag]) => flag === false));
  });

  test("no event is delivered inside a transact made by another handler", async () => {
    const store = await newStore();
    let inTransact = false;
    const seen = [];
    const watcher = store.subscribe((e) => { seen.push([e.revision, inTransact]); });
    const writer = store.subscribe({
      trigger: (e) => {
        inTransact = true;
        const p = store.transact({ events: [event("out", "reaction", { to: e.revision })] });
        inTransact = false;
        return p.then(() => undefined);
      },
    });
    for (let i = 0; i < 5; i++) await appendOne(store, "in", "trigger");
    await writer.waitFor(10);
    await watcher.waitFor(10);
    assert.equal(store.revision, 10);
    assert.deepEqual(seen.map(([r]) => r).sort((x, y) => x - y), range(1, 10));
    assert.ok(seen.every(([, flag]) => flag === false));
  });
});

// ---------------------------------------------------------------------------
// 6. Re-entrancy.
// ---------------------------------------------------------------------------

describe("re-entrancy", () => {
  test("a handler's own commits are delivered to it after it returns (sync handler)", async () => {
    const store = await newStore();
    const log = [];
    let depth = 0;
    let maxDepth = 0;
    const writes = [];
    const sub = store.subscribe((e) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      log.push(`enter ${e.revision}`);
      if (e.type === "order_placed") {
        writes.push(store.transact({ events: [event(e.stream, "order_confirmed", { for: e.revision })] }));
      }
      log.push(`exit ${e.revision}`);
      depth--;
    });
    await store.transact({ events: [event("o-1", "order_placed"), event("o-2", "order_placed")] }); // 1, 2
    await sub.waitFor(4);
    await Promise.all(writes);
    assert.equal(store.revision, 4);
    assert.equal(maxDepth, 1, "a handler is never re-entered");
    assert.deepEqual(log, ["enter 1", "exit 1", "enter 2", "exit 2", "enter 3", "exit 3", "enter 4", "exit 4"]);
    const confirmed = store.read({ type: "order_confirmed" });
    assert.deepEqual(confirmed.map((e) => [e.revision, e.stream, e.data.for]), [[3, "o-1", 1], [4, "o-2", 2]]);
  });

  test("an async handler may await transact, then read its own write; the write arrives after it resolves", async () => {
    const store = await newStore();
    const log = [];
    const sub = store.subscribe(async (e) => {
      log.push(`enter ${e.revision}`);
      if (e.type === "order_placed") {
        const commit = await store.transact({ events: [event(e.stream, "order_confirmed", { for: e.revision })] });
        const mine = store.read({ stream: e.stream });
        assert.equal(mine[mine.length - 1].revision, commit.revision, "a handler reads its own write");
        assert.equal(store.lastRevision({ type: "order_confirmed" }), commit.revision);
        assert.deepEqual(store.stream(e.stream), { version: commit.streams[e.stream].version, revision: commit.revision });
      }
      log.push(`exit ${e.revision}`);
    });
    await appendOne(store, "o-1", "order_placed");
    await sub.waitFor(2);
    assert.deepEqual(log, ["enter 1", "exit 1", "enter 2", "exit 2"]);
    assert.deepEqual(revs(store.read({ type: "order_confirmed" })), [2]);
    const state = await settledState(sub.done);
    assert.equal(state.status, "pending", "no handler failed");
  });

  test("a handler may subscribe: the new subscription sees everything exactly once", async () => {
    const store = await storeOf(4);
    let inner = null;
    const outer = store.subscribe((e) => {
      if (e.revision === 2) inner = collect(store);
      if (e.revision === 3) inner.tail = collect(store, { after: "end" });
    });
    await outer.waitFor(4);
    await appendOne(store, "a");
    await outer.waitFor(5);
    await inner.sub.waitFor(5);
    await inner.tail.sub.waitFor(5);
    assert.deepEqual(revs(inner.received), [1, 2, 3, 4, 5]);
    assert.deepEqual(revs(inner.tail.received), [5]);
  });

  test("a handler may cancel another subscription: nothing reaches that one afterwards", async () => {
    const store = await storeOf(2);
    let cancelled = false;
    const afterCancel = [];
    const victim = store.subscribe((e) => { if (cancelled) afterCancel.push(e.revision); });
    await victim.waitFor(2);
    const killer = store.subscribe({
      kill: () => {
        victim.cancel();
        cancelled = true;
      },
    });
    await killer.waitFor(2);
    await store.transact({ events: [event("a", "kill"), event("a", "after"), event("b", "after")] });
    await killer.waitFor(5);
    await appendOne(store, "a", "after");
    await killer.waitFor(6);
    await victim.done;
    await turns();
    assert.ok(cancelled);
    assert.deepEqual(afterCancel, []);
  });
});

test('no "recursive use of an object" error reaches a user', async () => {
  await withoutStrayErrors(async () => {
    const store = await newStore();
    const errors = [];
    const writes = [];
    const guard = (fn) => (e) => {
      try {
        return fn(e);
      } catch (err) {
        errors.push(err);
        throw err;
      }
    };
    const pingsDone = deferred();
    const pongsDone = deferred();
    const LAST = 120;

    // A sync handler that reads and writes the store many times over.
    const pings = store.subscribe({
      ping: guard((e) => {
        // Ping n + 1 is written only here, so the store holds pings 0..n.
        assert.equal(store.read({ type: "ping" }).length, e.data.n + 1);
        store.read();
        store.read({ stream: "pings" }, { backwards: true, limit: 3 });
        store.readStream("pings", { fromVersion: 0 });
        store.lastRevision({ type: ["ping", "pong"] });
        store.stream("pings");
        if (e.data.n < LAST) {
          writes.push(store.transact({ events: [event("pings", "ping", { n: e.data.n + 1 })], expect: { pings: { version: e.data.n } } }));
          store.read({ type: "ping" });
        } else {
          pingsDone.resolve();
        }
      }),
    });

    // An async handler that awaits its writes.
    const pongs = store.subscribe({
      pong: async (e) => {
        try {
          store.read();
          if (e.data.n < LAST) {
            const c = await store.transact({ events: [event("pongs", "pong", { n: e.data.n + 1 })], constraints: [{ maxRevision: e.revision, selector: { type: "pong" } }] });
            assert.equal(store.read({ type: "pong" }).at(-1).revision, c.revision);
          } else {
            pongsDone.resolve();
          }
        } catch (err) {
          errors.push(err);
          throw err;
        }
      },
    });

    // A handler that subscribes and cancels from inside, and a plain observer.
    const spawned = [];
    const spawner = store.subscribe(guard((e) => {
      if (e.revision % 25 === 0) spawned.push(collect(store, { selector: { type: "ping" } }));
      if (e.revision % 40 === 0 && spawned.length > 1) spawned[0].sub.cancel();
      store.read({ stream: e.stream }, { to: e.revision });
    }));
    const all = collect(store);

    writes.push(store.transact({ events: [event("pings", "ping", { n: 0 })] }));
    writes.push(store.transact({ events: [event("pongs", "pong", { n: 0 })] }));
    // Other writers keep going meanwhile.
    for (let i = 0; i < 50; i++) {
      const p = store.transact({ events: [event("noise", "noise", { i }), event("notes", "noted", { i })] });
      writes.push(p);
      if (i % 2) await p;
    }
    await pingsDone.promise;
    await pongsDone.promise;
    await Promise.all(writes);
    const head = store.revision;
    assert.equal(head, 2 * (LAST + 1) + 100);
    for (const s of [pings, pongs, spawner, all.sub, ...spawned.slice(1).map((x) => x.sub)]) await s.waitFor(head);
    assert.deepEqual(errors, []);
    for (const s of [pings, pongs, spawner, all.sub]) {
      assert.equal((await settledState(s.done)).status, "pending", "every subscription is still running");
    }
    assert.deepEqual(revs(all.received), range(1, head), "everything delivered");
    assert.deepEqual(store.read({ type: "ping" }).map((e) => e.data.n), range(0, LAST));
    assert.deepEqual(store.read({ type: "pong" }).map((e) => e.data.n), range(0, LAST));
    for (const { received } of spawned.slice(1)) {
      assert.deepEqual(revs(received), revs(store.read({ type: "ping" })));
    }
    for (const s of [pings, pongs, spawner, all.sub, ...spawned.map((x) => x.sub)]) s.cancel();
    for (const s of [pings, pongs, spawner, all.sub]) await s.done;
  });
});

// ---------------------------------------------------------------------------
// 7. Async handlers.
// ---------------------------------------------------------------------------

describe("async handlers", () => {
  test("random delays: events still arrive in order, one at a time per subscription", async () => {
    const store = await newStore();
    const r = rng(42);
    const watchers = [];
    const watch = (options) => {
      const w = { received: [], inFlight: 0, maxInFlight: 0, options };
      w.sub = store.subscribe(async (e) => {
        w.inFlight++;
        w.maxInFlight = Math.max(w.maxInFlight, w.inFlight);
        w.received.push(e);
        if (r() < 0.5) await new Promise((resolve) => setTimeout(resolve, between(r, 0, 3)));
        else await Promise.resolve();
        w.inFlight--;
      }, options);
      watchers.push(w);
    };
    watch();
    watch({ selector: { stream: "s1" } });
    for (let i = 0; i < 40; i++) {
      const events = range(1, between(r, 1, 5)).map(() => event(`s${between(r, 0, 2)}`, "t", { i }));
      const p = store.transact({ events });
      if (i === 10) watch();
      if (i === 20) watch({ after: "end" });
      if (i % 2) await p;
    }
    await appendOne(store, "s0");
    const head = store.revision;
    watch();
    for (const w of watchers) {
      await w.sub.waitFor(head);
      const from = w.options?.after === "end" ? w.received[0]?.revision ?? head + 1 : 1;
      assert.deepEqual(revs(w.received), revs(store.read(w.options?.selector, { from })));
      assert.equal(w.maxInFlight, 1, "never more than one handler call in flight per subscription");
      assert.equal(w.inFlight, 0, "waitFor resolved after the last handler's promise");
    }
  });

  test("the next event waits for the handler's promise", async () => {
    const store = await storeOf(1);
    const gates = new Map();
    const received = [];
    const finished = [];
    const sub = store.subscribe((e) => {
      received.push(e.revision);
      const gate = deferred();
      gates.set(e.revision, gate);
      return gate.promise.then(() => { finished.push(e.revision); });
    });
    await turns();
    assert.deepEqual(received, [1]);
    await appendOne(store, "a");
    await appendOne(store, "b");
    await turns();
    assert.deepEqual(received, [1], "event 2 waits until the promise for event 1 settles");
    const w1 = sub.waitFor(1);
    assert.equal((await settledState(w1)).status, "pending", "event 1 is not handled yet");
    gates.get(1).resolve();
    await w1;
    assert.deepEqual(finished, [1]);
    await turns();
    assert.deepEqual(received, [1, 2]);
    gates.get(2).resolve();
    await turns();
    assert.deepEqual(received, [1, 2, 3]);
    gates.get(3).resolve();
    await sub.waitFor(3);
    assert.deepEqual(finished, [1, 2, 3]);
  });

  test("a slow subscription does not hold up another one", async () => {
    const store = await storeOf(3);
    const gate = deferred();
    const slow = store.subscribe(() => gate.promise);
    const fast = collect(store);
    await fast.sub.waitFor(3);
    await appendOne(store, "a");
    await fast.sub.waitFor(4);
    assert.deepEqual(revs(fast.received), [1, 2, 3, 4]);
    gate.resolve();
    await slow.waitFor(4);
  });
});

// ---------------------------------------------------------------------------
// 8. Faults.
// ---------------------------------------------------------------------------

const THROWN = [
  ["an Error", () => new Error("boom")],
  ["a TypeError", () => new TypeError("nope")],
  ["a string", () => "boom"],
  ["a plain object", () => ({ reason: "not today", code: 7 })],
  ["a number", () => 42],
  ["null", () => null],
  ["undefined", () => undefined],
];

const MODES = [
  ["throws", (value) => () => { throw value; }],
  ["async function throws", (value) => async () => { await null; throw value; }],
  ["returns a rejected promise", (value) => () => Promise.reject(value)],
];

describe("faults", () => {
  for (const [modeName, makeFail] of MODES) {
    for (const [valueName, makeValue] of THROWN) {
      test(`a handler that ${modeName} (${valueName}) ends its own subscription with a HandlerError`, async () => {
        const store = await storeOf(5);
        const thrown = makeValue();
        const fail = makeFail(thrown);
        const calls = [];
        const failing = store.subscribe((e) => {
          calls.push(e.revision);
          if (e.revision === 3) return fail();
        });
        const pending = failing.waitFor(5);
        pending.catch(() => {});
        const healthy = collect(store);
        const err = await rejection(failing.done);
        assertHandlerError(err, thrown, store.read()[2]);
        assert.equal(err.event.revision, 3);
        assert.equal(await rejection(pending), err, "a pending waitFor rejects with the same HandlerError");
        // The store and the other subscriptions carry on.
        const commit = await appendOne(store, "a", "later");
        assert.equal(commit.revision, 6);
        await healthy.sub.waitFor(6);
        assert.deepEqual(revs(healthy.received), range(1, 6));
        await turns();
        assert.deepEqual(calls, [1, 2, 3], "the failed subscription gets nothing more");
        const another = collect(store);
        await another.sub.waitFor(6);
        assert.deepEqual(revs(another.received), range(1, 6));
      });
    }
  }

  test("a failing matcher handler ends its subscription with a HandlerError", async () => {
    const store = await matcherStore();
    const thrown = { why: "matcher" };
    const seen = [];
    const sub = store.subscribe({
      opened: (e) => { seen.push(e.revision); },
      deposited: (e) => { seen.push(e.revision); if (e.stream === "b") throw thrown; },
    });
    const err = await rejection(sub.done);
    assertHandlerError(err, thrown, store.read()[4]);
    assert.deepEqual(seen, [1, 2, 3, 5]);
  });

  test("a live event that makes a handler fail: later events of the same batch are not delivered", async () => {
    const store = await storeOf(2);
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e.revision);
      if (e.data?.fail) throw new Error("bad event");
    });
    await sub.waitFor(2);
    await store.transact({ events: [event("a", "x", {}), event("a", "x", { fail: true }), event("a", "x", {})] });
    const err = await rejection(sub.done);
    assert.equal(err.event, store.read()[3]);
    assert.equal(err.cause.message, "bad event");
    await turns();
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  test("waitFor called after a handler failed rejects with that HandlerError", async () => {
    // SEMANTICS: "waitFor(r) rejects if the subscription stops before reaching
    // r: with its HandlerError if a handler failed, else with … STOPPED".
    const store = await storeOf(5);
    const thrown = new Error("boom");
    const sub = store.subscribe((e) => { if (e.revision === 3) throw thrown; });
    const err = await rejection(sub.done);
    const late = await rejection(sub.waitFor(5));
    assert.ok(late instanceof HandlerError, `expected the HandlerError, got code ${late?.code}: ${late?.message}`);
    assert.equal(late, err);
  });

  test("a failing handler nobody listens to raises no unhandled rejection", async () => {
    await withoutStrayErrors(async () => {
      const store = await storeOf(3);
      store.subscribe(() => { throw new Error("ignored"); });
      store.subscribe(async () => { throw "ignored too"; });
      const watcher = collect(store);
      await watcher.sub.waitFor(3);
      await turns();
      await appendOne(store, "a");
      await watcher.sub.waitFor(4);
    });
  });

  test("cancel after a failure changes nothing: done stays rejected", async () => {
    const store = await storeOf(2);
    const thrown = "x";
    const sub = store.subscribe(() => { throw thrown; });
    const err = await rejection(sub.done);
    sub.cancel();
    assert.equal(await rejection(sub.done), err);
  });
});

// ---------------------------------------------------------------------------
// 9. "stop".
// ---------------------------------------------------------------------------

describe('"stop"', () => {
  const STOPPERS = [
    ['returning "stop"', () => "stop"],
    ['returning a promise of "stop"', () => Promise.resolve("stop")],
    ['an async handler resolving to "stop"', async () => { await new Promise((r) => setTimeout(r, 1)); return "stop"; }],
  ];
  for (const [name, stop] of STOPPERS) {
    test(`${name}: done resolves, nothing more is delivered, position is the stop event's revision`, async () => {
      const store = await storeOf(5);
      const seen = [];
      const sub = store.subscribe((e) => {
        seen.push(e.revision);
        if (e.revision === 3) return stop();
        return undefined;
      });
      assert.equal(await sub.done, undefined);
      assert.equal(sub.position, 3);
      await sub.waitFor(3);
      assertStopped(await rejection(sub.waitFor(4)));
      await appendOne(store, "a");
      const other = collect(store);
      await other.sub.waitFor(6);
      await turns();
      assert.deepEqual(seen, [1, 2, 3]);
      assert.equal(sub.position, 3, "position no longer moves");
    });
  }

  test('"stop" on a live event mid-batch: the rest of the batch is not delivered', async () => {
    const store = await storeOf(2);
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e.revision);
      return e.type === "last_call" ? "stop" : undefined;
    });
    await sub.waitFor(2);
    const pending = sub.waitFor(6);
    await store.transact({ events: [event("a", "x"), event("a", "last_call"), event("a", "x"), event("b", "x")] }); // 3..6
    await sub.done;
    assertStopped(await rejection(pending));
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(sub.position, 4);
  });

  test('a matcher handler may return "stop"; the position is that event', async () => {
    const store = await matcherStore();
    const seen = [];
    const sub = store.subscribe({
      opened: (e) => { seen.push(e.revision); return e.stream === "b" ? "stop" : undefined; },
      note: (e) => { seen.push(e.revision); },
    });
    await sub.done;
    assert.deepEqual(seen, [1, 3]);
    assert.equal(sub.position, 3);
  });
});

// ---------------------------------------------------------------------------
// 10. cancel().
// ---------------------------------------------------------------------------

describe("cancel", () => {
  test("cancel between commits: nothing afterwards, done resolves", async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store);
    await sub.waitFor(3);
    sub.cancel();
    assert.equal(await sub.done, undefined);
    await appendOne(store, "a");
    await appendOne(store, "b");
    const other = collect(store);
    await other.sub.waitFor(5);
    await turns();
    assert.deepEqual(revs(received), [1, 2, 3]);
    assert.equal(sub.position, 3);
  });

  test("an event committed just before cancel (same tick) is not delivered", async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store);
    await sub.waitFor(3);
    const p = store.transact({ events: [event("a"), event("b")] });
    sub.cancel();
    await p;
    await sub.done;
    await turns();
    assert.deepEqual(revs(received), [1, 2, 3]);
  });

  test("cancel right after subscribe: no history is delivered", async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store);
    sub.cancel();
    await sub.done;
    await turns();
    assert.deepEqual(received, []);
  });

  test("cancel from inside a handler: the following events are not delivered", async () => {
    const store = await storeOf(6);
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e.revision);
      if (e.revision === 2) sub.cancel();
    });
    await sub.done;
    await appendOne(store, "a");
    await turns();
    assert.deepEqual(seen, [1, 2]);
  });

  test("cancel from inside a handler, live, mid-batch", async () => {
    const store = await newStore();
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e.revision);
      if (e.data.cancel) sub.cancel();
    });
    await store.transact({ events: [event("a", "x", {}), event("a", "x", { cancel: true }), event("a", "x", {})] });
    await sub.done;
    await turns();
    assert.deepEqual(seen, [1, 2]);
  });

  test("cancel while a handler awaits: that handler finishes, nothing more is delivered", async () => {
    const store = await storeOf(4);
    const gate = deferred();
    const seen = [];
    let finished = false;
    const sub = store.subscribe(async (e) => {
      seen.push(e.revision);
      if (e.revision === 2) {
        await gate.promise;
        finished = true;
      }
    });
    await turns();
    assert.deepEqual(seen, [1, 2]);
    sub.cancel();
    gate.resolve();
    await sub.done;
    await turns();
    assert.ok(finished, "the awaited handler ran to its end");
    assert.deepEqual(seen, [1, 2]);
  });

  test('a pending waitFor rejects with code "STOPPED"; reached revisions still resolve', async () => {
    const store = await storeOf(3);
    const sub = store.subscribe(() => {});
    await sub.waitFor(3);
    const pending = sub.waitFor(10);
    sub.cancel();
    assertStopped(await rejection(pending));
    assertStopped(await rejection(sub.waitFor(4)));
    await sub.waitFor(3);
    await sub.waitFor(0);
  });

  test("cancel twice, and cancel after stop, are harmless", async () => {
    const store = await storeOf(3);
    const a = store.subscribe(() => {});
    a.cancel();
    a.cancel();
    assert.equal(await a.done, undefined);
    const b = store.subscribe(() => "stop");
    await b.done;
    b.cancel();
    assert.equal(await b.done, undefined);
    assert.equal(b.position, 1);
  });

  test("cancelling one subscription leaves the others running", async () => {
    const store = await storeOf(2);
    const a = collect(store);
    const b = collect(store);
    await a.sub.waitFor(2);
    a.sub.cancel();
    await appendOne(store, "a");
    await b.sub.waitFor(3);
    assert.deepEqual(revs(b.received), [1, 2, 3]);
    assert.deepEqual(revs(a.received), [1, 2]);
  });
});

// ---------------------------------------------------------------------------
// 11. waitFor.
// ---------------------------------------------------------------------------

describe("waitFor", () => {
  test("resolves at once for revisions already reached", async () => {
    const store = await storeOf(5);
    const sub = store.subscribe(() => {});
    assert.equal((await settledState(sub.waitFor(0))).status, "fulfilled");
    await sub.waitFor(5);
    for (const r of [0, 1, 3, 5]) {
      assert.equal((await settledState(sub.waitFor(r))).status, "fulfilled", `waitFor(${r})`);
    }
    assert.equal(sub.waitFor(4) instanceof Promise, true);
  });

  test("resolves over events the selector does not match, position becomes the head", async () => {
    const store = await newStore();
    await appendOne(store, "x");
    for (let i = 0; i < 4; i++) await appendOne(store, "y");
    const { sub, received } = collect(store, { selector: { stream: "x" } });
    await sub.waitFor(5);
    assert.equal(sub.position, 5);
    assert.deepEqual(revs(received), [1]);
  });

  test("a pending waitFor resolves once later non-matching commits reach it", async () => {
    const store = await storeOf(3);
    const { sub, received } = collect(store, { selector: { stream: "never" } });
    await sub.waitFor(3);
    const pending = sub.waitFor(5);
    assert.equal((await settledState(pending)).status, "pending");
    await appendOne(store, "a");
    assert.equal((await settledState(pending)).status, "pending", "4 < 5");
    await appendOne(store, "b");
    await pending;
    assert.equal(sub.position, 5);
    assert.deepEqual(received, []);
  });

  test("waitFor(r) resolves only after the handler for r has run", async () => {
    const store = await storeOf(2);
    const handled = [];
    const sub = store.subscribe(async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      handled.push(e.revision);
    });
    const commit = await appendOne(store, "a");
    await sub.waitFor(commit.revision);
    assert.deepEqual(handled, [1, 2, 3]);
    assert.equal(sub.position, 3);
  });

  test("several waiters resolve in turn", async () => {
    const store = await newStore();
    const sub = store.subscribe(() => {});
    const order = [];
    const waits = [3, 1, 2].map((r) => sub.waitFor(r).then(() => order.push(r)));
    for (let i = 0; i < 3; i++) await appendOne(store, "a");
    await Promise.all(waits);
    assert.deepEqual(order.slice().sort(), [1, 2, 3]);
  });

  for (const bad of [-1, 1.5, "3", NaN, Infinity, null, undefined, 2 ** 53]) {
    test(`waitFor(${String(bad)}) rejects with an InvalidInputError at "revision"`, async () => {
      const store = await storeOf(1);
      const sub = store.subscribe(() => {});
      let p;
      assert.doesNotThrow(() => { p = sub.waitFor(bad); }, "waitFor reports bad input by rejecting");
      assertInvalidInputError(await rejection(p), "revision");
    });
  }
});

// ---------------------------------------------------------------------------
// 13. Bad input to subscribe throws synchronously.
// ---------------------------------------------------------------------------

describe("bad input to subscribe", () => {
  const h = () => {};
  const CASES = [
    ["handler not a function", () => [42], "handler"],
    ["handler missing", () => [], "handler"],
    ["handler null", () => [null], "handler"],
    ["handler a string", () => ["account_opened"], "handler"],
    ["handler an array", () => [[h]], "handler"],
    ["matcher object with no types", () => [{}], "handler"],
    ["a matcher that is not a function", () => [{ account_opened: h, money_deposited: 1 }], ["handler.money_deposited", 'handler["money_deposited"]']],
    ["a matcher key that is not an identifier", () => [{ "acc-opened": "x" }], 'handler["acc-opened"]'],
    ["a misspelt selector key", () => [h, { selector: { steam: "x" } }], "options.selector.steam"],
    ["a selector with an empty stream", () => [h, { selector: { stream: "" } }], "options.selector.stream"],
    ["a selector of the wrong type", () => [h, { selector: "acc-1" }], "options.selector"],
    ["an empty selector array", () => [h, { selector: [] }], "options.selector"],
    ["a bad selector inside an array", () => [h, { selector: [{ stream: "a" }, { typ: "x" }] }], "options.selector[1].typ"],
    ["a selector field undefined", () => [h, { selector: { stream: undefined } }], "options.selector.stream"],
    ["an unknown option", () => [h, { foo: 1 }], "options.foo"],
    ["a misspelt option", () => [h, { afer: 1 }], "options.afer"],
    ["options not an object", () => [h, 5], "options"],
    ["after negative", () => [h, { after: -1 }], "options.after"],
    ["after fractional", () => [h, { after: 1.5 }], "options.after"],
    ["after a word other than end", () => [h, { after: "start" }], "options.after"],
    ["after a numeric string", () => [h, { after: "3" }], "options.after"],
    ["after null", () => [h, { after: null }], "options.after"],
    ["after NaN", () => [h, { after: NaN }], "options.after"],
    ["after unsafe", () => [h, { after: 2 ** 53 }], "options.after"],
    ["matchers with a bad selector", () => [{ a: h }, { selector: { tags: "x" } }], "options.selector.tags"],
  ];
  for (const [name, args, path] of CASES) {
    test(`${name} → InvalidInputError at ${JSON.stringify(path)}`, async () => {
      const store = await storeOf(2);
      const called = [];
      const spy = (e) => { called.push(e.revision); };
      const a = args().map((x) => (x === h ? spy : x));
      throwsInvalid(() => store.subscribe(...a), path);
      await turns();
      assert.deepEqual(called, [], "a refused subscription never delivers");
    });
  }

  test("options.after: undefined counts as absent", async () => {
    const store = await storeOf(2);
    const { sub, received } = collect(store, { after: undefined, selector: undefined });
    await sub.waitFor(2);
    assert.deepEqual(revs(received), [1, 2]);
  });

  test("InvalidInputError is the exported class", () => {
    assert.equal(typeof InvalidInputError, "function");
  });
});
