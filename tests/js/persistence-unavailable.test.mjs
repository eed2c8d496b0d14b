// SPEC §6: without IndexedDB (Node with no polyfill), open rejects with a
// StorageError of reason "unavailable"; memory stores are unaffected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, StorageError } from "hindcast";

test("open without IndexedDB rejects with StorageError unavailable", async () => {
  assert.equal(globalThis.indexedDB, undefined);
  const err = await EventStore.open("bank").then(() => null, (e) => e);
  assert.ok(err instanceof StorageError, String(err));
  assert.equal(err.code, "STORAGE");
  assert.equal(err.reason, "unavailable");
  assert.match(err.message, /fake-indexeddb|memory/);
  const mem = await EventStore.memory();
  await mem.transact({ events: [{ stream: "a", type: "x" }] });
  assert.equal(mem.revision, 1);
});
