// SPEC §5 "Subscriptions" and docs/SEMANTICS.md "Subscriptions and
// projections": every matching event exactly once, in revision order, with
// no gap at the seam between history and live events, and never an event of
// a failed batch.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, revs, range, collect, turns } from "./helpers.mjs";
import { storeOf } from "./subscribe-helpers.mjs";

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
