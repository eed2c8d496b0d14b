// SPEC §6 "Export and import": NDJSON out, all-or-nothing in, every field
// kept; round trips over random logs and random chunkings of the text.
import "fake-indexeddb/auto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStore, InvalidInputError } from "hindcast";
import { rng } from "./helpers.mjs";

let n = 0;
const dbName = () => `hindcast-transfer-${process.pid}-${n++}`;


async function text(store, options) {
  let out = "";
  for await (const chunk of store.export(options)) {
    assert.ok(chunk.endsWith("\n"), "a chunk ends at a line end");
    out += chunk;
  }
  return out;
}

/** A memory store with a random log: batches of 1–4 events over a few streams and optional fields. */
async function randomStore(random, batches) {
  const store = await EventStore.memory();
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  for (let b = 0; b < batches; b++) {
    const events = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
      const e = { stream: pick(["a", "b", "c", "ü-\u{1F600}"]), type: pick(["x", "y"]), data: pick([null, 1, "s", { k: [1, { __proto__: null, v: "é" }] }]) };
      if (random() < 0.3) e.subject = pick(["s1", "s2"]);
      if (random() < 0.3) e.tags = pick([["t1"], ["t1", "t2"], []]);
      if (random() < 0.2) e.time = "2026-11-23T10:00:00.5+01:00";
      if (random() < 0.2) e.metadata = { by: pick(["me", "you"]) };
      return e;
    });
    const request = { events };
    if (random() < 0.3) request.correlationId = `c-${b}`;
    await store.transact(request);
  }
  return store;
}

/** `s` cut at random places into strings, or into UTF-8 byte pieces. */
function pieces(s, random, bytes) {
  const whole = bytes ? new TextEncoder().encode(s) : s;
  const out = [];
  let at = 0;
  while (at < whole.length) {
    const len = 1 + Math.floor(random() * 200);
    out.push(whole.slice(at, at + len));
    at += len;
  }
  return out;
}

test("export then import, in any chunking of the text, gives back the same log (random logs)", async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const random = rng(seed);
    const original = await randomStore(random, 1 + Math.floor(random() * 30));
    const ndjson = await text(original);
    assert.equal(ndjson.split("\n").length - 1, original.revision);
    const sources = [
      ndjson,
      pieces(ndjson, random, false),
      (async function* () {
        yield* pieces(ndjson, random, true);
      })(),
      new ReadableStream({
        start(c) {
          for (const p of pieces(ndjson, random, true)) c.enqueue(p);
          c.close();
        },
      }),
    ];
    for (const source of sources) {
      const copy = await EventStore.memory();
      await EventStore.import(copy, source);
      assert.deepEqual(copy.read(), original.read(), `seed ${seed}`);
      assert.equal(JSON.stringify(copy.read()), JSON.stringify(original.read()), `seed ${seed}: key order`);
      // The copy goes on as the original would.
      assert.deepEqual(copy.stream("a"), original.stream("a"));
    }
  }
});

test("an incremental export (after) appends to a copy of the earlier part", async () => {
  const random = rng(99);
  const original = await randomStore(random, 10);
  const cut = original.read()[4];
  const cutAt = original.read().findLast((e) => e.batchId === cut.batchId).revision;
  const copy = await EventStore.memory();
  await EventStore.import(copy, await text(original, { after: 0 }).then((t) => t.split("\n").slice(0, cutAt).join("\n") + "\n"));
  assert.equal(copy.revision, cutAt);
  const seen = [];
  copy.subscribe((e) => {
    seen.push(e.revision);
  }, { after: "end" });
  await EventStore.import(copy, await text(original, { after: cutAt }));
  assert.deepEqual(copy.read(), original.read());
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, original.read().slice(cutAt).map((e) => e.revision));
});

test("export options are checked: after inside a batch, past the head, unknown keys", async () => {
  const store = await EventStore.memory();
  await store.transact({ events: [{ stream: "a", type: "t" }, { stream: "a", type: "t" }] });
  for (const [options, path, why] of [
    [{ after: 1 }, "options.after", /inside the batch/],
    [{ after: 3 }, "options.after", /past the head/],
    [{ after: -1 }, "options.after", /non-negative/],
    [{ from: 1 }, "options.from", /unknown option/],
  ]) {
    assert.throws(() => store.export(options), (e) => e instanceof InvalidInputError && e.path === path && why.test(e.message));
  }
  assert.equal(await text(store, { after: 2 }), "");
});

test("import into IndexedDB keeps every field, survives reopen, and subscribers see it", async () => {
  const original = await randomStore(rng(7), 40);
  const name = dbName();
  const store = await EventStore.open(name);
  const seen = [];
  store.subscribe((e) => {
    seen.push(e.revision);
  });
  const reports = [];
  await EventStore.import(store, await text(original), { onProgress: (p) => reports.push(p) });
  assert.deepEqual(store.read(), original.read());
  assert.deepEqual(reports.at(-1), { loaded: original.revision, total: original.revision });
  await store.waitFor(original.revision);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, original.read().map((e) => e.revision));
  // Writes go on after it.
  const next = await store.transact({ events: [{ stream: "a", type: "x" }], expect: { a: { revision: original.stream("a")?.revision ?? 0 } } });
  assert.equal(next.revision, original.revision + 1);
  await store.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read().slice(0, original.revision), original.read());
  await again.close();
});

test("a bad line rejects the whole import with its line and field, and changes nothing", async () => {
  const original = await EventStore.memory();
  await original.transact({ events: [{ stream: "a", type: "t", data: 1 }, { stream: "b", type: "t" }] });
  await original.transact({ events: [{ stream: "a", type: "t", data: 2 }] });
  await original.transact({ events: [{ stream: "c", type: "t", data: 3 }] });
  const lines = (await text(original)).trimEnd().split("\n");
  const parsed = lines.map((l) => JSON.parse(l));
  const edit = (i, f) => lines.map((l, j) => (j === i ? JSON.stringify(f({ ...parsed[i] })) : l)).join("\n");
  const cases = [
    [lines.slice(0, 2).join("\n") + "\n{oops\n" + lines[3], "line 3", /not JSON/],
    [edit(2, (e) => ({ ...e, revision: 4 })), "line 3.revision", /expected 3/],
    [edit(2, (e) => ({ ...e, version: 0 })), "line 3.version", /version does not follow/],
    [edit(2, (e) => ({ ...e, id: parsed[0].id })), "line 3.id", /already in the store or earlier/],
    [edit(3, (e) => ({ ...e, batchId: parsed[0].batchId })), "line 4.batchId", /cut in two, or repeated/],
    [edit(1, (e) => ({ ...e, recordedAt: e.recordedAt + 1 })), "line 2.recordedAt", /differs within its batch/],
    [edit(0, (e) => ({ ...e, extra: 1 })), "line 1.extra", /unknown field/],
    [edit(0, (e) => ({ ...e, stream: "" })), "line 1.stream", /non-empty string/],
    [edit(0, (e) => ({ ...e, batchId: "nope" })), "line 1.batchId", /UUID/],
    [edit(0, (e) => ({ ...e, metadata: [1] })), "line 1.metadata", /JSON object/],
    [lines.slice(1).join("\n"), "line 1.revision", /head is 0: this log starts at 2/],
    [lines[0] + "\n\n" + lines[1], "line 2", /is empty/],
  ];
  for (const [source, path, why] of cases) {
    for (const store of [await EventStore.memory(), await EventStore.open(dbName())]) {
      const err = await EventStore.import(store, source).then(() => null, (e) => e);
      assert.ok(err instanceof InvalidInputError, `${path}: ${err}`);
      assert.equal(err.path, path, err.message);
      assert.match(err.message, why);
      assert.equal(store.revision, 0);
      assert.deepEqual(store.read(), []);
      await store.close();
    }
  }
  // Bytes that are not UTF-8, and a source of the wrong kind.
  const store = await EventStore.memory();
  const bytes = new TextEncoder().encode(lines[0] + "\n");
  bytes[20] = 0xff;
  await assert.rejects(EventStore.import(store, [bytes]), (e) => e instanceof InvalidInputError && e.path === "line 1");
  await assert.rejects(EventStore.import(store, 42), (e) => e instanceof InvalidInputError && e.path === "source");
  await assert.rejects(EventStore.import({}, ""), (e) => e instanceof InvalidInputError && e.path === "store");
});

test("null optional fields in an imported line are the fields left out", async () => {
  const store = await EventStore.memory();
  const line = { revision: 1, stream: "a", version: 0, id: crypto.randomUUID(), type: "t", data: null, subject: null, tags: null, time: null, metadata: null, correlationId: null, batchId: crypto.randomUUID(), recordedAt: 5 };
  await EventStore.import(store, JSON.stringify(line));
  assert.deepEqual(Object.keys(store.read()[0]), ["revision", "stream", "version", "id", "type", "data", "batchId", "recordedAt"]);
});

test("an import that another instance's write overtakes stores nothing", async () => {
  const source = await EventStore.memory();
  await source.transact({ events: [{ stream: "mine", type: "t" }] });
  const log = await text(source);
  const name = dbName();
  const a = await EventStore.open(name);
  const b = await EventStore.open(name);
  await b.transact({ events: [{ stream: "theirs", type: "t" }] });
  // Whether `a` has heard of b's write yet or not, the log no longer follows its head.
  const err = await EventStore.import(a, log).then(() => null, (e) => e);
  assert.ok(err instanceof InvalidInputError, String(err));
  assert.equal(err.path, "line 1.revision");
  await a.waitFor(1);
  assert.deepEqual(a.read().map((e) => e.stream), ["theirs"]);
  await a.close();
  await b.close();
  const again = await EventStore.open(name);
  assert.deepEqual(again.read().map((e) => e.stream), ["theirs"]);
  await again.close();
});
