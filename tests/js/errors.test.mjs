// SPEC §7, errors: every error class is exported, extends HindcastError (an
// Error), and carries a stable code; messages are not empty.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as hindcast from "hindcast";
import {
  EventStore, HindcastError, ConstraintViolationError, InvalidInputError, StorageError, HandlerError,
} from "hindcast";
import { storeWith, event, rejection } from "./helpers.mjs";

test("the package exports EventStore and every error class", () => {
  for (const name of ["EventStore", "HindcastError", "ConstraintViolationError", "InvalidInputError", "StorageError", "HandlerError"]) {
    assert.equal(typeof hindcast[name], "function", `${name} is exported`);
  }
});

test("HindcastError extends Error", () => {
  assert.ok(HindcastError.prototype instanceof Error);
});

test("every specific error class extends HindcastError", () => {
  for (const cls of [ConstraintViolationError, InvalidInputError, StorageError, HandlerError]) {
    assert.ok(cls.prototype instanceof HindcastError, `${cls.name} extends HindcastError`);
    assert.ok(cls.prototype instanceof Error, `${cls.name} extends Error`);
  }
});

test("the error classes are distinct", () => {
  const classes = [ConstraintViolationError, InvalidInputError, StorageError, HandlerError];
  for (const a of classes) {
    for (const b of classes) {
      if (a !== b) assert.ok(!(a.prototype instanceof b), `${a.name} does not extend ${b.name}`);
    }
  }
});

test("a ConstraintViolationError has code CONSTRAINT_VIOLATION, violations and a message", async () => {
  const store = await storeWith(["acc-1"]);
  const err = await rejection(store.transact({ events: [event("acc-1")], expect: { "acc-1": "no_stream" } }));
  assert.ok(err instanceof ConstraintViolationError);
  assert.ok(err instanceof HindcastError);
  assert.ok(err instanceof Error);
  assert.ok(!(err instanceof InvalidInputError));
  assert.equal(err.code, "CONSTRAINT_VIOLATION");
  assert.deepEqual(err.violations, [
    { kind: "version_mismatch", stream: "acc-1", expected: "no_stream", actual: { version: 0, revision: 1 } },
  ]);
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0);
  assert.equal(typeof err.stack, "string");
});

test("a ConstraintViolationError's message is not empty for every violation kind", async () => {
  const store = await storeWith(["a"]);
  const id = store.read()[0].id;
  const requests = [
    { events: [event("a", "t", {}, { id })] },
    { events: [event("a")], constraints: [{ minRevision: 5 }] },
    { events: [event("a")], constraints: [{ maxRevision: 0 }] },
    { events: [event("a")], constraints: [{ revisionRange: [3, 4] }] },
    { events: [event("a")], constraints: [{ failIfEventsMatch: { stream: "a" } }] },
    { events: [event("a")], expect: { a: { version: 3 } } },
  ];
  for (const request of requests) {
    const err = await rejection(store.transact(request));
    assert.ok(err instanceof ConstraintViolationError);
    assert.equal(err.violations.length, 1);
    assert.ok(err.message.trim().length > 0, `message for ${err.violations[0].kind}`);
  }
});

test("an InvalidInputError has code INVALID_INPUT, path and a message naming the path", async () => {
  const store = await storeWith(["a"]);
  const err = await rejection(store.transact({ events: [event("a"), event("a"), { stream: "a", type: "" }] }));
  assert.ok(err instanceof InvalidInputError);
  assert.ok(err instanceof HindcastError);
  assert.ok(err instanceof Error);
  assert.ok(!(err instanceof ConstraintViolationError));
  assert.equal(err.code, "INVALID_INPUT");
  assert.equal(err.path, "events[2].type");
  assert.ok(err.message.includes("events[2].type"));
});

test("a synchronous read throws an InvalidInputError of the same class and code", async () => {
  const store = await storeWith(["a"]);
  let err;
  try {
    store.read({ steam: "a" });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof InvalidInputError);
  assert.ok(err instanceof HindcastError);
  assert.equal(err.code, "INVALID_INPUT");
  assert.ok(err.path.endsWith("steam"));
  assert.ok(err.message.includes(err.path));
});

test("StorageError carries code STORAGE and its reason", () => {
  const err = new StorageError("The database was closed.", "closed");
  assert.ok(err instanceof StorageError);
  assert.ok(err instanceof HindcastError);
  assert.ok(err instanceof Error);
  assert.equal(err.name, "StorageError");
  assert.equal(err.code, "STORAGE");
  assert.equal(err.reason, "closed");
  assert.equal(err.message, "The database was closed.");
});
