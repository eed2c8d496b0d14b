// A handler that throws or rejects ends its own subscription with a
// HandlerError (`.cause`, `.event`); the store and other subscriptions carry
// on.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { HandlerError } from "hindcast";
import { event, appendOne, revs, range, collect, turns, withoutStrayErrors, rejection } from "./helpers.mjs";
import { storeOf, assertHandlerError, matcherStore } from "./subscribe-helpers.mjs";

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
