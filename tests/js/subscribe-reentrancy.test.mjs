// Handlers that call back into the store: transact, read, subscribe and
// cancel from inside a handler, and never a "recursive use of an object"
// error reaching a user.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, appendOne, revs, range, collect, deferred, turns, settledState, withoutStrayErrors } from "./helpers.mjs";
import { storeOf } from "./subscribe-helpers.mjs";

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
