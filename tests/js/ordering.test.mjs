// SPEC §5 guarantees, after Hindsight's ordering test: subscriptions started
// before, during and after 100 random multi-stream batches (random streams
// among a few, random sizes 1–5, some failing) all compute the same hash
// chain over (id, stream, version) once caught up, the one computed from
// `store.read()`: every matching committed event exactly once, in revision
// order, with no gap at the seam between history and live events, and never
// an event of a failed batch.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConstraintViolationError, InvalidInputError } from "hindcast";
import { newStore, event, rng, between, Chain, deferred, range, revs } from "./helpers.mjs";

const STREAMS = ["s0", "s1", "s2", "s3"];
const TYPES = ["t0", "t1", "t2"];
const TAGS = ["k0", "k1", "k2"];

function randomEvent(r, i) {
  const e = event(STREAMS[between(r, 0, STREAMS.length - 1)], TYPES[between(r, 0, TYPES.length - 1)], { batch: i, x: r() });
  if (r() < 0.5) e.subject = `p${between(r, 0, 2)}`;
  const tags = TAGS.filter(() => r() < 0.3);
  if (tags.length) e.tags = tags;
  return e;
}

/** A subscription computing the chain of what it receives. */
function chainSub(store, label, { options, matchers, delay, r } = {}) {
  const w = { label, options, matchers, chain: new Chain(), received: [], inFlight: 0, maxInFlight: 0 };
  const onEvent = (e) => {
    w.inFlight++;
    w.maxInFlight = Math.max(w.maxInFlight, w.inFlight);
    w.received.push(e);
    w.chain.push(e);
    if (delay && r() < 0.3) {
      return new Promise((resolve) => setTimeout(resolve, between(r, 0, 3))).then(() => { w.inFlight--; });
    }
    w.inFlight--;
    return undefined;
  };
  const handler = matchers ? Object.fromEntries(matchers.map((t) => [t, onEvent])) : onEvent;
  w.sub = store.subscribe(handler, options);
  return w;
}

/** What `w` must have received, read back from the store. */
function expectedFor(store, w) {
  const { selector, after = 0 } = w.options ?? {};
  let from = 1;
  if (after === "end") from = w.startHead + 1;
  else from = after + 1;
  let events = store.read(selector, { from });
  if (w.matchers) events = events.filter((e) => w.matchers.includes(e.type));
  return events;
}

async function orderingRun(seed) {
  const r = rng(seed);
  const store = await newStore();
  const subs = [];
  const add = (label, opts = {}) => {
    const startHead = store.revision;
    const w = chainSub(store, label, { ...opts, r });
    w.startHead = startHead;
    subs.push(w);
    return w;
  };

  // Before any batch.
  add("before: all");
  add("before: all, async with delays", { delay: true });
  add("before: stream s1", { options: { selector: { stream: "s1" } } });
  add("before: matchers t0, t2", { matchers: ["t0", "t2"] });
  add("before: matchers t1 on s0|s3, async", { matchers: ["t1"], options: { selector: { stream: ["s0", "s3"] } }, delay: true });
  add("before: tags k0+k1", { options: { selector: { tags: ["k0", "k1"] } } });
  add("before: DCB query", { options: { selector: [{ types: ["t2"], tags: ["k2"] }, { types: [], tags: ["k0"] }] } });
  add("before: subject p1 or type t1 on s2", { options: { selector: [{ subject: "p1" }, { stream: "s2", type: "t1" }] } });
  const projection = store.project({
    initial: new Chain(),
    on: Object.fromEntries(TYPES.map((t) => [t, (chain, e) => chain.push(e)])),
  });

  // One subscribes from inside another's handler, at a random event.
  const spawnAt = between(r, 20, 150);
  const spawned = deferred();
  const spawner = store.subscribe((e) => {
    if (e.revision === spawnAt) {
      spawned.resolve(add(`from a handler at ${spawnAt}`));
      add(`from a handler at ${spawnAt}, end`, { options: { after: "end" } });
      return "stop";
    }
    return undefined;
  });

  let failed = 0;
  const writes = [];
  const during = new Set([between(r, 0, 30), between(r, 30, 60), between(r, 60, 99), 50]);
  for (let i = 0; i < 100; i++) {
    const events = range(1, between(r, 1, 5)).map(() => randomEvent(r, i));
    const request = { events };
    const roll = r();
    if (roll < 0.15) {
      // A right expectation on a stream it writes.
      const s = events[0].stream;
      request.expect = { [s]: { revision: store.stream(s)?.revision ?? 0 } };
    }
    writes.push(store.transact(request));
    if (roll > 0.85) {
      // A failing batch in between: a violated expectation or bad input.
      const bad = range(1, between(r, 1, 5)).map(() => randomEvent(r, -1));
      const badRequest =
        r() < 0.5
          ? { events: bad, expect: { [bad[0].stream]: { revision: store.revision + 7 } } }
          : { events: [...bad, { stream: "s0", type: "" }] };
      const refused = store.transact(badRequest).then(
        () => assert.fail("a failing batch committed"),
        (err) => {
          assert.ok(err instanceof ConstraintViolationError || err instanceof InvalidInputError);
          failed++;
        },
      );
      writes.push(refused);
    }
    if (during.has(i)) {
      // Between two commits of the same tick.
      add(`during ${i}: all`);
      add(`during ${i}: all, async`, { delay: true });
      add(`during ${i}: end`, { options: { after: "end" } });
      add(`during ${i}: after ${Math.max(0, store.revision - 3)}`, { options: { after: Math.max(0, store.revision - 3) } });
      add(`during ${i}: stream s2`, { options: { selector: { stream: "s2" } } });
      add(`during ${i}: matchers t0`, { matchers: ["t0"], options: { selector: { subject: ["p0", "p2"] } } });
    }
    if (r() < 0.5) await writes[writes.length - 1];
  }
  await Promise.all(writes);
  add("after: all");
  add("after: stream s3", { options: { selector: { stream: "s3" } } });
  add("after: matchers t1, t2", { matchers: ["t1", "t2"] });

  const head = store.revision;
  const all = store.read();
  assert.ok(failed > 0, "some batches failed");
  assert.deepEqual(revs(all), range(1, head), "the log has no gap");
  // Stream versions are contiguous in revision order.
  const next = {};
  for (const e of all) {
    assert.equal(e.version, next[e.stream] ?? 0, `version of ${e.stream} at ${e.revision}`);
    next[e.stream] = e.version + 1;
  }
  assert.ok(all.every((e) => e.data.batch >= 0), "no event of a failed batch is in the log");

  if (spawnAt <= head) await spawned.promise;
  await spawner.done;
  for (const w of subs) {
    await w.sub.waitFor(head);
    const expected = expectedFor(store, w);
    const where = `seed ${seed}, ${w.label}`;
    assert.equal(w.chain.value, Chain.of(expected), `${where}: the chains differ`);
    assert.deepEqual(revs(w.received), revs(expected), where);
    assert.equal(w.maxInFlight, w.received.length ? 1 : 0, `${where}: one event at a time`);
    assert.equal(w.sub.position, head, `${where}: position`);
    assert.ok(w.received.every((e) => e.data.batch >= 0), `${where}: no event of a failed batch`);
  }
  await projection.waitFor(head);
  assert.equal(projection.state.value, Chain.of(all), `seed ${seed}: the projection's chain`);
  assert.equal(projection.position, head);
  return { head, subs: subs.length };
}

for (const seed of [1, 2, 3, 0xc0ffee, 20261123]) {
  test(`ordering: subscriptions before, during and after 100 random batches agree (seed ${seed})`, async () => {
    const { head, subs } = await orderingRun(seed);
    assert.ok(head >= 100 && head <= 500);
    assert.ok(subs >= 20);
  });
}

test("ordering: a random seed (reported on failure)", async () => {
  const seed = (Math.random() * 2 ** 32) >>> 0;
  try {
    await orderingRun(seed);
  } catch (err) {
    err.message = `seed ${seed}: ${err.message}`;
    throw err;
  }
});
