// SPEC §5 "Projections" last paragraph, done with reads: the version-aware
// pattern of the Hindsight bank tutorial. Read state and position, decide,
// write with { maxRevision: position, selector } (or an exact stream
// revision): a stale decision fails cleanly, a fresh one commits.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConstraintViolationError } from "hindcast";
import { newStore, event, rejectsWithViolations } from "./helpers.mjs";

async function bank() {
  const store = await newStore();
  await store.transact({
    events: [event("acc-1", "account_opened", { owner: "Ann" }), event("acc-1", "money_deposited", { amount: 100 })],
    expect: { "acc-1": "no_stream" },
  });
  await store.transact({
    events: [event("acc-2", "account_opened", { owner: "Bob" }), event("acc-2", "money_deposited", { amount: 20 })],
    expect: { "acc-2": "no_stream" },
  });
  return store; // acc-1 at r1..2, acc-2 at r3..4
}

/** Reads an account's balance and the position it was read at. */
function account(store, id) {
  const position = store.revision;
  let balance = 0;
  for (const e of store.read({ stream: id }, { to: position })) {
    if (e.type === "money_deposited") balance += e.data.amount;
    if (e.type === "money_withdrawn") balance -= e.data.amount;
  }
  return { balance, position };
}

/** Decides a withdrawal; returns the request to send, or null if refused. */
function decideWithdrawal(store, id, amount) {
  const { balance, position } = account(store, id);
  if (balance < amount) return null;
  return {
    events: [event(id, "money_withdrawn", { amount })],
    constraints: [{ maxRevision: position, selector: { stream: id } }],
  };
}

test("a fresh decision commits", async () => {
  const store = await bank();
  const request = decideWithdrawal(store, "acc-1", 30);
  const commit = await store.transact(request);
  assert.deepEqual(commit.streams, { "acc-1": { version: 2, revision: 5 } });
  assert.equal(account(store, "acc-1").balance, 70);
});

test("a stale decision fails with max_revision_exceeded and writes nothing", async () => {
  const store = await bank();
  const first = decideWithdrawal(store, "acc-1", 60);
  const second = decideWithdrawal(store, "acc-1", 60); // same position, same balance: stale once first commits
  await store.transact(first);
  await rejectsWithViolations(store, second, [{
    kind: "max_revision_exceeded",
    constraint: { maxRevision: 4, selector: { stream: "acc-1" } },
    max: 4,
    found: 5,
  }]);
  assert.equal(account(store, "acc-1").balance, 40);
  assert.equal(decideWithdrawal(store, "acc-1", 60), null, "the retried decision refuses");
});

test("writes to other accounts do not make a decision stale", async () => {
  const store = await bank();
  const request = decideWithdrawal(store, "acc-1", 30);
  await store.transact({ events: [event("acc-2", "money_deposited", { amount: 5 })] });
  const commit = await store.transact(request);
  assert.equal(commit.revision, 6);
});

test("the same pattern with an exact stream revision expectation", async () => {
  const store = await bank();
  const decide = (amount) => {
    const cursor = store.stream("acc-1");
    return { events: [event("acc-1", "money_withdrawn", { amount })], expect: { "acc-1": { revision: cursor.revision } } };
  };
  const a = decide(10);
  const b = decide(10);
  await store.transact(a);
  await rejectsWithViolations(store, b, [{
    kind: "version_mismatch",
    stream: "acc-1",
    expected: { revision: 2 },
    actual: { version: 2, revision: 5 },
  }]);
});

test("concurrent withdrawals that retry on conflict never overdraw", async () => {
  const store = await bank();
  async function withdraw(amount) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const request = decideWithdrawal(store, "acc-1", amount);
      if (request === null) return "refused";
      try {
        await store.transact(request);
        return "done";
      } catch (e) {
        if (!(e instanceof ConstraintViolationError)) throw e;
      }
    }
    throw new Error("no progress");
  }
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => withdraw(30)));
  assert.equal(outcomes.filter((o) => o === "done").length, 3);
  assert.equal(outcomes.filter((o) => o === "refused").length, 7);
  assert.equal(account(store, "acc-1").balance, 10);
  assert.deepEqual(store.stream("acc-1"), { version: 4, revision: 7 });
});
