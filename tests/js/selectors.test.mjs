// SPEC §2, selectors: what each selector form matches, seen through read()
// and lastRevision() (sel_rev).

import { test } from "node:test";
import assert from "node:assert/strict";
import { BANK_SELECTORS, bankStore, selRev, revs, event, newStore } from "./helpers.mjs";

for (const entry of BANK_SELECTORS) {
  test(`selector ${entry.name}: read() returns exactly the matching events in revision order`, async () => {
    const store = await bankStore();
    assert.deepEqual(revs(store.read(entry.selector)), entry.revisions);
  });

  test(`selector ${entry.name}: lastRevision() is the newest match, or 0`, async () => {
    const store = await bankStore();
    assert.equal(store.lastRevision(entry.selector), selRev(entry));
  });
}

test("lastRevision() without a selector is the head", async () => {
  const store = await bankStore();
  assert.equal(store.lastRevision(), 6);
  assert.equal(store.lastRevision(undefined), 6);
  assert.equal(store.lastRevision({}), 6);
});

test("lastRevision() on an empty store is 0", async () => {
  const store = await newStore();
  assert.equal(store.lastRevision(), 0);
  assert.equal(store.lastRevision({ stream: "a" }), 0);
});

test("read() without a selector, with undefined or with {} returns every event", async () => {
  const store = await bankStore();
  const all = [1, 2, 3, 4, 5, 6];
  assert.deepEqual(revs(store.read()), all);
  assert.deepEqual(revs(store.read(undefined)), all);
  assert.deepEqual(revs(store.read({})), all);
});

test("a DCB item { types, tags } selects the same events as { type: types, tags }", async () => {
  const store = await bankStore();
  const dcb = store.read({ types: ["account_opened", "money_transferred"], tags: ["account:acc-2"] });
  const plain = store.read({ type: ["account_opened", "money_transferred"], tags: ["account:acc-2"] });
  assert.deepEqual(dcb, plain);
  assert.deepEqual(revs(dcb), [2, 4]);
});

test("an array of selectors selects the union, each event once, in revision order", async () => {
  const store = await bankStore();
  const events = store.read([{ type: "note" }, { stream: "acc-2" }, { type: "account_opened" }]);
  assert.deepEqual(revs(events), [1, 2, 5, 6]);
});

test("matching is exact: no prefixes, no case folding", async () => {
  const store = await newStore();
  await store.transact({
    events: [
      event("acc-1", "Opened", {}, { subject: "Sub", tags: ["Tag"] }),
      event("acc-10", "opened", {}, { subject: "sub", tags: ["tag"] }),
    ],
  });
  assert.deepEqual(revs(store.read({ stream: "acc-1" })), [1]);
  assert.deepEqual(revs(store.read({ type: "opened" })), [2]);
  assert.deepEqual(revs(store.read({ subject: "Sub" })), [1]);
  assert.deepEqual(revs(store.read({ tags: ["tag"] })), [2]);
  assert.deepEqual(revs(store.read({ tags: ["Ta"] })), []);
});

test("selectors see events committed later", async () => {
  const store = await bankStore();
  await store.transact({ events: [event("acc-2", "money_withdrawn", { amount: 5 }, { tags: ["account:acc-2"] })] });
  assert.equal(store.lastRevision({ tags: ["account:acc-2"] }), 7);
  assert.equal(store.lastRevision({ stream: "acc-1" }), 3);
  assert.deepEqual(revs(store.read({ type: "money_withdrawn" })), [7]);
});
