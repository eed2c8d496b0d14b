// SPEC §1 and §3: event data (and metadata) round-trips exactly, including
// keys that could touch prototypes; reading never changes any prototype, and
// recorded events are immutable: frozen all the way down, so no reader can
// change what another reads.

import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { newStore, event } from "./helpers.mjs";

/** Writes `data` as one event and returns the data read back. */
async function roundTrip(data, extra = {}) {
  const store = await newStore();
  await store.transact({ events: [event("s", "t", data, extra)] });
  const [e] = store.read();
  return { store, e, data: e.data };
}

/** Deep-equal and the same JSON text (so also the same key order). */
function assertSameJson(actual, expected) {
  assert.deepEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

/** Every object and array inside `value` has the ordinary prototype. */
function assertOrdinaryPrototypes(value, path = "data") {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    assert.equal(Object.getPrototypeOf(value), Array.prototype, `${path} is a plain array`);
    value.forEach((v, i) => assertOrdinaryPrototypes(v, `${path}[${i}]`));
    return;
  }
  assert.equal(Object.getPrototypeOf(value), Object.prototype, `${path} has prototype Object.prototype`);
  for (const k of Object.keys(value)) assertOrdinaryPrototypes(value[k], `${path}[${JSON.stringify(k)}]`);
}

function assertNothingPolluted() {
  for (const key of ["x", "polluted", "isAdmin"]) {
    assert.equal(Object.prototype[key], undefined, `Object.prototype.${key} stays undefined`);
    assert.equal(({})[key], undefined);
    assert.equal(Array.prototype[key], undefined, `Array.prototype.${key} stays undefined`);
  }
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
}

afterEach(() => assertNothingPolluted());

const values = {
  "an object": { amount: 30, currency: "EUR" },
  "an array": [1, "two", null, true, { three: 3 }],
  "a string": "just a string",
  "an empty string": "",
  "a number": 42,
  "zero": 0,
  "a negative number": -17.25,
  "true": true,
  "false": false,
  "null": null,
  "an empty object": {},
  "an empty array": [],
  "nested arrays and objects": { a: [[1, [2, [3, []]]], { b: { c: { d: [{}, [], null] } } }], e: { "": "" } },
  "arrays of objects": [{ id: 1, tags: ["a"] }, { id: 2, tags: [] }, { id: 3 }],
  "unicode strings and keys": { "ключ": "значение", "键": "值", "emoji 😀": "🎉👩‍👩‍👧", accents: "héllo wörld", rtl: "مرحبا", zwj: "a\u200db" },
  "escapes and control characters": { s: "quote \" backslash \\ slash / newline \n tab \t nul \u0000 bell \u0007 del \u007f", "key\nwith\tcontrols": 1 },
  "line and paragraph separators": { s: "a\u2028b\u2029c" },
  "a non-BMP string": "𝄞 𐍈 🀄",
  "big and small numbers": {
    maxSafe: Number.MAX_SAFE_INTEGER,
    minSafe: Number.MIN_SAFE_INTEGER,
    beyondSafe: 2 ** 60,
    huge: 1e308,
    maxValue: Number.MAX_VALUE,
    tiny: 5e-324,
    minNormal: 2.2250738585072014e-308,
    epsilon: Number.EPSILON,
    negTiny: -1e-7,
    third: 1 / 3,
    tenth: 0.1,
    sum: 0.1 + 0.2,
    exp21: 1e21,
    exp20: 1e20,
    pi: Math.PI,
    long: 123456789.12345679,
    negHuge: -1.7976931348623157e308,
  },
  "numbers that look like integers and floats": [1, 1.0, 1.5, -0.5, 100, 1e2, 2.5e-5],
  "keys in a particular order": { zeta: 1, alpha: 2, mid: { z: 1, a: 2, m: [{ y: 1, b: 2 }] } },
  "keys that look like numbers": { 10: "ten", 2: "two", "01": "zero-one", "-1": "minus", "1.5": "x" },
  "keys named like Object.prototype members": {
    constructor: "c", toString: "t", valueOf: 1, hasOwnProperty: false, isPrototypeOf: null,
    propertyIsEnumerable: [], toLocaleString: {}, __defineGetter__: "g", __lookupSetter__: "l",
  },
  "a toJSON key holding plain data": { toJSON: 1, nested: { toJSON: "not a function" } },
  "a long string": "x".repeat(200_000),
  "a long array": Array.from({ length: 10_000 }, (_, i) => i * 1.5),
};

for (const [name, data] of Object.entries(values)) {
  test(`data round-trips exactly: ${name}`, async () => {
    const read = await roundTrip(structuredClone(data));
    assertSameJson(read.data, data);
    assertOrdinaryPrototypes(read.data);
  });
}

test("data round-trips exactly when deeply nested (500 levels)", async () => {
  let data = { leaf: true };
  for (let i = 0; i < 500; i++) data = i % 2 ? { level: i, child: data } : [i, data];
  const read = await roundTrip(data);
  assertSameJson(read.data, data);
});

test("a lone surrogate in a string round-trips exactly", async () => {
  const data = { hi: "\ud800", lo: "x\udc00y" };
  const read = await roundTrip(data);
  assert.equal(read.data.hi, "\ud800");
  assert.equal(read.data.lo, "x\udc00y");
});

test("-0 reads back as 0", async () => {
  const top = await roundTrip(-0);
  assert.ok(Object.is(top.data, 0), "top-level -0 reads back as +0");
  const nested = await roundTrip({ a: -0, b: [-0, { c: -0 }] });
  assert.deepEqual(nested.data, { a: 0, b: [0, { c: 0 }] });
  assert.ok(Object.is(nested.data.a, 0));
  assert.ok(Object.is(nested.data.b[0], 0));
  assert.ok(Object.is(nested.data.b[1].c, 0));
});

test("-0 in metadata reads back as 0", async () => {
  const { e } = await roundTrip({}, { metadata: { z: -0 } });
  assert.ok(Object.is(e.metadata.z, 0));
});

test("an object with a null prototype is accepted and reads back as a plain object", async () => {
  const data = Object.create(null);
  data.a = 1;
  data.inner = Object.assign(Object.create(null), { b: [2] });
  const read = await roundTrip(data);
  assert.deepEqual(read.data, { a: 1, inner: { b: [2] } });
  assertOrdinaryPrototypes(read.data);
});

// --- keys that could touch prototypes ---------------------------------------

test("a __proto__ key round-trips as plain own data", async () => {
  const data = JSON.parse('{"__proto__": {"x": 1}}');
  assert.ok(Object.hasOwn(data, "__proto__"));
  const read = await roundTrip(data);
  assert.ok(Object.hasOwn(read.data, "__proto__"), "__proto__ is an own key of the read data");
  assert.deepEqual(Object.keys(read.data), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(read.data), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(read.data, "__proto__").value, { x: 1 });
  assert.equal(read.data.x, undefined, "the read object did not inherit x");
  assert.equal(JSON.stringify(read.data), '{"__proto__":{"x":1}}');
  assertSameJson(read.data, data);
});

test("__proto__ keys at every depth round-trip and pollute nothing", async () => {
  const text = '{"a":{"__proto__":{"polluted":true}},"b":[{"__proto__":{"isAdmin":true}}],'
    + '"__proto__":[1,2],"c":{"__proto__":null},"d":{"__proto__":"s"}}';
  const data = JSON.parse(text);
  const read = await roundTrip(data);
  assert.equal(JSON.stringify(read.data), text);
  assertSameJson(read.data, data);
  assertOrdinaryPrototypes(read.data);
  assert.equal(read.data.a.polluted, undefined);
  assert.equal(read.data.b[0].isAdmin, undefined);
  assert.ok(Object.hasOwn(read.data.c, "__proto__"));
  assert.equal(Object.getOwnPropertyDescriptor(read.data.c, "__proto__").value, null);
});

test("constructor.prototype keys round-trip and pollute nothing", async () => {
  const data = JSON.parse('{"constructor":{"prototype":{"polluted":true}},"x":{"constructor":{"prototype":{"isAdmin":1}}}}');
  const read = await roundTrip(data);
  assertSameJson(read.data, data);
  assertOrdinaryPrototypes(read.data);
  assert.equal(read.data.polluted, undefined);
});

test("__proto__ and constructor keys in metadata round-trip and pollute nothing", async () => {
  const metadata = JSON.parse('{"__proto__":{"x":1},"constructor":{"prototype":{"polluted":true}}}');
  const { e } = await roundTrip({}, { metadata });
  assertSameJson(e.metadata, metadata);
  assert.ok(Object.hasOwn(e.metadata, "__proto__"));
  assertOrdinaryPrototypes(e.metadata, "metadata");
});

test("a top-level array holding __proto__ objects round-trips", async () => {
  const data = JSON.parse('[{"__proto__":{"x":1}},{"__proto__":[]}]');
  const read = await roundTrip(data);
  assertSameJson(read.data, data);
  assertOrdinaryPrototypes(read.data);
});

test("__proto__ data reads back the same through read, readStream and after other writes", async () => {
  const data = JSON.parse('{"__proto__":{"x":1},"k":2}');
  const store = await newStore();
  await store.transact({ events: [event("s", "t", data)] });
  await store.transact({ events: [event("s", "t", { other: true })] });
  assertSameJson(store.read()[0].data, data);
  assertSameJson(store.readStream("s")[0].data, data);
  assertSameJson(store.read(undefined, { backwards: true })[1].data, data);
  assertSameJson(store.read({ stream: "s" }, { limit: 1 })[0].data, data);
});

// --- immutable events -------------------------------------------------------

/** Every object reachable from `v`, with its path. */
function* objectsIn(v, path = "event") {
  if (v === null || typeof v !== "object") return;
  yield [path, v];
  for (const k of Object.keys(v)) yield* objectsIn(v[k], `${path}.${k}`);
}

test("recorded events are frozen all the way down", async () => {
  const store = await newStore();
  await store.transact({ events: [event("s", "t", { a: { b: [1, { c: 2 }] } }, { tags: ["x"], metadata: { m: { n: 1 } } })] });
  const [e] = store.read();
  let seen = 0;
  for (const [path, obj] of objectsIn(e)) {
    assert.ok(Object.isFrozen(obj), `${path} is frozen`);
    seen++;
  }
  assert.equal(seen, 8); // event, data, a, b, b[1], tags, metadata, m
});

test("mutating a read event throws and changes neither the store nor other reads", async () => {
  const store = await newStore();
  await store.transact({ events: [event("s", "t", { a: { b: 1 }, list: [1] }, { tags: ["x"], metadata: { m: 1 } })] });
  const pristine = structuredClone(store.read()[0]);
  const mutated = store.read()[0];
  // Modules run in strict mode: writing to a frozen object throws.
  assert.throws(() => { mutated.data.a.b = 99; }, TypeError);
  assert.throws(() => mutated.data.list.push(2), TypeError);
  assert.throws(() => mutated.tags.push("y"), TypeError);
  assert.throws(() => { mutated.metadata.m = 2; }, TypeError);
  assert.throws(() => { mutated.type = "changed"; }, TypeError);
  assert.throws(() => { delete mutated.stream; }, TypeError);
  assert.deepEqual(store.read()[0], pristine);
  assert.deepEqual(store.readStream("s")[0], pristine);
  assert.equal(store.revision, 1);
  assert.deepEqual(store.read({ type: "t" }).length, 1);
});

test("each read returns a new array", async () => {
  const store = await newStore();
  await store.transact({ events: [event("s", "t", 1)] });
  const a = store.read();
  const b = store.read();
  assert.notEqual(a, b);
  a.pop();
  assert.equal(store.read().length, 1);
});

test("mutating the input after transact does not change the stored event", async () => {
  const store = await newStore();
  const data = { a: { b: 1 }, list: [1] };
  const tags = ["x"];
  const metadata = { m: 1 };
  const request = { events: [event("s", "t", data, { tags, metadata })] };
  await store.transact(request);
  data.a.b = 2;
  data.list.push(2);
  tags.push("y");
  metadata.m = 2;
  request.events[0].type = "changed";
  const [e] = store.read();
  assert.deepEqual(e.data, { a: { b: 1 }, list: [1] });
  assert.deepEqual(e.tags, ["x"]);
  assert.deepEqual(e.metadata, { m: 1 });
  assert.equal(e.type, "t");
});

test("mutating a commit does not change the store", async () => {
  const store = await newStore();
  const commit = await store.transact({ events: [event("s")] });
  commit.streams.s.version = 9;
  commit.revision = 9;
  assert.deepEqual(store.stream("s"), { version: 0, revision: 1 });
  assert.equal(store.revision, 1);
});

test("mutating the result of stream() does not change the store", async () => {
  const store = await newStore();
  await store.transact({ events: [event("s")] });
  const cursor = store.stream("s");
  cursor.version = 5;
  assert.deepEqual(store.stream("s"), { version: 0, revision: 1 });
});
