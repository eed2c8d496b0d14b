// SPEC §3 "Bad input" and §4: every kind of bad input makes transact REJECT
// (never throw synchronously) with an InvalidInputError naming the exact path
// (SEMANTICS.md "Input" and "Selectors"), and changes nothing; the synchronous
// reads throw the same error.

import { test } from "node:test";
import assert from "node:assert/strict";
import { HindcastError, InvalidInputError } from "hindcast";
import {
  storeWith, event, uuid, rejectsInvalid, throwsInvalid, callAsync, rejection, assertInvalidInputError,
  snapshot, assertUnchanged,
} from "./helpers.mjs";

const fixture = () => storeWith(["s", "acc-1", "s"]);
const ok = (extra = {}) => ({ stream: "s", type: "t", data: { x: 1 }, ...extra });
const withEvent = (e) => ({ events: [e] });
const withData = (data) => withEvent(ok({ data }));
const withConstraint = (c) => ({ events: [ok()], constraints: [c] });
const withSelector = (selector) => withConstraint({ maxRevision: 10, selector });
const withExpect = (expect) => ({ events: [ok()], expect });

class Money {
  constructor() { this.amount = 1; }
}

// [name, () => request, path]. A path given as an array lists the spots the
// contract leaves open (e.g. an unknown shape: the object or its odd key).
const cases = [
  // the request and its events
  ["a missing events array", () => ({}), "events"],
  ["events given as undefined", () => ({ events: undefined }), "events"],
  ["events not an array", () => ({ events: { 0: ok() } }), "events"],
  ["an empty events array", () => ({ events: [] }), "events"],
  ["an event that is null", () => ({ events: [null] }), "events[0]"],
  ["an event that is a string", () => ({ events: [ok(), "s"] }), "events[1]"],
  ["an unknown key in the request", () => ({ events: [ok()], expct: {} }), "expct"],
  ["an unknown key in an event", () => withEvent(ok({ dat: 1 })), "events[0].dat"],
  ["an unknown non-identifier key in an event", () => withEvent(ok({ "my key": 1 })), 'events[0]["my key"]'],

  // stream and type
  ["a missing stream", () => withEvent({ type: "t", data: {} }), "events[0].stream"],
  ["an empty stream", () => withEvent(ok({ stream: "" })), "events[0].stream"],
  ["a stream given as undefined", () => ({ events: [ok(), ok(), ok({ stream: undefined })] }), "events[2].stream"],
  ["a stream that is a number", () => withEvent(ok({ stream: 42 })), "events[0].stream"],
  ["a stream that is an array", () => withEvent(ok({ stream: ["s"] })), "events[0].stream"],
  ["a missing type in the third event", () => ({ events: [ok(), ok(), { stream: "s", data: {} }] }), "events[2].type"],
  ["an empty type", () => withEvent(ok({ type: "" })), "events[0].type"],
  ["a type that is null", () => withEvent(ok({ type: null })), "events[0].type"],
  ["a type that is an array", () => withEvent(ok({ type: ["t"] })), "events[0].type"],

  // subject and tags
  ["an empty subject", () => withEvent(ok({ subject: "" })), "events[0].subject"],
  ["a subject that is a number", () => withEvent(ok({ subject: 5 })), "events[0].subject"],
  ["tags that are a string", () => withEvent(ok({ tags: "a" })), "events[0].tags"],
  ["an empty tag", () => withEvent(ok({ tags: ["a", ""] })), "events[0].tags[1]"],
  ["a tag that is a number", () => withEvent(ok({ tags: [1] })), "events[0].tags[0]"],
  ["a repeated tag", () => withEvent(ok({ tags: ["a", "b", "a"] })), "events[0].tags[2]"],

  // ids
  ["a malformed event id", () => ({ events: [ok(), ok({ id: "123" })] }), "events[1].id"],
  ["an event id without hyphens", () => withEvent(ok({ id: uuid().replaceAll("-", "") })), "events[0].id"],
  ["an event id in braces", () => withEvent(ok({ id: `{${uuid()}}` })), "events[0].id"],
  ["an event id as a URN", () => withEvent(ok({ id: `urn:uuid:${uuid()}` })), "events[0].id"],
  ["an event id with a non-hex digit", () => withEvent(ok({ id: "g" + uuid().slice(1) })), "events[0].id"],
  ["an event id one digit short", () => withEvent(ok({ id: uuid().slice(0, 35) })), "events[0].id"],
  ["an empty event id", () => withEvent(ok({ id: "" })), "events[0].id"],
  ["an event id that is a number", () => withEvent(ok({ id: 7 })), "events[0].id"],
  ["a malformed batch id", () => ({ id: "batch-1", events: [ok()] }), "id"],
  ["a batch id that is a number", () => ({ id: 1, events: [ok()] }), "id"],

  // time, metadata, correlationId
  ["a time that is not RFC 3339", () => withEvent(ok({ time: "yesterday" })), "events[0].time"],
  ["a time that is a date only", () => withEvent(ok({ time: "2026-11-23" })), "events[0].time"],
  ["a time without offset", () => withEvent(ok({ time: "2026-11-23T10:00:00" })), "events[0].time"],
  ["an empty time", () => withEvent(ok({ time: "" })), "events[0].time"],
  ["a time that is a number", () => withEvent(ok({ time: 1763892000000 })), "events[0].time"],
  ["a time that is a Date", () => withEvent(ok({ time: new Date(0) })), "events[0].time"],
  ["metadata that is an array", () => withEvent(ok({ metadata: [1] })), "events[0].metadata"],
  ["metadata that is a string", () => withEvent(ok({ metadata: "m" })), "events[0].metadata"],
  ["a function inside metadata", () => withEvent(ok({ metadata: { f() {} } })), "events[0].metadata.f"],
  ["undefined inside metadata", () => withEvent(ok({ metadata: { u: undefined } })), "events[0].metadata.u"],
  ["NaN inside metadata", () => withEvent(ok({ metadata: { a: { n: NaN } } })), "events[0].metadata.a.n"],
  ["an empty correlationId", () => ({ correlationId: "", events: [ok()] }), "correlationId"],
  ["a correlationId that is a number", () => ({ correlationId: 7, events: [ok()] }), "correlationId"],

  // data that would not survive a JSON round trip
  ["data that is a function", () => withData(() => 1), "events[0].data"],
  ["a function inside data", () => withData({ f: () => 1 }), "events[0].data.f"],
  ["a method inside nested data", () => withData({ a: { b: { m() {} } } }), "events[0].data.a.b.m"],
  ["data that is a symbol", () => withData(Symbol("x")), "events[0].data"],
  ["a symbol inside data", () => withData({ s: Symbol("x") }), "events[0].data.s"],
  ["data that is a BigInt", () => withData(10n), "events[0].data"],
  ["a BigInt inside data", () => withData({ n: 10n }), "events[0].data.n"],
  ["a cycle through an object", () => { const d = { a: 1 }; d.self = d; return withData(d); }, "events[0].data.self"],
  ["a cycle through an array", () => { const d = { list: [] }; d.list.push(d); return withData(d); }, "events[0].data.list[0]"],
  ["undefined inside data", () => withData({ u: undefined }), "events[0].data.u"],
  ["undefined inside an array in data", () => withData({ items: [1, 2, 3, undefined] }), "events[0].data.items[3]"],
  ["undefined under a non-identifier key", () => withData({ "my key": { x: undefined } }), 'events[0].data["my key"].x'],
  ["undefined under a numeric key", () => withData({ 42: undefined }), 'events[0].data["42"]'],
  ["undefined inside the second event's data", () => ({ events: [ok(), ok({ data: [undefined] })] }), "events[1].data[0]"],
  ["NaN inside data", () => withData({ x: NaN }), "events[0].data.x"],
  ["data that is NaN", () => withData(NaN), "events[0].data"],
  ["Infinity inside data", () => withData({ x: Infinity }), "events[0].data.x"],
  ["-Infinity inside an array in data", () => withData({ xs: [1, -Infinity] }), "events[0].data.xs[1]"],
  ["data that is Infinity", () => withData(Infinity), "events[0].data"],
  ["a Date inside data", () => withData({ when: new Date(0) }), "events[0].data.when"],
  ["a class instance inside data", () => withData({ obj: new Money() }), "events[0].data.obj"],
  ["a Map inside data", () => withData({ m: new Map([["a", 1]]) }), "events[0].data.m"],
  ["an object with toJSON inside data", () => withData({ t: { toJSON: () => "x" } }), ["events[0].data.t", "events[0].data.t.toJSON"]],
  ["a boxed string inside data", () => withData({ b: new String("x") }), "events[0].data.b"],
  ["a sparse array inside data", () => withData({ xs: [1, , 3] }), ["events[0].data.xs", "events[0].data.xs[1]"]], // eslint-disable-line no-sparse-arrays

  // expectations
  ["expect that is a string", () => withExpect("any"), "expect"],
  ["an unknown expectation string", () => withExpect({ s: "nope" }), "expect.s"],
  ["an expectation string in another case", () => withExpect({ s: "No_Stream" }), "expect.s"],
  ["an expectation that is a number", () => withExpect({ s: 5 }), "expect.s"],
  ["an expectation that is null", () => withExpect({ s: null }), "expect.s"],
  ["an empty expectation object", () => withExpect({ s: {} }), "expect.s"],
  ["an expectation with a misspelt key", () => withExpect({ s: { revison: 1 } }), ["expect.s", "expect.s.revison"]],
  ["an expectation with both revision and version", () => withExpect({ s: { revision: 1, version: 0 } }), ["expect.s", "expect.s.revision", "expect.s.version"]],
  ["an expectation with an extra key", () => withExpect({ s: { revision: 1, extra: true } }), ["expect.s", "expect.s.extra"]],
  ["a negative expected revision", () => withExpect({ s: { revision: -1 } }), "expect.s.revision"],
  ["a fractional expected revision", () => withExpect({ s: { revision: 1.5 } }), "expect.s.revision"],
  ["an expected revision that is a string", () => withExpect({ "acc-1": { revision: "5" } }), 'expect["acc-1"].revision'],
  ["an expected revision beyond the safe integers", () => withExpect({ s: { revision: 2 ** 53 } }), "expect.s.revision"],
  ["an expected revision that is a BigInt", () => withExpect({ s: { revision: 1n } }), "expect.s.revision"],
  ["an expected revision that is NaN", () => withExpect({ s: { revision: NaN } }), "expect.s.revision"],
  ["a negative expected version", () => withExpect({ s: { version: -1 } }), "expect.s.version"],
  ["a fractional expected version", () => withExpect({ s: { version: 0.5 } }), "expect.s.version"],
  ["an expectation for the empty stream name", () => withExpect({ "": "any" }), 'expect[""]'],

  // constraints
  ["constraints that are not an array", () => ({ events: [ok()], constraints: { minRevision: 1 } }), "constraints"],
  ["a constraint that is null", () => withConstraint(null), "constraints[0]"],
  ["an empty constraint", () => withConstraint({}), "constraints[0]"],
  ["an unknown constraint", () => withConstraint({ foo: 1 }), ["constraints[0]", "constraints[0].foo"]],
  ["a constraint with two kinds", () => withConstraint({ minRevision: 1, maxRevision: 2 }), ["constraints[0]", "constraints[0].minRevision", "constraints[0].maxRevision"]],
  ["a constraint with an unknown key", () => withConstraint({ minRevision: 1, extra: 1 }), ["constraints[0]", "constraints[0].extra"]],
  ["after on a maxRevision constraint", () => withConstraint({ maxRevision: 1, after: 0 }), ["constraints[0]", "constraints[0].after"]],
  ["a negative minRevision", () => withConstraint({ minRevision: -1 }), "constraints[0].minRevision"],
  ["a fractional minRevision", () => withConstraint({ minRevision: 1.5 }), "constraints[0].minRevision"],
  ["a minRevision that is a string", () => withConstraint({ minRevision: "1" }), "constraints[0].minRevision"],
  ["a maxRevision beyond the safe integers", () => withConstraint({ maxRevision: 2 ** 53 }), "constraints[0].maxRevision"],
  ["a maxRevision that is Infinity", () => withConstraint({ maxRevision: Infinity }), "constraints[0].maxRevision"],
  ["a bad second constraint", () => ({ events: [ok()], constraints: [{ minRevision: 0 }, { maxRevision: -3 }] }), "constraints[1].maxRevision"],
  ["a revisionRange with start > end", () => withConstraint({ revisionRange: [3, 1] }), "constraints[0].revisionRange"],
  ["a revisionRange with one bound", () => withConstraint({ revisionRange: [1] }), "constraints[0].revisionRange"],
  ["a revisionRange with three bounds", () => withConstraint({ revisionRange: [1, 2, 3] }), "constraints[0].revisionRange"],
  ["a revisionRange that is a string", () => withConstraint({ revisionRange: "1-2" }), "constraints[0].revisionRange"],
  ["a revisionRange with a negative bound", () => withConstraint({ revisionRange: [1, -2] }), ["constraints[0].revisionRange", "constraints[0].revisionRange[1]"]],
  ["a revisionRange with a fractional bound", () => withConstraint({ revisionRange: [0.5, 2] }), ["constraints[0].revisionRange", "constraints[0].revisionRange[0]"]],
  ["a negative after", () => withConstraint({ failIfEventsMatch: { type: "x" }, after: -1 }), "constraints[0].after"],
  ["a fractional after", () => withConstraint({ failIfEventsMatch: { type: "x" }, after: 1.5 }), "constraints[0].after"],
  ["failIfEventsMatch with a string", () => withConstraint({ failIfEventsMatch: "x" }), "constraints[0].failIfEventsMatch"],
  ["failIfEventsMatch with a misspelt selector key", () => withConstraint({ failIfEventsMatch: { typ: "x" } }), "constraints[0].failIfEventsMatch.typ"],
  ["failIfEventsMatch with a misspelt DCB item key", () => withConstraint({ failIfEventsMatch: [{ types: ["a"], tags: ["t"] }, { typs: ["b"] }] }), "constraints[0].failIfEventsMatch[1].typs"],

  // selectors
  ["the typo selector { steam }", () => withSelector({ steam: "x" }), "constraints[0].selector.steam"],
  ["a selector with an empty stream", () => withSelector({ stream: "" }), "constraints[0].selector.stream"],
  ["a selector with an empty stream array", () => withSelector({ stream: [] }), "constraints[0].selector.stream"],
  ["a selector with an empty string in a stream array", () => withSelector({ stream: ["a", ""] }), "constraints[0].selector.stream[1]"],
  ["a selector with a number in a stream array", () => withSelector({ stream: ["a", 5] }), "constraints[0].selector.stream[1]"],
  ["a selector with an undefined stream", () => withSelector({ stream: undefined }), "constraints[0].selector.stream"],
  ["a selector with a numeric stream", () => withSelector({ stream: 5 }), "constraints[0].selector.stream"],
  ["a selector with an empty subject array", () => withSelector({ subject: [] }), "constraints[0].selector.subject"],
  ["a selector with an empty subject", () => withSelector({ subject: "" }), "constraints[0].selector.subject"],
  ["a selector with an empty type array", () => withSelector({ type: [] }), "constraints[0].selector.type"],
  ["a selector with an empty type", () => withSelector({ type: "" }), "constraints[0].selector.type"],
  ["a selector with tags as a string", () => withSelector({ tags: "a" }), "constraints[0].selector.tags"],
  ["a selector with an empty tag", () => withSelector({ tags: [""] }), "constraints[0].selector.tags[0]"],
  ["a selector with a numeric tag", () => withSelector({ tags: [5] }), "constraints[0].selector.tags[0]"],
  ["a selector with type and types together", () => withSelector({ type: "a", types: ["a"] }), ["constraints[0].selector", "constraints[0].selector.type", "constraints[0].selector.types"]],
  ["a selector with types as a string", () => withSelector({ types: "a" }), "constraints[0].selector.types"],
  ["a selector with an empty string in types", () => withSelector({ types: [""] }), "constraints[0].selector.types[0]"],
  ["a typo in the second selector of an array", () => withSelector([{ stream: "a" }, { steam: "b" }]), "constraints[0].selector[1].steam"],
  ["a selector that is a string", () => withSelector("s"), "constraints[0].selector"],
  ["a selector that is null", () => withSelector(null), "constraints[0].selector"],
];

for (const [name, make, path] of cases) {
  test(`transact rejects ${name}: InvalidInputError at ${Array.isArray(path) ? path.join(" | ") : path}`, async () => {
    const store = await fixture();
    await rejectsInvalid(store, make(), path);
  });
}

test("transact rejects (never throws) when the request is not an object", async () => {
  const store = await fixture();
  for (const request of [undefined, null, 42, "events", [ok()]]) {
    const before = snapshot(store);
    const err = await rejection(callAsync(() => store.transact(request)));
    assertInvalidInputError(err, /.*/);
    assertUnchanged(store, before);
  }
});

test("an InvalidInputError is also a HindcastError and an Error, with code INVALID_INPUT", async () => {
  const store = await fixture();
  const err = await rejection(store.transact({ events: [] }));
  assert.ok(err instanceof InvalidInputError);
  assert.ok(err instanceof HindcastError);
  assert.ok(err instanceof Error);
  assert.equal(err.code, "INVALID_INPUT");
  assert.equal(err.path, "events");
  assert.match(err.message, /events/);
});

test("bad input anywhere in a batch writes none of its events", async () => {
  const store = await fixture();
  await rejectsInvalid(store, {
    events: [event("new-1"), event("new-2"), event("new-3", "t", { bad: NaN })],
  }, "events[2].data.bad");
  assert.equal(store.stream("new-1"), null);
  assert.equal(store.stream("new-2"), null);
});

test("after bad input the next commit takes the next revision", async () => {
  const store = await fixture();
  await rejectsInvalid(store, withData({ x: undefined }), "events[0].data.x");
  const commit = await store.transact({ events: [ok()] });
  assert.equal(commit.firstRevision, 4);
});

test("bad input is reported even when the constraints would also fail", async () => {
  const store = await fixture();
  await rejectsInvalid(store, {
    events: [ok({ type: "" })],
    expect: { s: "no_stream" },
    constraints: [{ minRevision: 100 }],
  }, "events[0].type");
});

test("well-formed inputs at the edges are accepted", async () => {
  const store = await fixture();
  const commit = await store.transact({
    id: uuid().toUpperCase(),
    correlationId: "x",
    events: [
      { stream: "edge", type: "t", data: [] },
      { stream: "edge", type: "t", tags: [], metadata: {} },
      { stream: "edge", type: "t", data: "" },
      { stream: "edge", type: "t", time: "2026-11-23T10:00:00.123+02:00" },
    ],
    expect: { edge: { revision: 0 }, s: { version: 1 } },
    constraints: [
      { minRevision: 0 },
      { maxRevision: Number.MAX_SAFE_INTEGER },
      { revisionRange: [0, 3] },
      { revisionRange: [3, 3], selector: { tags: [] } },
      { failIfEventsMatch: { types: [] }, after: 3 },
      { failIfEventsMatch: [{ types: ["nothing"] }] },
    ],
  });
  assert.equal(commit.revision, 7);
  const events = store.readStream("edge");
  assert.deepEqual(events[0].data, []);
  assert.deepEqual(events[1].metadata, {});
  assert.equal(events[2].data, "");
});

// --- synchronous reads throw the same InvalidInputError --------------------

const sel = (p) => [`selector${p}`, p.replace(/^\./, "")];

const readCases = [
  ["read() with the typo selector { steam }", (s) => s.read({ steam: "x" }), sel(".steam")],
  ["read() with an empty stream", (s) => s.read({ stream: "" }), sel(".stream")],
  ["read() with an undefined stream", (s) => s.read({ stream: undefined }), sel(".stream")],
  ["read() with an empty type array", (s) => s.read({ type: [] }), sel(".type")],
  ["read() with type and types", (s) => s.read({ type: "a", types: ["a"] }), [...sel(""), ...sel(".type"), ...sel(".types")]],
  ["read() with an empty tag", (s) => s.read({ tags: ["a", ""] }), sel(".tags[1]")],
  ["read() with a typo in a DCB query", (s) => s.read([{ types: ["a"] }, { tag: ["b"] }]), sel("[1].tag")],
  ["read() with a selector that is a string", (s) => s.read("s"), ["selector"]],
  ["read() with a negative limit", (s) => s.read({}, { limit: -1 }), "options.limit"],
  ["read() with a fractional limit", (s) => s.read({}, { limit: 1.5 }), "options.limit"],
  ["read() with a negative from", (s) => s.read({}, { from: -1 }), "options.from"],
  ["read() with a string to", (s) => s.read({}, { to: "3" }), "options.to"],
  ["read() with a to beyond the safe integers", (s) => s.read({}, { to: 2 ** 53 }), "options.to"],
  ["read() with a non-boolean backwards", (s) => s.read({}, { backwards: 1 }), "options.backwards"],
  ["read() with an unknown option", (s) => s.read({}, { form: 1 }), "options.form"],
  ["read() with options that are a number", (s) => s.read({}, 5), "options"],
  ["readStream() with an empty stream", (s) => s.readStream(""), "stream"],
  ["readStream() with a numeric stream", (s) => s.readStream(5), "stream"],
  ["readStream() without a stream", (s) => s.readStream(), "stream"],
  ["readStream() with a negative fromVersion", (s) => s.readStream("s", { fromVersion: -1 }), "options.fromVersion"],
  ["readStream() with a fractional fromVersion", (s) => s.readStream("s", { fromVersion: 0.5 }), "options.fromVersion"],
  ["readStream() with a string limit", (s) => s.readStream("s", { limit: "2" }), "options.limit"],
  ["readStream() with the read() option from", (s) => s.readStream("s", { from: 1 }), "options.from"],
  ["readStream() with a non-boolean backwards", (s) => s.readStream("s", { backwards: "yes" }), "options.backwards"],
  ["lastRevision() with the typo selector { steam }", (s) => s.lastRevision({ steam: "x" }), sel(".steam")],
  ["lastRevision() with an empty tag", (s) => s.lastRevision({ tags: [""] }), sel(".tags[0]")],
  ["lastRevision() with an empty subject array", (s) => s.lastRevision({ subject: [] }), sel(".subject")],
  ["stream() with an empty name", (s) => s.stream(""), "stream"],
  ["stream() without a name", (s) => s.stream(), "stream"],
  ["stream() with a numeric name", (s) => s.stream(7), "stream"],
];

for (const [name, call, path] of readCases) {
  test(`${name} throws an InvalidInputError at ${Array.isArray(path) ? path.join(" | ") : path}`, async () => {
    const store = await fixture();
    const before = snapshot(store);
    throwsInvalid(() => call(store), path);
    assertUnchanged(store, before);
  });
}
