// SPEC §2–§3, the Dynamic Consistency Boundary: DCB queries as selectors and
// the append condition failIfEventsMatch … after, used the DCB way (decide on
// a query's events, append only if no new event matches it).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConstraintViolationError } from "hindcast";
import { newStore, event, rejectsWithViolations, revs, rejection, assertViolations } from "./helpers.mjs";

// A course-subscription model, the usual DCB example.
async function courses() {
  const store = await newStore();
  await store.transact({ events: [event("course-c1", "course_defined", { capacity: 2 }, { tags: ["course:c1"] })] }); // 1
  await store.transact({ events: [event("course-c2", "course_defined", { capacity: 1 }, { tags: ["course:c2"] })] }); // 2
  await store.transact({ events: [event("student-s1", "student_registered", {}, { tags: ["student:s1"] })] }); // 3
  await store.transact({ events: [event("student-s2", "student_registered", {}, { tags: ["student:s2"] })] }); // 4
  await store.transact({ events: [event("student-s3", "student_registered", {}, { tags: ["student:s3"] })] }); // 5
  return store;
}

const courseQuery = (course) => [
  { types: ["course_defined", "course_capacity_changed"], tags: [`course:${course}`] },
  { types: ["student_subscribed"], tags: [`course:${course}`] },
];

/** Decides on a subscription from the query's events; returns the request or a refusal. */
function decideSubscription(store, course, student) {
  const query = courseQuery(course);
  const position = store.revision;
  const events = store.read(query);
  let capacity = 0;
  let subscribed = 0;
  for (const e of events) {
    if (e.type === "course_defined" || e.type === "course_capacity_changed") capacity = e.data.capacity;
    if (e.type === "student_subscribed") subscribed += 1;
  }
  if (subscribed >= capacity) return { refused: "course full", position };
  return {
    position,
    request: {
      events: [event(`subscriptions`, "student_subscribed", { course, student }, { tags: [`course:${course}`, `student:${student}`] })],
      constraints: [{ failIfEventsMatch: query, after: position }],
    },
  };
}

test("a DCB query reads the events of any of its items", async () => {
  const store = await courses();
  assert.deepEqual(revs(store.read(courseQuery("c1"))), [1]);
  assert.deepEqual(revs(store.read([{ types: ["student_registered"], tags: ["student:s2"] }, { types: ["course_defined"], tags: ["course:c2"] }])), [2, 4]);
});

test("a DCB item needs every tag it lists", async () => {
  const store = await courses();
  await store.transact({ events: [event("subscriptions", "student_subscribed", {}, { tags: ["course:c1", "student:s1"] })] }); // 6
  assert.deepEqual(revs(store.read([{ types: ["student_subscribed"], tags: ["course:c1", "student:s1"] }])), [6]);
  assert.deepEqual(revs(store.read([{ types: ["student_subscribed"], tags: ["course:c1", "student:s2"] }])), []);
});

test("a DCB item with types: [] matches on tags alone", async () => {
  const store = await courses();
  assert.deepEqual(revs(store.read([{ types: [], tags: ["course:c2"] }])), [2]);
  assert.equal(store.lastRevision([{ types: [], tags: ["student:s3"] }]), 5);
});

test("a DCB query with no items matches every event, as the DCB specification says", async () => {
  const store = await courses();
  assert.deepEqual(revs(store.read([])), [1, 2, 3, 4, 5]);
  assert.equal(store.lastRevision([]), 5);
  // The append condition over "all events": fails once anything is after the position.
  await assert.rejects(
    store.transact({ events: [event("s", "x")], constraints: [{ failIfEventsMatch: [], after: 4 }] }),
    (e) => e.code === "CONSTRAINT_VIOLATION" && e.violations[0].kind === "max_revision_exceeded" && e.violations[0].found === 5,
  );
  const commit = await store.transact({ events: [event("s", "x")], constraints: [{ failIfEventsMatch: [], after: 5 }] });
  assert.equal(commit.revision, 6);
  const seen = [];
  const sub = store.subscribe((e) => {
    seen.push(e.revision);
  }, { selector: [] });
  await sub.waitFor(6);
  sub.cancel();
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
});

test("a DCB item without tags matches on types alone", async () => {
  const store = await courses();
  assert.deepEqual(revs(store.read([{ types: ["student_registered"] }])), [3, 4, 5]);
});

test("a decision whose query saw no new event commits", async () => {
  const store = await courses();
  const d = decideSubscription(store, "c1", "s1");
  const commit = await store.transact(d.request);
  assert.equal(commit.revision, 6);
  assert.deepEqual(revs(store.read(courseQuery("c1"))), [1, 6]);
});

test("events outside the query do not invalidate a decision", async () => {
  const store = await courses();
  const d = decideSubscription(store, "c1", "s1");
  await store.transact({ events: [event("course-c2", "course_capacity_changed", { capacity: 5 }, { tags: ["course:c2"] })] }); // 6
  await store.transact({ events: [event("student-s4", "student_registered", {}, { tags: ["student:s4"] })] }); // 7
  const commit = await store.transact(d.request);
  assert.equal(commit.revision, 8);
});

test("an event matching the query after the decision makes the append fail", async () => {
  const store = await courses();
  const d1 = decideSubscription(store, "c2", "s1");
  const d2 = decideSubscription(store, "c2", "s2");
  assert.equal(d1.position, 5);
  assert.equal(d2.position, 5);
  const first = await store.transact(d1.request);
  assert.equal(first.revision, 6);
  await rejectsWithViolations(store, d2.request, [
    { kind: "max_revision_exceeded", constraint: { failIfEventsMatch: courseQuery("c2"), after: 5 }, max: 5, found: 6 },
  ]);
  const retry = decideSubscription(store, "c2", "s2");
  assert.deepEqual(retry, { refused: "course full", position: 6 });
});

test("failIfEventsMatch without after is create-once for a DCB query", async () => {
  const store = await courses();
  const query = [{ types: ["course_defined"], tags: ["course:c3"] }];
  const request = () => ({
    events: [event("course-c3", "course_defined", { capacity: 3 }, { tags: ["course:c3"] })],
    constraints: [{ failIfEventsMatch: query }],
  });
  const commit = await store.transact(request());
  assert.equal(commit.revision, 6);
  const err = await rejection(store.transact(request()));
  assert.ok(err instanceof ConstraintViolationError);
  assertViolations(err, [
    { kind: "max_revision_exceeded", constraint: { failIfEventsMatch: query }, max: 0, found: 6 },
  ]);
});

test("types may be combined with stream and subject in a query item", async () => {
  const store = await courses();
  await store.transact({ events: [event("course-c1", "course_capacity_changed", { capacity: 3 }, { subject: "c1", tags: ["course:c1"] })] }); // 6
  assert.deepEqual(revs(store.read({ stream: "course-c1", types: ["course_capacity_changed", "course_defined"] })), [1, 6]);
  assert.deepEqual(revs(store.read({ subject: "c1", types: ["course_capacity_changed"] })), [6]);
  assert.deepEqual(revs(store.read([{ stream: "course-c2", types: ["course_defined"] }, { subject: "c1", types: ["course_capacity_changed"] }])), [2, 6]);
});

test("concurrent DCB decisions on one course: capacity is never exceeded", async () => {
  const store = await courses();
  // Course c1 has capacity 2; five students try at once, each retrying on conflict.
  async function subscribe(student) {
    for (;;) {
      const d = decideSubscription(store, "c1", student);
      if (d.refused) return "refused";
      try {
        await store.transact(d.request);
        return "subscribed";
      } catch (e) {
        if (!(e instanceof ConstraintViolationError)) throw e;
      }
    }
  }
  const outcomes = await Promise.all(["s1", "s2", "s3", "s4", "s5"].map(subscribe));
  assert.equal(outcomes.filter((o) => o === "subscribed").length, 2);
  assert.equal(outcomes.filter((o) => o === "refused").length, 3);
  assert.equal(store.read([{ types: ["student_subscribed"], tags: ["course:c1"] }]).length, 2);
});
