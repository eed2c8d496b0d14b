// SPEC §3, batch constraints: minRevision, maxRevision, revisionRange and
// failIfEventsMatch, with and without selectors, holding and failing, with the
// exact violation objects, every violation reported in the order of
// SEMANTICS.md, and nothing written on failure.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BANK_SELECTORS, bankStore, newStore, selRev, event, uuid, rejectsWithViolations,
} from "./helpers.mjs";

// The bank fixture has head 6.
const HEAD = 6;
const probe = () => event("elsewhere", "probe", { p: 1 });

async function holds(store, constraints) {
  const head = store.revision;
  const commit = await store.transact({ events: [probe()], constraints });
  assert.equal(commit.firstRevision, head + 1);
  assert.equal(store.revision, head + 1);
  return commit;
}

const minNotMet = (constraint, expected, actual) =>
  ({ kind: "min_revision_not_met", constraint, expected, actual });
const maxExceeded = (constraint, max, found) =>
  ({ kind: "max_revision_exceeded", constraint, max, found });
const rangeNot = (constraint, start, end, actual) =>
  ({ kind: "range_not_satisfied", constraint, start, end, actual });

async function fails(store, constraint, violation) {
  return rejectsWithViolations(store, { events: [probe()], constraints: [constraint] }, [violation]);
}

// --- minRevision -----------------------------------------------------------

test("{ minRevision } without selector holds when head >= r", async () => {
  const store = await bankStore();
  await holds(store, [{ minRevision: HEAD }]);
  await holds(store, [{ minRevision: 1 }]);
  await holds(store, [{ minRevision: 0 }]);
});

test("{ minRevision } without selector fails when head < r", async () => {
  const store = await bankStore();
  const c = { minRevision: HEAD + 1 };
  await fails(store, c, minNotMet(c, HEAD + 1, HEAD));
});

test("{ minRevision: 0 } holds on an empty store; { minRevision: 1 } fails there", async () => {
  const store = await newStore();
  await rejectsWithViolations(store, { events: [probe()], constraints: [{ minRevision: 1 }] }, [
    minNotMet({ minRevision: 1 }, 1, 0),
  ]);
  const commit = await store.transact({ events: [probe()], constraints: [{ minRevision: 0 }] });
  assert.equal(commit.revision, 1);
});

test("{ minRevision, selector } holds when sel_rev >= r", async () => {
  const store = await bankStore();
  await holds(store, [{ minRevision: 3, selector: { stream: "acc-1" } }]);
  await holds(store, [{ minRevision: 2, selector: { stream: "acc-1" } }]);
});

test("{ minRevision, selector } fails when sel_rev < r, reporting sel_rev", async () => {
  const store = await bankStore();
  const c = { minRevision: 4, selector: { stream: "acc-1" } };
  await fails(store, c, minNotMet(c, 4, 3));
});

test("{ minRevision: 1, selector } fails when nothing matches (update only if it exists)", async () => {
  const store = await bankStore();
  const c = { minRevision: 1, selector: { stream: "acc-9" } };
  await fails(store, c, minNotMet(c, 1, 0));
});

// --- maxRevision -----------------------------------------------------------

test("{ maxRevision } without selector holds when head <= r", async () => {
  const store = await bankStore();
  await holds(store, [{ maxRevision: 100 }]);
  await holds(store, [{ maxRevision: HEAD + 1 }]);
});

test("{ maxRevision } without selector fails when head > r", async () => {
  const store = await bankStore();
  const c = { maxRevision: HEAD - 1 };
  await fails(store, c, maxExceeded(c, HEAD - 1, HEAD));
});

test("{ maxRevision, selector } holds when sel_rev <= r", async () => {
  const store = await bankStore();
  await holds(store, [{ maxRevision: 3, selector: { stream: "acc-1" } }]);
  await holds(store, [{ maxRevision: 5, selector: { stream: "acc-1" } }]);
});

test("{ maxRevision, selector } fails when sel_rev > r, reporting sel_rev", async () => {
  const store = await bankStore();
  const c = { maxRevision: 2, selector: { stream: "acc-1" } };
  await fails(store, c, maxExceeded(c, 2, 3));
});

test("{ maxRevision: 0, selector } is create-once: holds first, fails after", async () => {
  const store = await bankStore();
  const c = { maxRevision: 0, selector: { stream: "acc-3" } };
  const first = await store.transact({ events: [event("acc-3", "account_opened")], constraints: [c] });
  assert.equal(first.revision, 7);
  await rejectsWithViolations(store, { events: [event("acc-3", "account_opened")], constraints: [c] }, [
    maxExceeded(c, 0, 7),
  ]);
});

// --- revisionRange ---------------------------------------------------------

test("{ revisionRange } without selector holds when a <= head <= b", async () => {
  const store = await bankStore();
  await holds(store, [{ revisionRange: [1, HEAD] }]);
  await holds(store, [{ revisionRange: [HEAD + 1, HEAD + 1] }]);
  await holds(store, [{ revisionRange: [0, 100] }]);
});

test("{ revisionRange } without selector fails when head < a", async () => {
  const store = await bankStore();
  const c = { revisionRange: [HEAD + 1, HEAD + 3] };
  await fails(store, c, rangeNot(c, HEAD + 1, HEAD + 3, HEAD));
});

test("{ revisionRange } without selector fails when head > b", async () => {
  const store = await bankStore();
  const c = { revisionRange: [1, HEAD - 1] };
  await fails(store, c, rangeNot(c, 1, HEAD - 1, HEAD));
});

test("{ revisionRange: [r, r] } is an exact check on head", async () => {
  const store = await bankStore();
  const c = { revisionRange: [HEAD - 1, HEAD - 1] };
  await fails(store, c, rangeNot(c, HEAD - 1, HEAD - 1, HEAD));
  await holds(store, [{ revisionRange: [HEAD, HEAD] }]);
});

test("{ revisionRange, selector } holds when a <= sel_rev <= b", async () => {
  const store = await bankStore();
  await holds(store, [{ revisionRange: [3, 3], selector: { stream: "acc-1" } }]);
  await holds(store, [{ revisionRange: [1, 5], selector: { stream: "acc-2" } }]);
  await holds(store, [{ revisionRange: [0, 0], selector: { stream: "acc-9" } }]);
});

test("{ revisionRange, selector } fails below the range, reporting sel_rev", async () => {
  const store = await bankStore();
  const c = { revisionRange: [4, 10], selector: { stream: "acc-1" } };
  await fails(store, c, rangeNot(c, 4, 10, 3));
});

test("{ revisionRange, selector } fails above the range, reporting sel_rev", async () => {
  const store = await bankStore();
  const c = { revisionRange: [1, 2], selector: { stream: "acc-1" } };
  await fails(store, c, rangeNot(c, 1, 2, 3));
});

test("{ revisionRange, selector } fails when nothing matches and a > 0", async () => {
  const store = await bankStore();
  const c = { revisionRange: [1, 10], selector: { stream: "acc-9" } };
  await fails(store, c, rangeNot(c, 1, 10, 0));
});

// --- failIfEventsMatch -----------------------------------------------------

test("{ failIfEventsMatch } without after holds when nothing matches", async () => {
  const store = await bankStore();
  await holds(store, [{ failIfEventsMatch: { type: "account_closed" } }]);
});

test("{ failIfEventsMatch } without after fails when any event matches (after defaults to 0)", async () => {
  const store = await bankStore();
  const c = { failIfEventsMatch: { type: "account_opened" } };
  await fails(store, c, maxExceeded(c, 0, 2));
});

test("{ failIfEventsMatch, after } holds when no match is newer than after", async () => {
  const store = await bankStore();
  await holds(store, [{ failIfEventsMatch: { type: "account_opened" }, after: 2 }]);
  await holds(store, [{ failIfEventsMatch: { type: "account_opened" }, after: 5 }]);
});

test("{ failIfEventsMatch, after } fails when a match is newer than after", async () => {
  const store = await bankStore();
  const c = { failIfEventsMatch: { type: "account_opened" }, after: 1 };
  await fails(store, c, maxExceeded(c, 1, 2));
});

test("{ failIfEventsMatch, after: 0 } is the same as leaving after out", async () => {
  const store = await bankStore();
  const c = { failIfEventsMatch: { stream: "transfers" }, after: 0 };
  await fails(store, c, maxExceeded(c, 0, 4));
});

test("{ failIfEventsMatch: DCB query, after } holds and fails on the newest matching item", async () => {
  const store = await bankStore();
  const query = [
    { types: ["account_opened"], tags: ["account:acc-2"] },
    { types: ["money_deposited"], tags: ["account:acc-1"] },
  ];
  const c = { failIfEventsMatch: query, after: 2 };
  await fails(store, c, maxExceeded(c, 2, 3));
  await holds(store, [{ failIfEventsMatch: query, after: 3 }]);
});

test("{ failIfEventsMatch: array of selectors } matches any of them", async () => {
  const store = await bankStore();
  const c = { failIfEventsMatch: [{ stream: "acc-9" }, { subject: "tx-1" }], after: 3 };
  await fails(store, c, maxExceeded(c, 3, 4));
  await holds(store, [{ failIfEventsMatch: [{ stream: "acc-9" }, { subject: "tx-1" }], after: 4 }]);
});

test("{ failIfEventsMatch: Q, after: p } and { maxRevision: p, selector: Q } agree", async () => {
  const store = await bankStore();
  const q = { tags: ["account:acc-2"] };
  const a = { failIfEventsMatch: q, after: 4 };
  const b = { maxRevision: 4, selector: q };
  await rejectsWithViolations(store, { events: [probe()], constraints: [a, b] }, [
    maxExceeded(a, 4, 5),
    maxExceeded(b, 4, 5),
  ]);
});

// --- every selector form, in every constraint --------------------------------

for (const entry of BANK_SELECTORS) {
  const k = selRev(entry);
  const { selector } = entry;
  describe(`constraints with selector: ${entry.name} (sel_rev ${k})`, () => {
    test("minRevision: fails at sel_rev + 1, holds at sel_rev", async () => {
      const store = await bankStore();
      const c = { minRevision: k + 1, selector };
      await fails(store, c, minNotMet(c, k + 1, k));
      await holds(store, [{ minRevision: k, selector }]);
    });

    test("maxRevision: fails below sel_rev, holds at sel_rev", async () => {
      const store = await bankStore();
      if (k > 0) {
        const c = { maxRevision: k - 1, selector };
        await fails(store, c, maxExceeded(c, k - 1, k));
      }
      await holds(store, [{ maxRevision: k, selector }]);
    });

    test("revisionRange: fails just outside sel_rev, holds at [sel_rev, sel_rev]", async () => {
      const store = await bankStore();
      const above = { revisionRange: [k + 1, k + 2], selector };
      await fails(store, above, rangeNot(above, k + 1, k + 2, k));
      if (k > 0) {
        const below = { revisionRange: [0, k - 1], selector };
        await fails(store, below, rangeNot(below, 0, k - 1, k));
      }
      await holds(store, [{ revisionRange: [k, k], selector }]);
    });

    test("failIfEventsMatch: fails after sel_rev - 1, holds after sel_rev", async () => {
      const store = await bankStore();
      if (k > 0) {
        const c = { failIfEventsMatch: selector, after: k - 1 };
        await fails(store, c, maxExceeded(c, k - 1, k));
      } else {
        await holds(store, [{ failIfEventsMatch: selector }]);
      }
      await holds(store, [{ failIfEventsMatch: selector, after: k }]);
    });
  });
}

// --- several constraints ---------------------------------------------------

test("constraints that all hold let the batch commit", async () => {
  const store = await bankStore();
  const commit = await store.transact({
    events: [event("acc-1", "money_withdrawn", { amount: 10 })],
    constraints: [
      { minRevision: 6 },
      { maxRevision: 3, selector: { stream: "acc-1" } },
      { revisionRange: [5, 5], selector: { stream: "acc-2" } },
      { failIfEventsMatch: { type: "account_closed" } },
    ],
  });
  assert.deepEqual(commit.streams, { "acc-1": { version: 2, revision: 7 } });
});

test("every failing constraint is reported, in the order given", async () => {
  const store = await bankStore();
  const c0 = { minRevision: 1 };
  const c1 = { maxRevision: 1, selector: { stream: "acc-2" } };
  const c2 = { minRevision: 10 };
  const c3 = { revisionRange: [3, 3], selector: { stream: "acc-1" } };
  const c4 = { revisionRange: [1, 2] };
  const c5 = { failIfEventsMatch: [{ types: ["note"] }], after: 5 };
  await rejectsWithViolations(store, { events: [probe()], constraints: [c0, c1, c2, c3, c4, c5] }, [
    maxExceeded(c1, 1, 5),
    minNotMet(c2, 10, HEAD),
    rangeNot(c4, 1, 2, HEAD),
    maxExceeded(c5, 5, 6),
  ]);
});

test("violations list expectations first, then constraints, then duplicate event ids", async () => {
  const store = await bankStore();
  const existing = store.read({ stream: "acc-2" })[0];
  const dupA = uuid();
  await store.transact({ events: [event("ids", "t", {}, { id: dupA })] }); // r7
  const c0 = { minRevision: 100 };
  const c1 = { maxRevision: 0, selector: { stream: "acc-2" } };
  await rejectsWithViolations(store, {
    events: [
      event("acc-1", "t", {}, { id: dupA }),
      event("new", "t", {}),
      event("acc-1", "t", {}, { id: existing.id }),
    ],
    expect: { "acc-1": "no_stream", new: "stream_exists" },
    constraints: [c0, c1],
  }, [
    { kind: "version_mismatch", stream: "acc-1", expected: "no_stream", actual: { version: 1, revision: 3 } },
    { kind: "version_mismatch", stream: "new", expected: "stream_exists", actual: null },
    minNotMet(c0, 100, 7),
    maxExceeded(c1, 0, 5),
    { kind: "duplicate_event_id", id: dupA, revision: 7 },
    { kind: "duplicate_event_id", id: existing.id, revision: 2 },
  ]);
});

test("the constraint in a violation is the constraint exactly as given (DCB spelling kept)", async () => {
  const store = await bankStore();
  const c = {
    failIfEventsMatch: [{ types: ["account_opened", "money_deposited"], tags: ["account:acc-1"] }],
    after: 1,
  };
  const err = await fails(store, c, maxExceeded(c, 1, 3));
  assert.deepEqual(err.violations[0].constraint, {
    failIfEventsMatch: [{ types: ["account_opened", "money_deposited"], tags: ["account:acc-1"] }],
    after: 1,
  });
});

test("constraints are checked against the store before the batch", async () => {
  const store = await bankStore();
  const commit = await store.transact({
    events: [event("acc-3", "account_opened"), event("acc-3", "money_deposited")],
    constraints: [
      { maxRevision: 0, selector: { stream: "acc-3" } },
      { revisionRange: [HEAD, HEAD] },
    ],
  });
  assert.deepEqual(commit.streams, { "acc-3": { version: 1, revision: 8 } });
});

test("a batch failing one constraint writes none of its events", async () => {
  const store = await bankStore();
  const c = { maxRevision: 0, selector: { type: "account_opened" } };
  await rejectsWithViolations(store, {
    events: [event("acc-3", "account_opened"), event("acc-4", "account_opened"), event("acc-1", "x")],
    constraints: [{ minRevision: 1 }, c],
  }, [maxExceeded(c, 0, 2)]);
  assert.equal(store.stream("acc-3"), null);
  assert.equal(store.stream("acc-4"), null);
  assert.deepEqual(store.stream("acc-1"), { version: 1, revision: 3 });
});

test("after a failed constraint the next commit takes the next revision", async () => {
  const store = await bankStore();
  const c = { minRevision: 99 };
  await fails(store, c, minNotMet(c, 99, HEAD));
  const commit = await store.transact({ events: [probe()] });
  assert.equal(commit.firstRevision, HEAD + 1);
  assert.equal(commit.revision, HEAD + 1);
});

test("expectations and constraints combine: both must hold", async () => {
  const store = await bankStore();
  const c = { minRevision: 1, selector: { stream: "acc-1" } };
  const commit = await store.transact({
    events: [event("acc-1", "money_withdrawn")],
    expect: { "acc-1": { version: 1 } },
    constraints: [c],
  });
  assert.equal(commit.revision, 7);
  await rejectsWithViolations(store, {
    events: [event("acc-1", "money_withdrawn")],
    expect: { "acc-1": { version: 2 } },
    constraints: [{ maxRevision: 6, selector: { stream: "acc-1" } }],
  }, [maxExceeded({ maxRevision: 6, selector: { stream: "acc-1" } }, 6, 7)]);
});
