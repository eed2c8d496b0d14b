// Helpers shared by the subscribe-*.test.mjs files.

import assert from "node:assert/strict";
import { HandlerError, HindcastError } from "hindcast";
import { newStore, appendOne } from "./helpers.mjs";

/** A store with `n` single-event batches over streams a, b (alternating). */
export async function storeOf(n) {
  const store = await newStore();
  for (let i = 1; i <= n; i++) await appendOne(store, i % 2 ? "a" : "b", "happened", { i });
  return store;
}

/** Asserts `err` is the HandlerError for `event` caused by exactly `cause`. */
export function assertHandlerError(err, cause, event) {
  assert.ok(err instanceof HandlerError, `expected a HandlerError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.ok(err instanceof HindcastError, "HandlerError extends HindcastError");
  assert.ok(err instanceof Error, "HandlerError extends Error");
  assert.equal(err.code, "HANDLER");
  assert.ok("cause" in err, "a HandlerError carries .cause");
  assert.equal(err.cause, cause, ".cause is the thrown value itself");
  assert.equal(err.event, event, ".event is the (stored) event being handled");
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0);
}

/** Asserts `err` is the STOPPED HindcastError of a waitFor. */
export function assertStopped(err) {
  assert.ok(err instanceof HindcastError, `expected a HindcastError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.ok(!(err instanceof HandlerError), "a plain stop is not a HandlerError");
  assert.equal(err.code, "STOPPED");
}

/** r1 a/opened, r2 a/deposited, r3 b/opened, r4 a/note, r5 b/deposited, r6 c/note, r7 c/closed. */
export async function matcherStore() {
  const store = await newStore();
  for (const [stream, type] of [["a", "opened"], ["a", "deposited"], ["b", "opened"], ["a", "note"], ["b", "deposited"], ["c", "note"], ["c", "closed"]]) {
    await appendOne(store, stream, type);
  }
  return store;
}
