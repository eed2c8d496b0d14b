// SPEC §8.4 with IndexedDB stores (fake-indexeddb) syncing through a real
// hindcast-server process: the queue, the sync state and the rejections
// survive a reopen; two stores on one database (two tabs) share one queue,
// one of them talks to the server, the other takes over when it closes;
// local checks still see every tab's batches. (Headless Chromium, with
// real IndexedDB and Web Locks: browser-sync-tabs.test.mjs.)
import "fake-indexeddb/auto";
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { EventStore, ConstraintViolationError, InvalidInputError } from "hindcast";
import { startServer, proxy, token } from "./sync-server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

let n = 0;
const fresh = () => `psync-${process.pid}-${n++}`;

/** A device's proxy to the server and the sync options of `log` through it. */
async function link(log, who = "alice") {
  const p = await proxy(server.url);
  return { proxy: p, sync: { url: `${p.url}/v1/logs/${log}`, token: () => token(who) } };
}

/** A fresh log, a fresh database name, and a device's proxy and sync options for them. */
async function device() {
  const log = fresh();
  return { log, name: fresh(), ...(await link(log)) };
}

/** Every event of `log` on the server. */
async function serverLog(log) {
  const res = await fetch(`${server.url}/v1/logs/${log}/events?after=0&limit=10000`, {
    headers: { authorization: `Bearer ${token("reader")}` },
  });
  return (await res.json()).events;
}

const shape = (store) => store.read().map((e) => [e.revision, e.stream, e.type, e.pending === true]);

/** Resolves once `check()` holds, re-checked after each change of `store`'s sync status or log. */
function until(store, check) {
  return new Promise((resolve) => {
    const done = () => {
      if (!check()) return false;
      off();
      sub.cancel();
      resolve();
      return true;
    };
    const off = store.sync.onStatus(() => done());
    const sub = store.subscribe(() => void done(), { pending: true });
    done();
  });
}

/**
 * Another device opens acc-1 on `log`; the store `name`, offline, decides
 * on an empty view that there is no acc-1 (the server will refuse it), then
 * goes online. Resolves with `{ other, store, stale }`.
 */
async function refusedOnce(log, name, p, sync) {
  const other = await EventStore.memory({ sync: { url: `${server.url}/v1/logs/${log}`, token: () => token("bob") } });
  await (await other.transact({ events: [{ stream: "acc-1", type: "opened" }] })).confirmed;
  p.offline = true;
  const store = await EventStore.open(name, { sync });
  const stale = await store.transact({ events: [{ stream: "acc-1", type: "opened" }], expect: { "acc-1": "no_stream" } });
  p.offline = false;
  return { other, store, stale };
}

test("pending batches survive a reopen and are pushed once; the confirmed prefix loads with global numbers", async () => {
  const { log, name, proxy: p, sync } = await device();
  p.offline = true;
  let store = await EventStore.open(name, { sync });
  const first = await store.transact({ events: [{ stream: "acc-1", type: "opened" }] });
  const second = await store.transact({ events: [{ stream: "acc-1", type: "deposited", data: { amount: 10 } }] });
  assert.equal(first.pending, true);
  assert.equal(store.sync.status.pendingBatches, 2);
  await store.close();
  await assert.rejects(first.confirmed, (e) => e.reason === "closed");

  // Reopened, still offline: the same batches, pending, in order.
  store = await EventStore.open(name, { sync });
  assert.deepEqual(shape(store), [
    [1, "acc-1", "opened", true],
    [2, "acc-1", "deposited", true],
  ]);
  assert.equal(store.read()[0].batchId, first.batchId);
  assert.equal(store.confirmedRevision, 0);
  assert.equal(store.sync.status.pendingBatches, 2);
  // A replay of a pending batch's id gives its pending commit.
  const again = await store.transact({ id: second.batchId, events: [{ stream: "acc-1", type: "deposited", data: { amount: 10 } }] });
  assert.equal(again.replayed, true);
  assert.equal(again.pending, true);

  p.offline = false;
  await store.sync.flush();
  assert.equal(store.confirmedRevision, 2);
  assert.deepEqual(shape(store), [
    [1, "acc-1", "opened", false],
    [2, "acc-1", "deposited", false],
  ]);
  assert.deepEqual(await again.confirmed, { firstRevision: 2, revision: 2, streams: { "acc-1": { version: 1, revision: 2 } } });
  assert.equal(p.pushes >= 1, true);
  await store.close();

  // Reopened online: the prefix from IndexedDB, nothing pending, nothing pushed again.
  const pushes = p.pushes;
  store = await EventStore.open(name, { sync });
  assert.deepEqual(shape(store), [
    [1, "acc-1", "opened", false],
    [2, "acc-1", "deposited", false],
  ]);
  assert.equal(store.sync.status.pendingBatches, 0);
  await store.sync.waitFor(2);
  await store.close();
  assert.equal(p.pushes, pushes);
  assert.deepEqual(
    (await serverLog(log)).map((e) => [e.revision, e.type, e.batchId]),
    [
      [1, "opened", first.batchId],
      [2, "deposited", second.batchId],
    ],
  );
  await p.close();
});

test("a refusal is kept in IndexedDB until dismissed: seen again after a reopen, by every tab", async () => {
  const { log, name, proxy: p, sync } = await device();
  const refused = await refusedOnce(log, name, p, sync);
  const { other, stale } = refused;
  let store = refused.store;
  await assert.rejects(stale.confirmed, (e) => e instanceof ConstraintViolationError && e.batchId === stale.batchId);
  assert.deepEqual(
    store.sync.rejected().map((r) => [r.batchId, r.violations.map((v) => v.kind)]),
    [[stale.batchId, ["version_mismatch"]]],
  );
  await store.sync.waitFor(1); // the other device's event, stored as the confirmed prefix
  const tab = await EventStore.open(name, { sync });
  assert.deepEqual(tab.sync.rejected().map((r) => r.batchId), [stale.batchId]);
  await store.close();

  store = await EventStore.open(name, { sync });
  const heard = [];
  await new Promise((resolve) =>
    store.sync.onRejected((r) => {
      heard.push(r);
      resolve();
    }),
  );
  assert.equal(heard.length, 1);
  assert.equal(heard[0].batchId, stale.batchId);
  assert.deepEqual(heard[0].events.map((e) => [e.stream, e.type]), [["acc-1", "opened"]]);
  assert.equal(typeof heard[0].at, "number");
  assert.deepEqual(shape(store), [[1, "acc-1", "opened", false]]);

  // Dismissed in one tab: gone in the other, and after a reopen.
  const dismissed = store.sync.dismiss(stale.batchId);
  assert.deepEqual(store.sync.rejected(), []);
  await dismissed;
  // The other tab's next write takes in the stored queue first.
  p.offline = true;
  await tab.transact({ events: [{ stream: "acc-2", type: "opened" }] });
  assert.deepEqual(tab.sync.rejected(), []);
  await store.close();
  await tab.close();
  store = await EventStore.open(name, { sync });
  assert.deepEqual(store.sync.rejected(), []);
  assert.deepEqual(shape(store), [
    [1, "acc-1", "opened", false],
    [2, "acc-2", "opened", true],
  ]);
  await store.close();
  await other.close();
  await p.close();
});

test("two tabs share one queue: one pushes both tabs' batches, the other follows; it takes over when the first closes", async () => {
  const { log, name, proxy: p, sync } = await device();
  p.offline = true;
  const a = await EventStore.open(name, { sync });
  const b = await EventStore.open(name, { sync });
  assert.equal(a.sync.status.pendingBatches, 0);
  const fromA = await a.transact({ events: [{ stream: "s", type: "a1" }] });
  // B decides with A's batch in view (taken in under the write lock).
  const fromB = await b.transact({ events: [{ stream: "s", type: "b1" }], expect: { s: { version: 0 } } });
  assert.deepEqual(shape(b), [
    [1, "s", "a1", true],
    [2, "s", "b1", true],
  ]);
  await until(a, () => a.read().length === 2);
  assert.deepEqual(shape(a), shape(b));
  // No lost update across tabs: A's next decision on "s" at version 0 is stale.
  await assert.rejects(
    a.transact({ events: [{ stream: "s", type: "a2" }], expect: { s: { version: 0 } } }),
    (e) => e instanceof ConstraintViolationError && e.violations[0].actual.version === 1,
  );

  // The leader (A, opened first) closes; B takes over and pushes both.
  await a.close();
  await assert.rejects(fromA.confirmed, (e) => e.reason === "closed");
  p.offline = false;
  assert.deepEqual(await fromB.confirmed, { firstRevision: 2, revision: 2, streams: { s: { version: 1, revision: 2 } } });
  assert.equal(b.confirmedRevision, 2);
  assert.deepEqual(shape(b), [
    [1, "s", "a1", false],
    [2, "s", "b1", false],
  ]);
  assert.deepEqual((await serverLog(log)).map((e) => e.type), ["a1", "b1"]);
  await b.close();
  await p.close();
});

test("a follower tab's commit is confirmed through the leader, and its status mirrors the leader's", async () => {
  const { name, proxy: p, sync } = await device();
  const leader = await EventStore.open(name, { sync });
  await until(leader, () => leader.sync.status.state === "online");
  const follower = await EventStore.open(name, { sync });
  await until(follower, () => follower.sync.status.state === "online");
  const c = await follower.transact({ events: [{ stream: "t", type: "x" }] });
  assert.deepEqual(await c.confirmed, { firstRevision: 1, revision: 1, streams: { t: { version: 0, revision: 1 } } });
  assert.equal(follower.confirmedRevision, 1);
  await leader.sync.waitFor(1);
  assert.deepEqual(shape(leader), [[1, "t", "x", false]]);
  // Subscriptions in the follower see the confirmed event once.
  const seen = [];
  const sub = follower.subscribe((e) => void seen.push([e.revision, e.type, e.pending === true]));
  await sub.waitFor(1);
  assert.deepEqual(seen, [[1, "x", false]]);
  sub.cancel();

  p.offline = true;
  await until(follower, () => follower.sync.status.state === "offline");
  await follower.close();
  await leader.close();
  await p.close();
});

test("the open that creates a database decides whether it syncs, for every tab: opens at once with and without sync, one is refused", async () => {
  const log = fresh();
  const { proxy: p, sync } = await link(log);
  p.offline = true;
  const name = fresh();
  const [withSync, without] = await Promise.allSettled([EventStore.open(name, { sync }), EventStore.open(name)]);
  // IndexedDB runs the first open's upgrade (which creates the database) before the second opens.
  assert.equal(withSync.status, "fulfilled");
  assert.equal(without.status, "rejected");
  assert.ok(without.reason instanceof InvalidInputError && without.reason.path === "options.sync");
  assert.match(without.reason.message, /syncs with/);
  const store = /** @type {any} */ (withSync).value;
  await store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.equal(store.sync.status.pendingBatches, 1);
  await store.close();

  // Made without sync, even empty: sync is refused.
  const plain = fresh();
  const [first, second] = await Promise.allSettled([EventStore.open(plain), EventStore.open(plain, { sync })]);
  assert.equal(first.status, "fulfilled");
  assert.equal(second.status, "rejected");
  assert.ok(second.reason instanceof InvalidInputError && second.reason.path === "options.sync");
  assert.match(second.reason.message, /made without sync/);
  assert.equal(/** @type {any} */ (first).value.revision, 0);
  await /** @type {any} */ (first).value.close();
  await p.close();
});

test("open refuses a database that syncs with another log, one written without sync, and opening a syncing one without sync", async () => {
  const log = fresh();
  const { proxy: p, sync } = await link(log);
  p.offline = true;
  const name = fresh();
  const store = await EventStore.open(name, { sync });
  await store.transact({ events: [{ stream: "s", type: "t" }] });
  await store.close();
  await assert.rejects(
    EventStore.open(name, { sync: { ...sync, url: `${p.url}/v1/logs/other` } }),
    (e) => e instanceof InvalidInputError && e.path === "options.sync.url" && e.message.includes(sync.url),
  );
  await assert.rejects(EventStore.open(name), (e) => e instanceof InvalidInputError && e.path === "options.sync");

  const plain = fresh();
  const local = await EventStore.open(plain);
  await local.transact({ events: [{ stream: "s", type: "t" }] });
  await local.close();
  await assert.rejects(
    EventStore.open(plain, { sync }),
    (e) => e instanceof InvalidInputError && e.path === "options.sync" && /without sync/.test(e.message),
  );
  // Neither refusal changed anything.
  const reopened = await EventStore.open(plain);
  assert.equal(reopened.revision, 1);
  assert.equal(reopened.sync, undefined);
  await reopened.close();
  const again = await EventStore.open(name, { sync });
  assert.equal(again.sync.status.pendingBatches, 1);
  await assert.rejects(EventStore.import(again, ""), (e) => e instanceof InvalidInputError && e.path === "store");
  await again.close();
  await assert.rejects(
    EventStore.open(name, { sync: { url: "ftp://host/x" } }),
    (e) => e instanceof InvalidInputError && e.path === "options.sync.url",
  );
  await p.close();
});

test("offline batches without conditions are pushed with an empty view; conditioned ones keep theirs", async () => {
  const { name, proxy: p, sync } = await device();
  const bodies = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    if (String(url).endsWith("/push")) bodies.push(JSON.parse(init.body));
    return realFetch(url, init);
  };
  try {
    p.offline = true;
    const store = await EventStore.open(name, { sync });
    const a = await store.transact({ events: [{ stream: "s", type: "one" }] });
    const b = await store.transact({ events: [{ stream: "s", type: "two" }], expect: { s: "any" } });
    const c = await store.transact({ events: [{ stream: "s", type: "three" }], expect: { s: { version: 1 } } });
    p.offline = false;
    await store.sync.flush();
    const views = Object.fromEntries(bodies.flatMap((x) => x.batches).map((x) => [x.id, x.view]));
    assert.deepEqual(views[a.batchId], { base: 0, own: [] });
    assert.deepEqual(views[b.batchId], { base: 0, own: [] });
    assert.deepEqual(views[c.batchId], { base: 0, own: { from: 1, to: 2, except: [] } });
    assert.deepEqual(await c.confirmed, { firstRevision: 3, revision: 3, streams: { s: { version: 2, revision: 3 } } });
    await store.close();
  } finally {
    globalThis.fetch = realFetch;
  }
  await p.close();
});

test("a syncing store whose database another tab deletes stops: closed, its sync too", async () => {
  const { name, proxy: p, sync } = await device();
  p.offline = true;
  const store = await EventStore.open(name, { sync });
  const c = await store.transact({ events: [{ stream: "s", type: "t" }] });
  await EventStore.delete(name);
  assert.equal(await store.closed, "deleted");
  await assert.rejects(c.confirmed, (e) => e.reason === "closed");
  await assert.rejects(store.sync.flush(), (e) => e.reason === "closed");
  await assert.rejects(store.transact({ events: [{ stream: "s", type: "t" }] }), (e) => e.reason === "closed");
  await p.close();
});

test("two transacts of one new batch id in one commit group: the second is the first's pending commit, replayed", async () => {
  const { name, proxy: p, sync } = await device();
  p.offline = true;
  const store = await EventStore.open(name, { sync });
  const id = crypto.randomUUID();
  const request = { id, events: [{ stream: "s", type: "t" }] };
  // Queued in one turn: decided in one group.
  const [first, second] = await Promise.all([store.transact(request), store.transact(request)]);
  assert.equal(first.replayed, false);
  assert.equal(second.replayed, true);
  assert.equal(second.pending, true);
  assert.equal(second.confirmed, first.confirmed);
  assert.equal(store.sync.status.pendingBatches, 1);
  p.offline = false;
  const confirmed = { firstRevision: 1, revision: 1, streams: { s: { version: 0, revision: 1 } } };
  assert.deepEqual(await second.confirmed, confirmed);
  assert.deepEqual(shape(store), [[1, "s", "t", false]]);
  await store.close();
  await p.close();
});

test("a store closed while its commit group is being stored: the transact resolves, its confirmed rejects as closed, the batch waits for the next open", async () => {
  const { name, proxy: p, sync } = await device();
  p.offline = true;
  const store = await EventStore.open(name, { sync });
  // Closed just after the group's transaction (over `pending`) has begun: it completes.
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (names, mode) {
    const tx = transaction.call(this, names, mode);
    if (mode === "readwrite" && [].concat(names).includes("pending")) {
      IDBDatabase.prototype.transaction = transaction;
      store.close();
    }
    return tx;
  };
  let commit;
  try {
    commit = await store.transact({ events: [{ stream: "s", type: "t" }] });
  } finally {
    IDBDatabase.prototype.transaction = transaction;
  }
  assert.equal(commit.pending, true);
  assert.equal(await store.closed, "closed");
  // Already settled by the time transact resolved.
  const outcome = await Promise.race([
    commit.confirmed.then(
      () => "resolved",
      (e) => e.reason,
    ),
    new Promise((resolve) => setImmediate(() => resolve("unsettled"))),
  ]);
  assert.equal(outcome, "closed");
  const again = await EventStore.open(name, { sync });
  assert.deepEqual(shape(again), [[1, "s", "t", true]]);
  assert.equal(again.read()[0].batchId, commit.batchId);
  await again.close();
  await p.close();
});

test("flush in a tab waits for the batches another tab stored before it, whether or not their notice has come", async () => {
  const { name, proxy: p, sync } = await device();
  p.offline = true;
  const a = await EventStore.open(name, { sync });
  const b = await EventStore.open(name, { sync });
  const fromB = await b.transact({ events: [{ stream: "s", type: "t" }] });
  const flushed = a.sync.flush();
  p.offline = false;
  await flushed;
  assert.equal(a.confirmedRevision, 1);
  assert.deepEqual(shape(a), [[1, "s", "t", false]]);
  assert.deepEqual(await fromB.confirmed, { firstRevision: 1, revision: 1, streams: { s: { version: 0, revision: 1 } } });
  await b.close();
  await a.close();
  await p.close();
});

test("a dismissed refusal is not announced again when the dismissing tab takes in another tab's change", async () => {
  const { log, name, proxy: p, sync } = await device();
  const { other, store: a, stale } = await refusedOnce(log, name, p, sync);
  await assert.rejects(stale.confirmed, (e) => e instanceof ConstraintViolationError);
  const b = await EventStore.open(name, { sync });
  assert.deepEqual(b.sync.rejected().map((r) => r.batchId), [stale.batchId]);
  const heard = [];
  await new Promise((resolve) =>
    a.sync.onRejected((r) => {
      heard.push(r.batchId);
      resolve();
    }),
  );
  // Another tab changes the stored queue; this tab dismisses before taking that in.
  p.offline = true;
  await b.transact({ events: [{ stream: "acc-2", type: "opened" }] });
  await a.sync.dismiss(stale.batchId);
  assert.deepEqual(a.sync.rejected(), []);
  assert.deepEqual(heard, [stale.batchId]);
  await a.close();
  await b.close();
  await other.close();
  await p.close();
});

test("another tab's dismissal is told to this tab's own watchers (hindcast/react's useRejected) when it is taken in", { timeout: 20_000 }, async () => {
  const { log, name, proxy: p, sync } = await device();
  const { other, store: a, stale } = await refusedOnce(log, name, p, sync);
  await assert.rejects(stale.confirmed, (e) => e instanceof ConstraintViolationError);
  const b = await EventStore.open(name, { sync });
  assert.deepEqual(a.sync.rejected().map((r) => r.batchId), [stale.batchId]);
  // The package's own notice (a registered symbol of sync.js), as react.js uses it.
  const told = new Promise((resolve) => a.sync[Symbol.for("hindcast.rejectedChanged")](() => resolve(a.sync.rejected())));
  await b.sync.dismiss(stale.batchId);
  assert.deepEqual(await told, []);
  await a.close();
  await b.close();
  await other.close();
  await p.close();
});

test("a tab's batch refused and dismissed by another tab before this one took the refusal in still rejects with its violations", async () => {
  const { log, name, proxy: p, sync } = await device();
  const other = await EventStore.memory({ sync: { url: `${server.url}/v1/logs/${log}`, token: () => token("bob") } });
  await (await other.transact({ events: [{ stream: "acc-1", type: "opened" }] })).confirmed;
  p.offline = true;
  const leader = await EventStore.open(name, { sync });
  // A tab that hears no notices: it takes in the stored queue only when it writes.
  const Channel = globalThis.BroadcastChannel;
  /** @type {any} */ (globalThis).BroadcastChannel = undefined;
  let tab;
  try {
    tab = await EventStore.open(name, { sync });
  } finally {
    globalThis.BroadcastChannel = Channel;
  }
  const stale = await tab.transact({ events: [{ stream: "acc-1", type: "opened" }], expect: { "acc-1": "no_stream" } });
  const dismissed = new Promise((resolve) => leader.sync.onRejected((r) => resolve(leader.sync.dismiss(r.batchId))));
  p.offline = false;
  await leader.sync.flush(); // takes in the tab's batch and pushes it: refused
  await dismissed; // and dismissed, stored, before the tab took the refusal in
  p.offline = true;
  await tab.transact({ events: [{ stream: "acc-2", type: "opened" }] }); // takes in the queue
  await assert.rejects(
    stale.confirmed,
    (e) =>
      e instanceof ConstraintViolationError &&
      e.batchId === stale.batchId &&
      JSON.stringify(e.violations.map((v) => [v.kind, v.stream])) === JSON.stringify([["version_mismatch", "acc-1"]]),
  );
  assert.deepEqual(tab.sync.rejected(), []);
  await tab.close();
  await leader.close();
  await other.close();
  await p.close();
});
