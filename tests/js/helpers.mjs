// Shared helpers for the hindcast JS test suite.
//
// Every test imports the package exactly as a user does ("hindcast"), builds
// its own memory store and checks exact values from SPEC.md and
// docs/SEMANTICS.md. The helpers below keep the repeated checks in one place:
// "rejects (never throws synchronously) with an InvalidInputError at path P and
// changes nothing", "rejects with exactly these violations and changes
// nothing", and the shared bank fixture with its table of selectors.

import assert from "node:assert/strict";
import {
  EventStore,
  HindcastError,
  ConstraintViolationError,
  InvalidInputError,
} from "hindcast";

/** A lowercase UUID v4, as the store makes them. */
export const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A fresh in-memory store. */
export function newStore() {
  return EventStore.memory();
}

/** A random lowercase UUID v4 for caller-given ids. */
export function uuid() {
  return crypto.randomUUID();
}

/** An event input for `transact`. */
export function event(stream, type = "happened", data = {}, extra = {}) {
  return { stream, type, data, ...extra };
}

/** Commits one event as its own batch and returns the commit. */
export function appendOne(store, stream, type = "happened", data = {}, extra = {}) {
  return store.transact({ events: [event(stream, type, data, extra)] });
}

/** A memory store holding one single-event batch per stream name, in order. */
export async function storeWith(streams) {
  const store = await newStore();
  for (const s of streams) {
    await appendOne(store, s, "happened", { n: store.revision + 1 });
  }
  return store;
}

/** The commit `transact` resolves to. */
export function commitOf({ batchId, firstRevision, revision, streams, replayed = false }) {
  return { batchId, firstRevision, revision, streams, replayed };
}

// ---------------------------------------------------------------------------
// The bank fixture: six events, each its own batch, revisions 1..6.
// ---------------------------------------------------------------------------

export const BANK = [
  /* 1 */ { stream: "acc-1", type: "account_opened", subject: "acc-1", tags: ["account:acc-1"], data: { owner: "Ann" } },
  /* 2 */ { stream: "acc-2", type: "account_opened", subject: "acc-2", tags: ["account:acc-2"], data: { owner: "Bob" } },
  /* 3 */ { stream: "acc-1", type: "money_deposited", subject: "acc-1", tags: ["account:acc-1"], data: { amount: 100 } },
  /* 4 */ { stream: "transfers", type: "money_transferred", subject: "tx-1", tags: ["account:acc-1", "account:acc-2"], data: { from: "acc-1", to: "acc-2", amount: 30 } },
  /* 5 */ { stream: "acc-2", type: "money_deposited", subject: "acc-2", tags: ["account:acc-2"], data: { amount: 50 } },
  /* 6 */ { stream: "audit", type: "note", data: { text: "checked" } },
];

/** A memory store holding the BANK events, one batch each (head 6). */
export async function bankStore() {
  const store = await newStore();
  for (const e of BANK) await store.transact({ events: [structuredClone(e)] });
  assert.equal(store.revision, BANK.length);
  return store;
}

/**
 * Selectors over the BANK fixture and the revisions they match.
 * sel_rev(selector) is the last of `revisions`, or 0.
 */
export const BANK_SELECTORS = [
  { name: "{} matches every event", selector: {}, revisions: [1, 2, 3, 4, 5, 6] },
  { name: "stream", selector: { stream: "acc-1" }, revisions: [1, 3] },
  { name: "stream array (one of)", selector: { stream: ["acc-1", "transfers"] }, revisions: [1, 3, 4] },
  { name: "subject", selector: { subject: "acc-2" }, revisions: [2, 5] },
  { name: "subject array (one of)", selector: { subject: ["tx-1", "acc-1"] }, revisions: [1, 3, 4] },
  { name: "type", selector: { type: "account_opened" }, revisions: [1, 2] },
  { name: "type array (one of)", selector: { type: ["account_opened", "money_transferred"] }, revisions: [1, 2, 4] },
  { name: "type array of one", selector: { type: ["note"] }, revisions: [6] },
  { name: "one tag", selector: { tags: ["account:acc-1"] }, revisions: [1, 3, 4] },
  { name: "tags (all of)", selector: { tags: ["account:acc-1", "account:acc-2"] }, revisions: [4] },
  { name: "tags (all of, any order)", selector: { tags: ["account:acc-2", "account:acc-1"] }, revisions: [4] },
  { name: "tags: [] adds no condition", selector: { tags: [] }, revisions: [1, 2, 3, 4, 5, 6] },
  { name: "stream AND type", selector: { stream: "acc-1", type: "account_opened" }, revisions: [1] },
  { name: "subject AND tags", selector: { subject: "acc-2", tags: ["account:acc-2"] }, revisions: [2, 5] },
  { name: "stream AND type matching nothing", selector: { stream: "acc-1", type: "money_transferred" }, revisions: [] },
  { name: "array of selectors (OR)", selector: [{ stream: "acc-1" }, { subject: "tx-1" }], revisions: [1, 3, 4] },
  { name: "array of one selector", selector: [{ type: "note" }], revisions: [6] },
  { name: "overlapping array of selectors (each event once)", selector: [{ stream: "acc-1" }, { tags: ["account:acc-1"] }], revisions: [1, 3, 4] },
  { name: "DCB item { types, tags }", selector: { types: ["account_opened"], tags: ["account:acc-1"] }, revisions: [1] },
  { name: "DCB item with several types", selector: { types: ["account_opened", "money_deposited"], tags: ["account:acc-2"] }, revisions: [2, 5] },
  { name: "DCB query (array of items)", selector: [{ types: ["account_opened"], tags: ["account:acc-2"] }, { types: ["money_deposited"], tags: ["account:acc-1"] }], revisions: [2, 3] },
  { name: "DCB types: [] adds no condition", selector: { types: [], tags: ["account:acc-2"] }, revisions: [2, 4, 5] },
  { name: "DCB types only", selector: { types: ["note"] }, revisions: [6] },
  { name: "types with stream", selector: { stream: "acc-1", types: ["money_deposited"] }, revisions: [3] },
  { name: "types with subject", selector: { subject: "acc-2", types: ["account_opened"] }, revisions: [2] },
  { name: "subject never matches an event without subject", selector: { subject: "audit" }, revisions: [] },
  { name: "tags never match an event without tags", selector: { tags: ["note"] }, revisions: [] },
  { name: "unknown tag", selector: { tags: ["account:acc-3"] }, revisions: [] },
  { name: "unknown type", selector: { type: "account_closed" }, revisions: [] },
  { name: "unknown stream", selector: { stream: "acc-3" }, revisions: [] },
];

/** sel_rev for a BANK_SELECTORS entry. */
export function selRev(entry) {
  return entry.revisions.length ? entry.revisions[entry.revisions.length - 1] : 0;
}

// ---------------------------------------------------------------------------
// "Nothing changed" snapshots.
// ---------------------------------------------------------------------------

/** Stream names a request mentions (events and expect), ignoring junk. */
export function streamsIn(request) {
  const names = [];
  try {
    if (Array.isArray(request?.events)) {
      for (const e of request.events) {
        if (typeof e?.stream === "string" && e.stream !== "") names.push(e.stream);
      }
    }
    if (request?.expect && typeof request.expect === "object") {
      for (const k of Object.keys(request.expect)) if (k !== "") names.push(k);
    }
  } catch {
    // a hostile request: only the store's own streams are compared
  }
  return names;
}

/** Everything a reader can see of the store, for before/after comparisons. */
export function snapshot(store, extraStreams = []) {
  const events = store.read();
  const names = [...new Set([...events.map((e) => e.stream), ...extraStreams])].sort();
  return {
    revision: store.revision,
    lastRevision: store.lastRevision(),
    events,
    streams: Object.fromEntries(
      names.map((n) => [n, { cursor: store.stream(n), events: store.readStream(n) }]),
    ),
  };
}

/** Asserts that the store reads exactly as in `before`. */
export function assertUnchanged(store, before) {
  assert.deepEqual(snapshot(store, Object.keys(before.streams)), before, "the store must be unchanged");
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------

/** Calls fn, which must return a Promise and must not throw synchronously. */
export function callAsync(fn) {
  let result;
  try {
    result = fn();
  } catch (e) {
    assert.fail(`expected a rejected promise, but the call threw synchronously: ${e?.stack ?? e}`);
  }
  assert.ok(result instanceof Promise, "transact must return a Promise");
  return result;
}

/** Awaits `promise`, which must reject; returns the rejection reason. */
export async function rejection(promise) {
  let caught;
  let rejected = false;
  await assert.rejects(promise, (e) => {
    caught = e;
    rejected = true;
    return true;
  });
  assert.ok(rejected);
  return caught;
}

function describeError(e) {
  return `${e?.constructor?.name ?? typeof e}: ${e?.message ?? String(e)}${e?.path !== undefined ? ` (path ${JSON.stringify(e.path)})` : ""}`;
}

/**
 * Checks that `err` is an InvalidInputError at `path`: a string (exact), an
 * array of acceptable strings (where the contract leaves the exact spot
 * open), or a RegExp.
 */
export function assertInvalidInputError(err, path) {
  assert.ok(err instanceof InvalidInputError, `expected an InvalidInputError, got ${describeError(err)}`);
  assert.ok(err instanceof HindcastError, "InvalidInputError extends HindcastError");
  assert.ok(err instanceof Error, "InvalidInputError extends Error");
  assert.equal(err.code, "INVALID_INPUT");
  assert.equal(typeof err.path, "string", "an InvalidInputError carries .path");
  if (typeof path === "string") {
    assert.equal(err.path, path, `wrong path; message: ${err.message}`);
  } else if (Array.isArray(path)) {
    assert.ok(path.includes(err.path), `path ${JSON.stringify(err.path)} is not one of ${JSON.stringify(path)}; message: ${err.message}`);
  } else if (path instanceof RegExp) {
    assert.match(err.path, path);
  }
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0, "the message is not empty");
  assert.ok(err.message.includes(err.path), `the message ${JSON.stringify(err.message)} names the path ${JSON.stringify(err.path)}`);
}

/**
 * `store.transact(request)` returns a promise that rejects with an
 * InvalidInputError at `path`, and the store is unchanged.
 */
export async function rejectsInvalid(store, request, path) {
  const before = snapshot(store, streamsIn(request));
  const err = await rejection(callAsync(() => store.transact(request)));
  assertInvalidInputError(err, path);
  assertUnchanged(store, before);
  return err;
}

/** `fn()` throws (synchronously) an InvalidInputError at `path`. */
export function throwsInvalid(fn, path) {
  let caught;
  let threw = false;
  try {
    fn();
  } catch (e) {
    caught = e;
    threw = true;
  }
  assert.ok(threw, "expected a synchronous InvalidInputError, but nothing was thrown");
  assertInvalidInputError(caught, path);
  return caught;
}

/** Checks that `err` is a ConstraintViolationError with exactly `violations`. */
export function assertViolations(err, violations) {
  assert.ok(err instanceof ConstraintViolationError, `expected a ConstraintViolationError, got ${describeError(err)}`);
  assert.ok(err instanceof HindcastError, "ConstraintViolationError extends HindcastError");
  assert.ok(err instanceof Error, "ConstraintViolationError extends Error");
  assert.equal(err.code, "CONSTRAINT_VIOLATION");
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0, "the message is not empty");
  assert.ok(Array.isArray(err.violations), ".violations is an array");
  assert.deepEqual(err.violations, violations);
}

/**
 * `store.transact(request)` rejects with a ConstraintViolationError listing
 * exactly `violations`, and the store is unchanged.
 */
export async function rejectsWithViolations(store, request, violations) {
  const before = snapshot(store, streamsIn(request));
  const err = await rejection(callAsync(() => store.transact(request)));
  assertViolations(err, violations);
  assertUnchanged(store, before);
  return err;
}

/** The revisions of a list of recorded events. */
export function revs(events) {
  return events.map((e) => e.revision);
}

// ---------------------------------------------------------------------------
// Subscriptions and projections.
// ---------------------------------------------------------------------------

/** A promise with its resolve and reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Lets every queued microtask and macrotask run `n` times over. Used only to
 * give the store every chance to do something it must not do (deliver after
 * cancel, deliver while a handler's promise is pending); never to wait for
 * something that must happen.
 */
export async function turns(n = 5) {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A small seeded PRNG (mulberry32): returns floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [lo, hi] from a PRNG. */
export function between(random, lo, hi) {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/**
 * A running hash chain over (id, stream, version), as in Hindsight's ordering
 * test: equal chains mean the same events in the same order.
 */
export class Chain {
  value = "0";
  count = 0;
  push(e) {
    // FNV-1a (32 bit) over the previous value and the event's identity.
    const text = `${this.value}|${e.id}|${e.stream}|${e.version}`;
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    this.value = `${h.toString(16)}:${++this.count}`;
    return this;
  }
  static of(events) {
    const c = new Chain();
    for (const e of events) c.push(e);
    return c.value;
  }
}

/**
 * Subscribes a handler that records every event it receives (and calls
 * `onEvent(event, received)` first, whose result it returns).
 */
export function collect(store, options, onEvent) {
  const received = [];
  const sub = store.subscribe((e) => {
    received.push(e);
    return onEvent?.(e, received);
  }, options);
  return { sub, received };
}

/**
 * Runs `fn` and fails if any promise rejection went unhandled or any
 * exception went uncaught meanwhile (a store error that "reaches a user"
 * without the user asking for it).
 */
export async function withoutStrayErrors(fn) {
  const stray = [];
  const onRejection = (reason) => stray.push(reason);
  const onException = (err) => stray.push(err);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  try {
    const result = await fn();
    await turns(3);
    assert.deepEqual(stray, [], "no error may surface as an unhandled rejection or uncaught exception");
    return result;
  } finally {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  }
}

/** How a promise settled, without waiting longer than `turns()`. */
export async function settledState(promise) {
  let state = { status: "pending" };
  promise.then(
    (value) => { state = { status: "fulfilled", value }; },
    (reason) => { state = { status: "rejected", reason }; },
  );
  await turns(2);
  return state;
}

/** [a, a + 1, …, b]; [] when b < a. */
export function range(a, b) {
  const out = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}
