// SPEC §9 "Event schemas": the declaration's checks, writing schemaVersion,
// reading upcast (lazily, once per event), SchemaError, events written by
// newer code (pause and deliver, newer(), onNewer), and everything that
// decides reading the envelope only.
//
// No sleeps: tests wait with waitFor, done, ready, or promises they control.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { EventStore, SchemaError, HindcastError, InvalidInputError } from "hindcast";
import { event, rejectsInvalid, assertInvalidInputError, rejection, turns, revs } from "./helpers.mjs";

/** money_deposited at version 3: 1 → 2 adds a currency, 2 → 3 a channel; each step counts its calls. */
function bank(calls = { 1: 0, 2: 0 }, options = {}) {
  return EventStore.memory({
    schemas: {
      money_deposited: {
        version: 3,
        upcast: {
          1: (data) => {
            calls[1]++;
            return { amount: data.amount, currency: "EUR" };
          },
          2: (data) => {
            calls[2]++;
            return { ...data, channel: "unknown" };
          },
        },
      },
      account_opened: { version: 1 },
    },
    ...options,
  });
}

/** A store without schemas holding the same log as recorded by "version 1" code. */
async function v1Log() {
  const store = await EventStore.memory();
  await store.transact({ events: [event("acc-1", "account_opened", { owner: "Ann" })] }); // 1
  await store.transact({ events: [event("acc-1", "money_deposited", { amount: 100 })] }); // 2
  await store.transact({ events: [event("acc-1", "money_deposited", { amount: 5 }, { schemaVersion: 2, tags: ["t"] })] }); // 3
  return store;
}

/** A store's export, whole, as one text. */
async function exported(store) {
  let text = "";
  for await (const chunk of store.export()) text += chunk;
  return text;
}

/** A store with `schemas` holding what `v1Log` holds, imported as recorded. */
async function imported(calls, options) {
  const store = await bank(calls, options);
  await EventStore.import(store, await exported(await v1Log()));
  return store;
}

/**
 * A store declaring money_deposited at version 2 with the step `step`,
 * holding `v1Log`'s first two events (revision 2: a deposit at version 1).
 */
async function withStep(step) {
  const store = await EventStore.memory({ schemas: { money_deposited: { version: 2, upcast: { 1: step } } } });
  const lines = (await exported(await v1Log())).split("\n");
  await EventStore.import(store, lines.slice(0, 2).join("\n") + "\n");
  return store;
}

describe("declaring schemas", () => {
  const f = () => ({});
  const CASES = [
    ["schemas that is not an object", { schemas: 3 }, "schemas"],
    ["a version that is not a positive integer", { schemas: { a: { version: 0 } } }, "schemas.a.version"],
    ["a fractional version", { schemas: { a: { version: 1.5 } } }, "schemas.a.version"],
    ["a missing version", { schemas: { a: { upcast: {} } } }, "schemas.a.version"],
    ["a missing step", { schemas: { a: { version: 3, upcast: { 1: f } } } }, "schemas.a.upcast.2"],
    ["no steps at all", { schemas: { a: { version: 2 } } }, "schemas.a.upcast.1"],
    ["a step at the version", { schemas: { money_deposited: { version: 2, upcast: { 1: f, 2: f } } } }, "schemas.money_deposited.upcast.2"],
    ["a step above the version", { schemas: { a: { version: 2, upcast: { 1: f, 5: f } } } }, "schemas.a.upcast.5"],
    ["a step that is not a function", { schemas: { a: { version: 2, upcast: { 1: "x" } } } }, "schemas.a.upcast.1"],
    ["a step keyed 0", { schemas: { a: { version: 2, upcast: { 0: f, 1: f } } } }, "schemas.a.upcast.0"],
    ["an unknown key", { schemas: { a: { version: 1, upgrade: {} } } }, "schemas.a.upgrade"],
    ["a bad newerSchemas", { newerSchemas: "skip" }, "newerSchemas"],
  ];
  for (const [name, options, path] of CASES) {
    test(`memory refuses ${name} (${path})`, async () => {
      assertInvalidInputError(await rejection(EventStore.memory(options)), path);
    });
  }

  test("open refuses a bad declaration before touching IndexedDB", async () => {
    // No IndexedDB in this process: the declaration is checked first.
    const err = await rejection(EventStore.open("never-made", { schemas: { a: { version: 2, upcast: {} } } }));
    assertInvalidInputError(err, "schemas.a.upcast.1");
  });

  test("a store without schemas has an empty newer() list", async () => {
    const store = await EventStore.memory();
    assert.deepEqual(store.schemas.newer(), []);
  });
});

describe("writing", () => {
  test("records the type's current version above 1, none for version 1 or an undeclared type", async () => {
    const store = await bank();
    await store.transact({
      events: [
        event("acc-1", "account_opened", { owner: "Ann" }),
        event("acc-1", "money_deposited", { amount: 1, currency: "EUR", channel: "web" }),
        event("acc-1", "note", {}),
      ],
    });
    const [opened, deposited, note] = store.read();
    assert.equal("schemaVersion" in opened, false);
    assert.equal(deposited.schemaVersion, 3);
    assert.equal("schemaVersion" in note, false);
    // The field sits where §1 puts it: after correlationId, before batchId.
    assert.deepEqual(Object.keys(deposited), ["revision", "stream", "version", "id", "type", "data", "schemaVersion", "batchId", "recordedAt"]);
  });

  test("an explicit older version is kept (and read upcast); 1 is recorded as none", async () => {
    const calls = { 1: 0, 2: 0 };
    const store = await bank(calls);
    await store.transact({
      events: [
        event("acc-1", "money_deposited", { amount: 7, currency: "SEK" }, { schemaVersion: 2 }),
        event("acc-1", "money_deposited", { amount: 8 }, { schemaVersion: 1 }),
      ],
    });
    const lines = (await exported(store)).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].schemaVersion, 2);
    assert.equal("schemaVersion" in lines[1], false);
    const [a, b] = store.read();
    assert.deepEqual(a.data, { amount: 7, currency: "SEK", channel: "unknown" });
    assert.equal(a.schemaVersion, 3);
    assert.deepEqual(b.data, { amount: 8, currency: "EUR", channel: "unknown" });
    assert.deepEqual(calls, { 1: 1, 2: 2 });
  });

  test("an undeclared type keeps any schemaVersion given", async () => {
    const store = await bank();
    await store.transact({ events: [event("x", "note", { v: 9 }, { schemaVersion: 9 })] });
    assert.equal(store.read()[0].schemaVersion, 9);
    assert.deepEqual(store.schemas.newer(), []);
  });

  for (const [name, value] of [["0", 0], ["1.5", 1.5], ['"2"', "2"], ["-1", -1], ["true", true]]) {
    test(`refuses schemaVersion ${name} with its path, writing nothing`, async () => {
      const store = await bank();
      await rejectsInvalid(
        store,
        { events: [event("a", "note"), event("a", "money_deposited", { amount: 1 }, { schemaVersion: value })] },
        "events[1].schemaVersion",
      );
      assert.equal(store.revision, 0);
    });
  }

  test("refuses a version above the type's current one", async () => {
    const store = await bank();
    const err = await rejectsInvalid(store, { events: [event("a", "money_deposited", { amount: 1 }, { schemaVersion: 4 })] }, "events[0].schemaVersion");
    assert.match(err.message, /above money_deposited's current version 3/);
  });

  test("a replayed batch id must carry the same schema versions", async () => {
    const store = await bank();
    const id = crypto.randomUUID();
    await store.transact({ id, events: [event("a", "money_deposited", { amount: 1 }, { schemaVersion: 2 })] });
    const again = await store.transact({ id, events: [event("a", "money_deposited", { amount: 1 }, { schemaVersion: 2 })] });
    assert.equal(again.replayed, true);
    await rejectsInvalid(store, { id, events: [event("a", "money_deposited", { amount: 1 })] }, "id");
  });
});

describe("reading", () => {
  test("read, readStream, subscribe (both forms) and project all deliver upcast events, each upcast once", async () => {
    const calls = { 1: 0, 2: 0 };
    const store = await imported(calls);
    assert.deepEqual(calls, { 1: 0, 2: 0 }); // lazy: the import upcast nothing
    const want = { amount: 100, currency: "EUR", channel: "unknown" };
    const read = store.read({ type: "money_deposited" });
    assert.deepEqual(read.map((e) => e.data), [want, { amount: 5, channel: "unknown" }]);
    assert.deepEqual(read.map((e) => e.schemaVersion), [3, 3]);
    assert.deepEqual(calls, { 1: 1, 2: 2 });
    assert.equal(store.readStream("acc-1")[1], read[0]); // the same kept object
    const seen = [];
    const sub = store.subscribe((e) => {
      seen.push(e);
    });
    const matched = [];
    const sub2 = store.subscribe({ money_deposited: (e) => void matched.push(e.data) });
    const p = store.project({ initial: 0, on: { money_deposited: (s, e) => s + e.data.amount * (e.data.channel === "unknown" ? 1 : 0) } });
    await Promise.all([sub.waitFor(3), sub2.waitFor(3), p.ready]);
    sub.cancel();
    sub2.cancel();
    assert.equal(seen[1], read[0]);
    assert.deepEqual(matched, [want, { amount: 5, channel: "unknown" }]);
    assert.equal(p.state, 105);
    assert.deepEqual(calls, { 1: 1, 2: 2 }); // at most once per event
    p.close();
  });

  test("upcast events are frozen, the recorded event is unchanged, other fields are kept", async () => {
    const store = await imported();
    const e = store.read({ type: "money_deposited" })[1];
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.data));
    assert.deepEqual(e.tags, ["t"]);
    assert.equal(e.revision, 3);
    const recorded = JSON.parse((await exported(store)).trim().split("\n")[2]);
    assert.deepEqual(recorded.data, { amount: 5 });
    assert.equal(recorded.schemaVersion, 2);
  });

  test("a step receives the data of its version and the recorded event, both frozen", async () => {
    const got = [];
    const store = await withStep((data, e) => {
      got.push({ dataFrozen: Object.isFrozen(data), eventFrozen: Object.isFrozen(e), revision: e.revision, v: e.schemaVersion });
      return { ...data, currency: "EUR" };
    });
    store.read();
    assert.deepEqual(got, [{ dataFrozen: true, eventFrozen: true, revision: 2, v: undefined }]);
  });

  test("constraints, expectations and lastRevision read the envelope only: no upcaster runs", async () => {
    const calls = { 1: 0, 2: 0 };
    const store = await imported(calls);
    assert.equal(store.lastRevision({ type: "money_deposited", tags: ["t"] }), 3);
    await store.transact({
      events: [event("acc-1", "money_deposited", { amount: 1, currency: "EUR", channel: "app" })],
      expect: { "acc-1": { version: 2 } },
      constraints: [{ maxRevision: 3, selector: { type: "money_deposited" } }, { failIfEventsMatch: { tags: ["t"] }, after: 3 }],
    });
    assert.deepEqual(calls, { 1: 0, 2: 0 });
    assert.equal(store.stream("acc-1").version, 3);
  });

  test("a failing step: read throws SchemaError (and is tried again), subscriptions and projections reject done; the store carries on", async () => {
    let fail = true;
    const store = await withStep((data) => {
      if (fail) throw new RangeError("no rate");
      return { ...data, currency: "EUR" };
    });
    const err = (() => {
      try {
        store.read();
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof SchemaError && err instanceof HindcastError);
    assert.equal(err.code, "SCHEMA");
    assert.equal(err.name, "SchemaError");
    assert.ok(err.cause instanceof RangeError);
    assert.equal(err.event.revision, 2);
    assert.deepEqual(err.event.data, { amount: 100 }); // as recorded
    const handled = [];
    const sub = store.subscribe((e) => void handled.push(e.revision));
    const other = store.subscribe({ account_opened: () => {} });
    const p = store.project({ initial: 0, on: { money_deposited: (s) => s + 1 } });
    const [subErr, pErr] = await Promise.all([rejection(sub.done), rejection(p.done)]);
    assert.ok(subErr instanceof SchemaError && subErr.event.revision === 2);
    assert.ok(pErr instanceof SchemaError);
    assert.deepEqual(handled, [1]);
    assert.equal(sub.position, 1);
    await other.waitFor(2);
    // The store goes on; the step is tried again on the next read.
    fail = false;
    assert.deepEqual(store.read()[1].data, { amount: 100, currency: "EUR" });
    await store.transact({ events: [event("acc-2", "account_opened")] });
    assert.equal(store.revision, 3);
    other.cancel();
  });

  for (const [name, step] of [
    ["undefined", () => undefined],
    ["a function", () => ({ f() {} })],
    ["a cycle", () => {
      const o = {};
      o.self = o;
      return o;
    }],
  ]) {
    test(`a step returning ${name} is a SchemaError`, async () => {
      const store = await withStep(step);
      assert.throws(
        () => store.read({ type: "money_deposited" }),
        (e) => e instanceof SchemaError && e.cause instanceof TypeError && /returned a value that is not JSON \(at data/.test(e.message),
      );
    });
  }

  test("events of a type not in schemas are delivered as recorded", async () => {
    const store = await imported();
    const opened = store.read({ type: "account_opened" })[0];
    assert.deepEqual(opened.data, { owner: "Ann" });
    assert.equal("schemaVersion" in opened, false);
  });
});

describe("events written by newer code", () => {
  /** A store at money_deposited version 3 whose log holds a version-4 event at revision 3. */
  async function withNewer(options) {
    const source = await EventStore.memory();
    await source.transact({ events: [event("acc-1", "account_opened", { owner: "Ann" })] });
    await source.transact({ events: [event("acc-1", "money_deposited", { amount: 100 })] });
    await source.transact({ events: [event("acc-1", "money_deposited", { cents: 500, currency: "EUR", channel: "app", fx: 1 }, { schemaVersion: 4 })] });
    await source.transact({ events: [event("acc-1", "note", { text: "after" })] });
    const store = await bank(undefined, options);
    await EventStore.import(store, await exported(source));
    return store;
  }

  test("pause (default): subscriptions and projections stop just before it, newer() and onNewer tell the app", async () => {
    const store = await withNewer();
    const told = [];
    store.schemas.onNewer((entry) => told.push(entry));
    const delivered = [];
    const sub = store.subscribe((e) => void delivered.push(e.revision));
    const notes = store.subscribe({ note: () => {} }); // selects no newer type: never paused
    const p = store.project({ initial: [], on: { money_deposited: (s, e) => [...s, e.data.amount] } });
    await p.ready; // resolves at the pause
    await notes.waitFor(4);
    assert.deepEqual(p.state, [100]);
    assert.equal(p.position, 2);
    assert.equal(sub.position <= 2, true);
    await sub.waitFor(2);
    assert.deepEqual(delivered, [1, 2]);
    assert.equal(sub.position, 2);
    // A later commit does not move a paused subscription past it.
    await store.transact({ events: [event("acc-1", "money_deposited", { amount: 1, currency: "EUR", channel: "x" })] });
    await notes.waitFor(5);
    await turns();
    assert.equal(sub.position, 2);
    assert.deepEqual(delivered, [1, 2]);
    assert.deepEqual(store.schemas.newer(), [{ type: "money_deposited", schemaVersion: 4, known: 3, firstRevision: 3 }]);
    await turns();
    assert.deepEqual(told, [{ type: "money_deposited", schemaVersion: 4, known: 3, firstRevision: 3 }]);
    // read returns it as recorded.
    const e = store.read({ type: "money_deposited" })[1];
    assert.equal(e.schemaVersion, 4);
    assert.deepEqual(e.data, { cents: 500, currency: "EUR", channel: "app", fx: 1 });
    // done stays pending until the store closes.
    let settled = false;
    sub.done.then(() => (settled = true));
    await turns();
    assert.equal(settled, false);
    await store.close();
    await sub.done;
    await p.done;
    notes.cancel();
  });

  test("a subscription that is only a signal of commits (hindcast/react's) never pauses", async () => {
    // The package's own module (the same instance "hindcast" loads): SIGNAL is not of the API.
    const { SIGNAL } = await import("../../pkg/subscription.js");
    const store = await withNewer();
    const seen = [];
    const sub = store.subscribe((e) => void seen.push(e.revision), { [SIGNAL]: true });
    await sub.waitFor(4);
    sub.cancel();
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  test("deliver: passed through as recorded", async () => {
    const store = await withNewer({ newerSchemas: "deliver" });
    const got = [];
    const sub = store.subscribe({ money_deposited: (e) => void got.push([e.schemaVersion, e.data]) });
    await sub.waitFor(4);
    sub.cancel();
    assert.deepEqual(got, [
      [3, { amount: 100, currency: "EUR", channel: "unknown" }],
      [4, { cents: 500, currency: "EUR", channel: "app", fx: 1 }],
    ]);
    assert.deepEqual(store.schemas.newer(), [{ type: "money_deposited", schemaVersion: 4, known: 3, firstRevision: 3 }]);
  });

  test("an onNewer listener added later hears of types already seen, once; off stops it", async () => {
    const store = await withNewer();
    const told = [];
    const off = store.schemas.onNewer((entry) => told.push(entry.type));
    await turns();
    assert.deepEqual(told, ["money_deposited"]);
    off();
    assert.throws(() => store.schemas.onNewer("x"), (e) => e instanceof InvalidInputError && e.path === "listener");
  });
});
