// Two store instances on one database (as two tabs), random requests in
// random interleavings, decided on each instance's possibly stale view.
// Checked against a model: one memory store fed the committed requests in
// commit order must commit each at the same revisions (no lost update, no
// check that held only on a stale view), and both instances end with the
// model's log.
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, ConstraintViolationError } from "hindcast";
import { rng } from "./helpers.mjs";


const STREAMS = ["s1", "s2", "s3"];

/** A request decided on `store`'s current view. */
function decide(store, random) {
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const events = Array.from({ length: 1 + Math.floor(random() * 2) }, () => ({
    id: crypto.randomUUID(),
    stream: pick(STREAMS),
    type: pick(["x", "y"]),
    data: { n: Math.floor(random() * 100) },
  }));
  const request = { id: crypto.randomUUID(), events };
  const s = pick(STREAMS);
  const kind = random();
  if (kind < 0.3) request.expect = { [s]: { revision: store.stream(s)?.revision ?? 0 } };
  else if (kind < 0.45) request.expect = { [s]: pick(["no_stream", "stream_exists", "any"]) };
  else if (kind < 0.7) request.constraints = [{ maxRevision: store.lastRevision({ stream: s }), selector: { stream: s } }];
  else if (kind < 0.8) request.constraints = [{ minRevision: store.revision }];
  return request;
}

const tick = (random) => (random() < 0.5 ? Promise.resolve() : new Promise((r) => setTimeout(r, 0)));

test("two instances on one database behave as one store fed the commits in order (seeded)", async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const random = rng(seed);
    const name = `hindcast-random-${process.pid}-${seed}`;
    const tabs = [await EventStore.open(name), await EventStore.open(name)];
    const outcomes = [];
    for (let wave = 0; wave < 12; wave++) {
      const inflight = [];
      for (let k = 1 + Math.floor(random() * 4); k > 0; k--) {
        const request = decide(tabs[Math.floor(random() * 2)], random);
        const tab = tabs[Math.floor(random() * 2)];
        inflight.push(
          tab.transact(request).then(
            (commit) => outcomes.push({ request, commit }),
            (error) => outcomes.push({ request, error }),
          ),
        );
        await tick(random);
      }
      await Promise.all(inflight);
    }
    for (const o of outcomes) {
      if (o.error) assert.ok(o.error instanceof ConstraintViolationError, `seed ${seed}: ${o.error}`);
    }
    const committed = outcomes.filter((o) => o.commit).sort((x, y) => x.commit.firstRevision - y.commit.firstRevision);
    const model = await EventStore.memory();
    for (const { request, commit } of committed) {
      const again = await model.transact(request);
      assert.deepEqual({ ...again }, { ...commit }, `seed ${seed}: batch ${request.id}`);
    }
    const strip = (events) => events.map(({ recordedAt, ...rest }) => rest);
    for (const tab of tabs) {
      await tab.waitFor(model.revision);
      assert.deepEqual(strip(tab.read()), strip(model.read()), `seed ${seed}`);
    }
    assert.deepEqual(tabs[0].read(), tabs[1].read());
    for (const tab of tabs) await tab.close();
  }
});
