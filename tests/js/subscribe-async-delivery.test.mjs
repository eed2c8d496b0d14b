// When handlers run (SPEC §5, docs/SEMANTICS.md): never inside the caller's
// subscribe or transact, and, for async handlers, one event at a time per
// subscription, each waiting for the handler's promise.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, appendOne, revs, range, collect, deferred, turns, rng, between, settledState } from "./helpers.mjs";
import { storeOf } from "./subscribe-helpers.mjs";

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
