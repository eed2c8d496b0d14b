// SPEC §9 through a real hindcast-server: devices running three versions of
// an app share one log. Device A writes money_deposited at version 3,
// B knows version 1, C version 2. All converge on the same recorded log; B's
// projection pauses at A's first version-3 event and goes on once B runs
// version 3; C reads A's events as recorded (newer) and B's upcast. The
// server stores schemaVersion as given and refuses one that is not a
// positive integer.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { EventStore } from "hindcast";
import { startServer, token } from "./sync-server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

let n = 0;
const newLog = () => `schemas-${process.pid}-${n++}`;

const V2 = { 1: (d) => ({ amount: d.amount, currency: "EUR" }) };
const V3 = { ...V2, 2: (d) => ({ ...d, channel: "unknown" }) };
/** The app's schemas at version `v` of money_deposited. */
const schemas = (v) => (v === 1 ? {} : { money_deposited: { version: v, upcast: v === 2 ? V2 : V3 } });

/** A memory store of "version v" of the app, syncing with `log`. */
function device(log, who, v) {
  const options = { sync: { url: `${server.url}/v1/logs/${log}`, token: () => token(who) } };
  if (v > 1) options.schemas = schemas(v);
  else options.schemas = { money_deposited: { version: 1 } };
  return EventStore.memory(options);
}

/** Every event of `log` on the server, as recorded. */
async function serverLog(log) {
  const res = await fetch(`${server.url}/v1/logs/${log}/events?after=0&limit=10000`, {
    headers: { authorization: `Bearer ${token("reader")}` },
  });
  return (await res.json()).events;
}

test("three app versions share one log: converge as recorded, pause on newer, read older upcast", async () => {
  const log = newLog();
  const a = await device(log, "alice", 3);
  const b = await device(log, "bob", 1);
  const c = await device(log, "carol", 2);

  const deposit = (store, amount, data = { amount }) =>
    store.transact({ events: [{ stream: "acc-1", type: "money_deposited", data }] });
  // B (version 1) first, then A (version 3), then C (version 2).
  await (await deposit(b, 10)).confirmed; // 1: recorded at version 1
  await (await deposit(a, 20, { amount: 20, currency: "SEK", channel: "app" })).confirmed; // 2: version 3
  await (await deposit(c, 30, { amount: 30, currency: "NOK" })).confirmed; // 3: version 2
  for (const s of [a, b, c]) await s.sync.waitFor(3);

  // The same recorded log everywhere: the server's and each device's export.
  const recorded = await serverLog(log);
  assert.deepEqual(recorded.map((e) => [e.revision, e.schemaVersion, e.data]), [
    [1, undefined, { amount: 10 }],
    [2, 3, { amount: 20, currency: "SEK", channel: "app" }],
    [3, 2, { amount: 30, currency: "NOK" }],
  ]);
  for (const s of [a, b, c]) {
    let text = "";
    for await (const chunk of s.export()) text += chunk;
    assert.deepEqual(text.trim().split("\n").map((l) => JSON.parse(l)), recorded);
  }

  // A (version 3) reads everything at version 3.
  assert.deepEqual(a.read().map((e) => [e.schemaVersion, e.data]), [
    [3, { amount: 10, currency: "EUR", channel: "unknown" }],
    [3, { amount: 20, currency: "SEK", channel: "app" }],
    [3, { amount: 30, currency: "NOK", channel: "unknown" }],
  ]);
  // C (version 2): B's event upcast, A's as recorded (newer), its own as is.
  assert.deepEqual(c.read().map((e) => [e.schemaVersion, e.data]), [
    [2, { amount: 10, currency: "EUR" }],
    [3, { amount: 20, currency: "SEK", channel: "app" }],
    [2, { amount: 30, currency: "NOK" }],
  ]);
  assert.deepEqual(c.schemas.newer(), [{ type: "money_deposited", schemaVersion: 3, known: 2, firstRevision: 2 }]);

  // B (version 1): its projection pauses just before A's event.
  const total = { initial: 0, on: { money_deposited: (s, e) => s + e.data.amount } };
  const pb = b.project(total);
  await pb.ready;
  assert.equal(pb.state, 10);
  assert.equal(pb.position, 1);
  assert.deepEqual(b.schemas.newer(), [{ type: "money_deposited", schemaVersion: 3, known: 1, firstRevision: 2 }]);
  pb.close();
  await b.close();

  // B updated: version 3 of the app, the same log, folds on.
  const b3 = await device(log, "bob", 3);
  await b3.sync.waitFor(3);
  const pb3 = b3.project(total);
  await pb3.ready;
  assert.equal(pb3.state, 60);
  assert.equal(pb3.position, 3);
  assert.deepEqual(b3.schemas.newer(), []);

  for (const s of [a, c, b3]) await s.close();
});

test("the server refuses a pushed schemaVersion that is not a positive integer, with its path, writing nothing", async () => {
  const log = newLog();
  const clientId = crypto.randomUUID();
  for (const [i, bad] of [0, 1.5, "2", -3, null].entries()) {
    const res = await fetch(`${server.url}/v1/logs/${log}/push`, {
      method: "POST",
      headers: { authorization: `Bearer ${token("mallory")}`, "content-type": "application/json" },
      body: JSON.stringify({
        protocol: 1,
        clientId,
        batches: [{
          seq: i + 1,
          id: crypto.randomUUID(),
          events: [{ id: crypto.randomUUID(), stream: "s", type: "t", data: {}, schemaVersion: bad }],
          view: { base: 0, own: [] },
        }],
      }),
    });
    assert.equal(res.status, 200, String(bad));
    const body = await res.json();
    if (bad === null) {
      // null is the same as leaving it out (the null rule): committed, recorded without it.
      assert.equal(body.results[0].status, "committed");
      continue;
    }
    assert.equal(body.results[0].status, "rejected", String(bad));
    assert.deepEqual(
      body.results[0].violations.map((v) => [v.kind, v.path]),
      [["invalid_input", "events[0].schemaVersion"]],
      String(bad),
    );
  }
  const events = await serverLog(log);
  assert.equal(events.length, 1);
  assert.equal("schemaVersion" in events[0], false);
});
