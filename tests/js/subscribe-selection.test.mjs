// Which events a subscription receives (SPEC §5): matchers by type,
// selectors, and where it starts (`after`).
//
// Nothing here sleeps to synchronise: tests wait with waitFor, done or
// promises they control. `turns()` only gives the store room to do something
// it must not do (deliver after cancel, or while a handler is pending).

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { newStore, event, appendOne, revs, range, collect, rng, between } from "./helpers.mjs";
import { storeOf, matcherStore } from "./subscribe-helpers.mjs";

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
