// Ending a subscription: a handler returning "stop", and cancel() from
// outside or inside a handler; nothing is delivered afterwards.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, appendOne, revs, collect, deferred, turns, rejection } from "./helpers.mjs";
import { storeOf, assertStopped, matcherStore } from "./subscribe-helpers.mjs";

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
