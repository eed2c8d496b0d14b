// Subscription.waitFor: resolves once the position reaches a revision,
// delivered or passed over.
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, appendOne, revs, collect, settledState, rejection, assertInvalidInputError } from "./helpers.mjs";
import { storeOf } from "./subscribe-helpers.mjs";

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
