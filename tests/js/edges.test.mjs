// Edges found by hostile use: positions that must never decrease, input
// read once with no state shared between stores, projections' own edges,
// and input that JSON would not keep unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, HandlerError, InvalidInputError } from "hindcast";

const ev = (stream, type = "t", data = {}) => ({ stream, type, data });

async function rejects(promise, path, pattern) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof InvalidInputError, String(err));
  assert.equal(err.path, path);
  if (pattern) assert.match(err.message, pattern);
}

test("a subscription's position never goes down: not when a commit wakes it, not on cancel", async () => {
  const store = await EventStore.memory();
  const sub = store.subscribe(() => {}, { selector: { stream: "a" } });
  await store.transact({ events: [ev("a")] });
  await sub.waitFor(1);
  for (let i = 0; i < 5; i++) await store.transact({ events: [ev("b")] });
  const shown = [sub.position];
  const woken = store.transact({ events: [ev("a")] }); // wakes it, synchronously
  shown.push(sub.position); // before its loop resumes
  await woken;
  await sub.waitFor(7);
  shown.push(sub.position);
  for (let i = 0; i < 3; i++) await store.transact({ events: [ev("b")] });
  shown.push(sub.position);
  sub.cancel();
  shown.push(sub.position);
  assert.deepEqual(shown, [6, 6, 7, 10, 10]);
  // What the position showed, waitFor grants.
  assert.equal(await sub.waitFor(10), undefined);
});

test("a projection's position never goes down on close", async () => {
  const store = await EventStore.memory();
  const proj = store.project({ initial: 0, on: { counted: (s) => s + 1 } });
  await store.transact({ events: [ev("a", "counted")] });
  await proj.waitFor(1);
  await store.transact({ events: [ev("a", "other"), ev("b", "other")] });
  assert.equal(proj.position, 3);
  proj.close();
  assert.equal(proj.position, 3);
  assert.equal(await proj.waitFor(3), undefined);
});

test("each event field is read once, and no request state is shared between stores", async () => {
  const one = await EventStore.memory();
  const two = await EventStore.memory();
  let reads = 0;
  const fickle = {
    get stream() {
      reads++;
      return reads % 2 === 1 ? "odd" : "even";
    },
    type: "t",
  };
  const commit = await one.transact({ events: [fickle] });
  assert.equal(reads, 1);
  assert.deepEqual(Object.keys(commit.streams), ["odd"]);
  assert.deepEqual(one.read().map((e) => e.stream), ["odd"]);
  // A plain request in another store is indexed under its own stream.
  await two.transact({ events: [{ stream: "even", type: "t" }] });
  await two.transact({ events: [{ stream: "odd", type: "t" }] });
  assert.deepEqual(two.read({ stream: "odd" }).map((e) => e.revision), [2]);
  assert.deepEqual(two.read({ stream: "even" }).map((e) => e.revision), [1]);
});

test("a fold for the type __proto__ runs like any other", async () => {
  const store = await EventStore.memory();
  const on = { ["__proto__"]: (s) => s + 1, other: (s) => s + 10 };
  const proj = store.project({ initial: 0, on });
  await store.transact({ events: [ev("a", "__proto__"), ev("a", "other"), ev("a", "__proto__")] });
  await proj.waitFor(3);
  assert.equal(proj.state, 12);
});

test("a fold that throws mid-run still reports the state the folds before it made", async () => {
  const store = await EventStore.memory();
  const proj = store.project({
    initial: { n: 0 },
    on: {
      add: (s, e) => {
        if (e.data.fail) throw new Error("bad fold");
        return { n: s.n + e.data.k };
      },
    },
  });
  const changes = [];
  proj.onChange((state, position) => changes.push([state.n, position]));
  await store.transact({ events: [ev("a", "add", { k: 1 }), ev("a", "add", { k: 2 }), ev("a", "add", { fail: true })] });
  const err = await proj.done.then(() => null, (e) => e);
  assert.ok(err instanceof HandlerError);
  assert.equal(err.event.revision, 3);
  assert.deepEqual(changes, [[3, 2]]);
  assert.deepEqual(proj.state, { n: 3 });
});

test("data nested deeper than 1000 levels is refused with its path, memory store too", async () => {
  const store = await EventStore.memory();
  let ok = null;
  for (let i = 0; i < 1000; i++) ok = { d: ok };
  await store.transact({ events: [ev("a", "t", ok)] });
  let deep = {};
  for (let i = 0; i < 5000; i++) deep = [deep];
  await rejects(store.transact({ events: [ev("a", "t", deep)] }), "events[0].data" + "[0]".repeat(1000), /nested more than 1000 levels/);
  assert.equal(store.revision, 1);
});

test("arrays with extra properties, toJSON methods and Array subclasses are refused, not normalised", async () => {
  const store = await EventStore.memory();
  const extra = Object.assign([1, 2], { note: "dropped by JSON" });
  class List extends Array {}
  const withToJson = { a: 1 };
  Object.defineProperty(withToJson, "toJSON", { value: () => "other", enumerable: false });
  const arrayToJson = [1];
  Object.defineProperty(arrayToJson, "toJSON", { value: () => [], enumerable: false });
  await rejects(store.transact({ events: [ev("a", "t", { list: extra })] }), "events[0].data.list.note", /property of an array/);
  await rejects(store.transact({ events: [ev("a", "t", { list: List.from([1]) })] }), "events[0].data.list", /would not survive JSON/);
  await rejects(store.transact({ events: [ev("a", "t", withToJson)] }), "events[0].data", /toJSON/);
  await rejects(store.transact({ events: [{ ...ev("a"), metadata: { m: arrayToJson } }] }), "events[0].metadata.m", /toJSON/);
  await rejects(store.transact({ events: [{ ...ev("a"), tags: Object.assign(["x"], { y: 1 }) }] }), "events[0].tags.y", /property of an array/);
  assert.equal(store.revision, 0);
});

test("a matcher or fold keyed by the empty type is refused", async () => {
  const store = await EventStore.memory();
  assert.throws(() => store.subscribe({ "": () => {} }), (e) => e instanceof InvalidInputError && e.path === 'handler[""]');
  assert.throws(
    () => store.project({ initial: 0, on: { "": (s) => s } }),
    (e) => e instanceof InvalidInputError && e.path === 'on[""]',
  );
});

test("a lone surrogate in a stream name says so", async () => {
  const store = await EventStore.memory();
  await rejects(store.transact({ events: [ev("acc-\ud800")] }), "events[0].stream", /lone surrogate/);
  await rejects(store.transact({ events: [ev("a")], expect: { "b\udc00": "any" } }), "expect", /lone surrogate/);
  // In data, where JSON keeps it, it round-trips.
  await store.transact({ events: [ev("a", "t", { s: "x\ud800" })] });
  assert.equal(store.read()[0].data.s, "x\ud800");
});
