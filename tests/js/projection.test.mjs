// SPEC §5 "Projections" and docs/SEMANTICS.md "Subscriptions and
// projections": state and position, waitFor, onChange, close, folds that
// return undefined, folds that throw, bad input, and the version-aware
// pattern from the Hindsight tutorial end to end (read the projection,
// decide, write with { maxRevision: position, selector } or an exact stream
// revision; a stale decision fails cleanly).
//
// No sleeps: tests wait with waitFor, done, or promises they control.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { HandlerError, HindcastError } from "hindcast";
import {
  newStore,
  event,
  appendOne,
  range,
  turns,
  settledState,
  rejection,
  throwsInvalid,
  assertInvalidInputError,
  assertViolations,
  rejectsWithViolations,
  withoutStrayErrors,
} from "./helpers.mjs";

/**
 * r1 acc-1 opened, r2 acc-1 deposited 100, r3 acc-2 opened,
 * r4 acc-2 deposited 20, r5 audit note.
 */
async function bank() {
  const store = await newStore();
  await store.transact({ events: [event("acc-1", "account_opened", { owner: "Ann" }), event("acc-1", "money_deposited", { amount: 100 })] });
  await store.transact({ events: [event("acc-2", "account_opened", { owner: "Bob" }), event("acc-2", "money_deposited", { amount: 20 })] });
  await appendOne(store, "audit", "note", { text: "checked" });
  return store;
}

/** Balances by account, as new objects per change. */
function balances(store, extra = {}) {
  return store.project({
    initial: {},
    on: {
      account_opened: (s, e) => ({ ...s, [e.stream]: 0 }),
      money_deposited: (s, e) => ({ ...s, [e.stream]: s[e.stream] + e.data.amount }),
      money_withdrawn: (s, e) => ({ ...s, [e.stream]: s[e.stream] - e.data.amount }),
    },
    ...extra,
  });
}

/** The same balances folded from a read up to `position`. */
function balancesAt(store, position) {
  const s = {};
  for (const e of store.read(undefined, { to: position })) {
    if (e.type === "account_opened") s[e.stream] = 0;
    if (e.type === "money_deposited") s[e.stream] += e.data.amount;
    if (e.type === "money_withdrawn") s[e.stream] -= e.data.amount;
  }
  return s;
}

function assertHandlerError(err, cause, event) {
  assert.ok(err instanceof HandlerError, `expected a HandlerError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.ok(err instanceof HindcastError);
  assert.ok(err instanceof Error);
  assert.equal(err.code, "HANDLER");
  assert.equal(err.cause, cause, ".cause is the thrown value itself");
  assert.equal(err.event, event, ".event is the event being folded");
}

// ---------------------------------------------------------------------------
// The version-aware pattern.
// ---------------------------------------------------------------------------

describe("the version-aware pattern", () => {
  /** Decides a withdrawal from the projection; null if refused. */
  function decideWithdrawal(projection, account, amount) {
    const { state, position } = projection;
    if (!(account in state) || state[account] < amount) return null;
    return {
      events: [event(account, "money_withdrawn", { amount })],
      constraints: [{ maxRevision: position, selector: { stream: account } }],
    };
  }

  test("read state and position, decide, write with { maxRevision: position, selector }", async () => {
    const store = await bank();
    const accounts = balances(store);
    assert.deepEqual(accounts.state, {}, "nothing is folded inside project()");
    assert.equal(accounts.position, 0);
    await accounts.waitFor(store.revision);
    assert.deepEqual(accounts.state, { "acc-1": 100, "acc-2": 20 });
    assert.equal(accounts.position, 5, "position passes over the audit note");

    const commit = await store.transact(decideWithdrawal(accounts, "acc-1", 30));
    assert.deepEqual(commit.streams, { "acc-1": { version: 2, revision: 6 } });
    await accounts.waitFor(commit.revision);
    assert.deepEqual(accounts.state, { "acc-1": 70, "acc-2": 20 });
    assert.equal(accounts.position, 6);
  });

  test("a decision made on a stale projection is refused with ConstraintViolationError", async () => {
    const store = await bank();
    const accounts = balances(store);
    await accounts.waitFor(store.revision);
    // Two decisions on the same view: both see 100.
    const first = decideWithdrawal(accounts, "acc-1", 60);
    const second = decideWithdrawal(accounts, "acc-1", 60);
    assert.ok(first && second);
    const commit = await store.transact(first);
    assert.equal(commit.revision, 6);
    await rejectsWithViolations(store, second, [{
      kind: "max_revision_exceeded",
      constraint: { maxRevision: 5, selector: { stream: "acc-1" } },
      max: 5,
      found: 6,
    }]);
    assert.equal(store.revision, 6);
    await accounts.waitFor(commit.revision);
    assert.deepEqual(accounts.state, { "acc-1": 40, "acc-2": 20 });
    assert.equal(decideWithdrawal(accounts, "acc-1", 60), null, "decided again on fresh state, it refuses");
  });

  test("another writer's deposit after the projection's position makes the decision stale", async () => {
    const store = await bank();
    const accounts = balances(store);
    await accounts.waitFor(5);
    const decision = decideWithdrawal(accounts, "acc-1", 100);
    const other = await store.transact({ events: [event("acc-1", "money_deposited", { amount: 1 })] });
    assert.equal(other.revision, 6);
    const err = await rejection(store.transact(decision));
    assertViolations(err, [{
      kind: "max_revision_exceeded",
      constraint: { maxRevision: 5, selector: { stream: "acc-1" } },
      max: 5,
      found: 6,
    }]);
    await accounts.waitFor(6);
    const retry = decideWithdrawal(accounts, "acc-1", 100);
    assert.deepEqual(retry.constraints, [{ maxRevision: 6, selector: { stream: "acc-1" } }]);
    const commit = await store.transact(retry);
    await accounts.waitFor(commit.revision);
    assert.deepEqual(accounts.state, { "acc-1": 1, "acc-2": 20 });
  });

  test("writes to other streams do not make a decision stale", async () => {
    const store = await bank();
    const accounts = balances(store);
    await accounts.waitFor(5);
    const decision = decideWithdrawal(accounts, "acc-1", 10);
    await store.transact({ events: [event("acc-2", "money_deposited", { amount: 5 }), event("audit", "note")] });
    const commit = await store.transact(decision);
    assert.equal(commit.revision, 8);
    await accounts.waitFor(8);
    assert.deepEqual(accounts.state, { "acc-1": 90, "acc-2": 25 });
  });

  test("a projection narrowed by a selector: its position still covers the head", async () => {
    const store = await bank();
    const acc1 = balances(store, { selector: { stream: "acc-1" } });
    await acc1.waitFor(5);
    assert.deepEqual(acc1.state, { "acc-1": 100 });
    assert.equal(acc1.position, 5);
    const decision = decideWithdrawal(acc1, "acc-1", 50);
    assert.deepEqual(decision.constraints, [{ maxRevision: 5, selector: { stream: "acc-1" } }]);
    const commit = await store.transact(decision);
    await acc1.waitFor(commit.revision);
    assert.deepEqual(acc1.state, { "acc-1": 50 });
  });

  test("the same pattern with an exact stream revision expectation", async () => {
    const store = await bank();
    const accounts = store.project({
      initial: {},
      on: {
        account_opened: (s, e) => ({ ...s, [e.stream]: { balance: 0, revision: e.revision } }),
        money_deposited: (s, e) => ({ ...s, [e.stream]: { balance: s[e.stream].balance + e.data.amount, revision: e.revision } }),
        money_withdrawn: (s, e) => ({ ...s, [e.stream]: { balance: s[e.stream].balance - e.data.amount, revision: e.revision } }),
      },
    });
    const decide = (account, amount) => {
      const acc = accounts.state[account];
      if (!acc || acc.balance < amount) return null;
      return { events: [event(account, "money_withdrawn", { amount })], expect: { [account]: { revision: acc.revision } } };
    };
    await accounts.waitFor(store.revision);
    assert.deepEqual(accounts.state, { "acc-1": { balance: 100, revision: 2 }, "acc-2": { balance: 20, revision: 4 } });
    const first = decide("acc-1", 70);
    const stale = decide("acc-1", 70);
    const commit = await store.transact(first);
    assert.deepEqual(commit.streams, { "acc-1": { version: 2, revision: 6 } });
    await rejectsWithViolations(store, stale, [{
      kind: "version_mismatch",
      stream: "acc-1",
      expected: { revision: 2 },
      actual: { version: 2, revision: 6 },
    }]);
    await accounts.waitFor(commit.revision);
    assert.deepEqual(accounts.state["acc-1"], { balance: 30, revision: 6 });
    assert.equal(decide("acc-1", 70), null);
  });

  test("waitFor(commit.revision) shows each write at once, many times over", async () => {
    const store = await bank();
    const accounts = balances(store);
    let expected = 100;
    for (let i = 1; i <= 30; i++) {
      const commit = await store.transact({ events: [event("acc-1", i % 3 ? "money_deposited" : "money_withdrawn", { amount: i })] });
      expected += i % 3 ? i : -i;
      await accounts.waitFor(commit.revision);
      assert.equal(accounts.state["acc-1"], expected);
      assert.equal(accounts.position, commit.revision);
    }
  });
});

// ---------------------------------------------------------------------------
// Folds.
// ---------------------------------------------------------------------------

describe("folds", () => {
  test("a fold returning undefined keeps the mutated state (initial used as given)", async () => {
    const store = await bank();
    const initial = { opened: [], total: 0 };
    const p = store.project({
      initial,
      on: {
        account_opened: (s, e) => { s.opened.push(e.stream); },
        money_deposited: (s, e) => { s.total += e.data.amount; },
      },
    });
    await p.waitFor(5);
    assert.equal(p.state, initial, "the same object, mutated");
    assert.deepEqual(p.state, { opened: ["acc-1", "acc-2"], total: 120 });
  });

  test("only undefined keeps the state: 0, null, false and '' replace it", async () => {
    const store = await newStore();
    const p = store.project({
      initial: 10,
      on: {
        zero: () => 0,
        nul: () => null,
        no: () => false,
        empty: () => "",
        keep: () => undefined,
      },
    });
    const steps = [["zero", 0], ["keep", 0], ["nul", null], ["keep", null], ["no", false], ["empty", ""], ["keep", ""]];
    for (const [type, expected] of steps) {
      const c = await appendOne(store, "s", type);
      await p.waitFor(c.revision);
      assert.equal(p.state, expected, `after ${type}`);
    }
  });

  test("folds get (state, event) with the stored frozen event, only for listed types, narrowed by the selector", async () => {
    const store = await bank();
    const seen = [];
    const p = store.project({
      initial: 0,
      on: {
        money_deposited: (n, e) => { seen.push([n, e]); return n + 1; },
        note: (n, e) => { seen.push([n, e]); return n + 1; },
      },
      selector: { stream: ["acc-1", "acc-2"] },
    });
    await p.waitFor(5);
    const all = store.read();
    assert.deepEqual(seen.map(([n, e]) => [n, e.revision]), [[0, 2], [1, 4]]);
    for (const [, e] of seen) {
      assert.equal(e, all[e.revision - 1]);
      assert.ok(Object.isFrozen(e));
    }
    assert.equal(p.state, 2);
    assert.equal(p.position, 5);
  });

  test("a throwing fold rejects done with a HandlerError; state stays as before the failing event", async () => {
    for (const thrown of [new Error("bad fold"), "bad fold", { reason: 1 }]) {
      const store = await bank();
      const p = store.project({
        initial: { n: 0 },
        on: {
          money_deposited: (s, e) => {
            if (e.stream === "acc-2") throw thrown;
            return { n: s.n + 1 };
          },
        },
      });
      const pending = p.waitFor(6);
      pending.catch(() => {});
      const healthy = balances(store);
      const err = await rejection(p.done);
      assertHandlerError(err, thrown, store.read()[3]);
      assert.equal(await rejection(pending), err);
      assert.deepEqual(p.state, { n: 1 }, "the state before the failing event");
      await appendOne(store, "acc-1", "money_deposited", { amount: 5 });
      await healthy.waitFor(6);
      assert.deepEqual(healthy.state, { "acc-1": 105, "acc-2": 20 }, "other projections carry on");
      await turns();
      assert.deepEqual(p.state, { n: 1 }, "the failed projection folds nothing more");
    }
  });

  test("a throwing fold nobody watches raises no unhandled rejection", async () => {
    await withoutStrayErrors(async () => {
      const store = await bank();
      store.project({ initial: 0, on: { note: () => { throw new Error("unwatched"); } } });
      const p = balances(store);
      await p.waitFor(5);
    });
  });
});

// ---------------------------------------------------------------------------
// waitFor and position.
// ---------------------------------------------------------------------------

describe("projection waitFor", () => {
  test("resolves over events no fold handles, position becomes the head", async () => {
    const store = await bank();
    const p = store.project({ initial: 0, on: { account_closed: (n) => n + 1 } });
    await p.waitFor(5);
    assert.equal(p.position, 5);
    const pending = p.waitFor(7);
    await appendOne(store, "x", "other");
    assert.equal((await settledState(pending)).status, "pending");
    await appendOne(store, "y", "other");
    await pending;
    assert.equal(p.position, 7);
    assert.equal(p.state, 0);
  });

  test("resolves at once for revisions already reached", async () => {
    const store = await bank();
    const p = balances(store);
    assert.equal((await settledState(p.waitFor(0))).status, "fulfilled");
    await p.waitFor(5);
    for (const r of [1, 3, 5]) assert.equal((await settledState(p.waitFor(r))).status, "fulfilled");
  });

  test("bad revisions reject with InvalidInputError at \"revision\"", async () => {
    const store = await bank();
    const p = balances(store);
    for (const bad of [-1, 2.5, "5", null]) assertInvalidInputError(await rejection(p.waitFor(bad)), "revision");
  });
});

// ---------------------------------------------------------------------------
// onChange.
// ---------------------------------------------------------------------------

describe("onChange", () => {
  test("listeners get (state, position) after changes, matching a fold of the log up to position", async () => {
    const store = await bank();
    const p = balances(store);
    const calls = [];
    p.onChange((state, position) => { calls.push({ state, snapshot: structuredClone(state), position }); });
    await p.waitFor(5);
    for (let i = 1; i <= 5; i++) {
      const c = await store.transact({ events: [event("acc-1", "money_deposited", { amount: i }), event("acc-2", "money_withdrawn", { amount: 1 })] });
      await p.waitFor(c.revision);
    }
    assert.ok(calls.length >= 6, `at least one call for the history and one per commit, got ${calls.length}`);
    let last = 0;
    for (const { snapshot, position } of calls) {
      assert.ok(position > last, "positions increase");
      last = position;
      assert.deepEqual(snapshot, balancesAt(store, position), `state at position ${position}`);
    }
    const final = calls.at(-1);
    assert.equal(final.state, p.state);
    assert.equal(final.position, p.position);
    assert.equal(final.position, 15);
    assert.deepEqual(p.state, { "acc-1": 115, "acc-2": 15 });
  });

  test("no listener call for commits no fold handles", async () => {
    const store = await bank();
    const p = balances(store);
    await p.waitFor(5);
    let calls = 0;
    p.onChange(() => { calls++; });
    await appendOne(store, "audit", "note");
    await p.waitFor(6);
    await turns();
    assert.equal(calls, 0);
    assert.equal(p.position, 6);
  });

  test("the returned function removes the listener, others stay", async () => {
    const store = await bank();
    const p = balances(store);
    const a = [];
    const b = [];
    const offA = p.onChange((_, position) => { a.push(position); });
    p.onChange((_, position) => { b.push(position); });
    await p.waitFor(5);
    const before = a.length;
    assert.ok(before >= 1);
    offA();
    offA(); // twice is harmless
    const c = await appendOne(store, "acc-1", "money_deposited", { amount: 1 });
    await p.waitFor(c.revision);
    await turns();
    assert.equal(a.length, before, "a removed listener is not called");
    assert.equal(b.at(-1), 6);
  });

  test("a throwing listener does not stop the projection or the other listeners", async () => {
    const store = await bank();
    const p = balances(store);
    const reported = [];
    const original = console.error;
    console.error = (...args) => { reported.push(args); };
    try {
      p.onChange(() => { throw new Error("listener bug"); });
      const positions = [];
      p.onChange((_, position) => { positions.push(position); });
      await p.waitFor(5);
      const c = await appendOne(store, "acc-2", "money_deposited", { amount: 1 });
      await p.waitFor(c.revision);
      assert.equal(positions.at(-1), 6);
      assert.deepEqual(p.state, { "acc-1": 100, "acc-2": 21 });
      assert.equal((await settledState(p.done)).status, "pending");
      assert.ok(reported.length >= 1, "the failure is reported on console.error");
    } finally {
      console.error = original;
    }
  });

  test("onChange needs a function", async () => {
    const store = await bank();
    const p = balances(store);
    throwsInvalid(() => p.onChange("nope"), "listener");
  });
});

// ---------------------------------------------------------------------------
// close().
// ---------------------------------------------------------------------------

describe("close", () => {
  test("close() freezes state and position, calls no listener, resolves done", async () => {
    const store = await bank();
    const p = balances(store);
    let calls = 0;
    p.onChange(() => { calls++; });
    await p.waitFor(5);
    const state = p.state;
    const callsBefore = calls;
    p.close();
    assert.equal(await p.done, undefined);
    for (let i = 0; i < 3; i++) await appendOne(store, "acc-1", "money_deposited", { amount: 7 });
    const watcher = balances(store);
    await watcher.waitFor(8);
    await turns();
    assert.equal(p.state, state);
    assert.deepEqual(p.state, { "acc-1": 100, "acc-2": 20 });
    assert.equal(p.position, 5);
    assert.equal(calls, callsBefore);
    p.onChange(() => { calls++; });
    await appendOne(store, "acc-1", "money_deposited", { amount: 7 });
    await turns();
    assert.equal(calls, callsBefore, "a listener added after close is never called");
  });

  test("a commit made just before close (same tick) is not folded", async () => {
    const store = await bank();
    const p = balances(store);
    let calls = 0;
    await p.waitFor(5);
    p.onChange(() => { calls++; });
    const commit = store.transact({ events: [event("acc-1", "money_deposited", { amount: 1 })] });
    p.close();
    await commit;
    await p.done;
    await turns();
    assert.deepEqual(p.state, { "acc-1": 100, "acc-2": 20 });
    assert.equal(p.position, 5);
    assert.equal(calls, 0);
  });

  test("close() right after project(): nothing is ever folded", async () => {
    const store = await bank();
    const initial = {};
    const p = balances(store);
    p.close();
    await p.done;
    await turns();
    assert.deepEqual(p.state, initial);
    assert.equal(p.position, 0);
  });

  test('a pending waitFor rejects with code "STOPPED" on close', async () => {
    const store = await bank();
    const p = balances(store);
    await p.waitFor(5);
    const pending = p.waitFor(9);
    p.close();
    const err = await rejection(pending);
    assert.ok(err instanceof HindcastError);
    assert.ok(!(err instanceof HandlerError));
    assert.equal(err.code, "STOPPED");
    await p.waitFor(5);
    p.close(); // twice is harmless
  });

  test("close() from inside a listener stops the folding there", async () => {
    const store = await bank();
    const p = balances(store);
    await p.waitFor(5);
    p.onChange((state) => { if (state["acc-1"] > 100) p.close(); });
    const c = await appendOne(store, "acc-1", "money_deposited", { amount: 1 });
    await p.done;
    await appendOne(store, "acc-1", "money_deposited", { amount: 1 });
    await turns();
    assert.deepEqual(p.state, { "acc-1": 101, "acc-2": 20 });
    assert.equal(p.position, c.revision);
  });
});

// ---------------------------------------------------------------------------
// Bad input to project throws synchronously.
// ---------------------------------------------------------------------------

describe("bad input to project", () => {
  const f = (s) => s;
  const CASES = [
    ["no on", () => ({ initial: 0 }), "on"],
    ["on not an object", () => ({ initial: 0, on: 5 }), "on"],
    ["on a function", () => ({ initial: 0, on: f }), "on"],
    ["on an array", () => ({ initial: 0, on: [f] }), "on"],
    ["on with no types", () => ({ initial: 0, on: {} }), "on"],
    ["a fold that is not a function", () => ({ initial: 0, on: { account_opened: f, money_deposited: 3 } }), ["on.money_deposited", 'on["money_deposited"]']],
    ["a fold key that is not an identifier", () => ({ initial: 0, on: { "money-deposited": null } }), 'on["money-deposited"]'],
    ["an unknown key", () => ({ initial: 0, on: { a: f }, foo: 1 }), "foo"],
    ["a misspelt key", () => ({ inital: 0, on: { a: f } }), "inital"],
    ["a misspelt selector key", () => ({ initial: 0, on: { a: f }, selector: { steam: "x" } }), "selector.steam"],
  ];
  for (const [name, spec, path] of CASES) {
    test(`${name} → InvalidInputError at ${JSON.stringify(path)}`, async () => {
      const store = await bank();
      throwsInvalid(() => store.project(spec()), path);
    });
  }

  test("no spec at all → InvalidInputError", async () => {
    const store = await bank();
    for (const spec of [undefined, null, 5, "on"]) {
      throwsInvalid(() => store.project(spec), /.*/);
    }
  });

  test("position follows the head across many commits without sleeping", async () => {
    const store = await newStore();
    const p = store.project({ initial: [], on: { n: (s, e) => { s.push(e.data.n); } } });
    const writes = range(1, 50).map((n) => store.transact({ events: [event("s", "n", { n })] }));
    await Promise.all(writes);
    await p.waitFor(50);
    assert.deepEqual(p.state, range(1, 50));
    assert.equal(p.position, 50);
  });
});
