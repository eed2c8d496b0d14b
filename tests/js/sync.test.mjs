// SPEC §8.4 with memory stores syncing through a real hindcast-server
// process (embedded storage): offline writes kept and pushed later, the
// §8.3 overdraft refused with its reason, convergence, confirmed-only
// subscriptions, a dropped answer, 401 then a fresh token.
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
const newLog = () => `log-${process.pid}-${n++}`;

/** A device: a memory store syncing with `log` through its own proxy. */
async function device(log, who, tokenFn) {
  const p = await proxy(server.url);
  const store = await EventStore.memory({
    sync: { url: `${p.url}/v1/logs/${log}`, token: tokenFn ?? (() => token(who)) },
  });
  return { store, proxy: p, async close() { await store.close(); await p.close(); } };
}

/** Every event of `log` on the server, as a reader gets them. */
async function serverLog(log) {
  const res = await fetch(`${server.url}/v1/logs/${log}/events?after=0&limit=10000`, {
    headers: { authorization: `Bearer ${token("reader")}` },
  });
  return (await res.json()).events;
}

const strip = (events) => events.map(({ recordedAt, ...rest }) => rest);

test("the overdraft of §8.3 end to end: offline decisions, one refused with its reason, logs converge", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  // Shared: an account with 100 in it.
  const opened = await a.store.transact({
    events: [{ stream: "acc-1", type: "opened" }, { stream: "acc-1", type: "deposited", data: { amount: 100 } }],
  });
  assert.equal(opened.pending, true);
  assert.deepEqual(await opened.confirmed, { firstRevision: 1, revision: 2, streams: { "acc-1": { version: 1, revision: 2 } } });
  await b.store.sync.waitFor(2);
  assert.equal(b.store.confirmedRevision, 2);

  // Both offline; both decide on what they see.
  a.proxy.offline = true;
  b.proxy.offline = true;
  const deposit = await a.store.transact({ events: [{ stream: "acc-1", type: "deposited", data: { amount: 5 } }] });
  const aSeen = a.store.lastRevision({ stream: "acc-1" });
  assert.equal(aSeen, 3); // its own pending deposit
  const aWithdraw = await a.store.transact({
    events: [{ stream: "acc-1", type: "withdrawn", data: { amount: 80 } }],
    constraints: [{ maxRevision: aSeen, selector: { stream: "acc-1" } }],
  });
  const bWithdraw = await b.store.transact({
    events: [{ stream: "acc-1", type: "withdrawn", data: { amount: 70 } }],
    constraints: [{ maxRevision: b.store.lastRevision({ stream: "acc-1" }), selector: { stream: "acc-1" } }],
  });
  assert.deepEqual(a.store.read().map((e) => [e.revision, e.type, e.pending === true]), [
    [1, "opened", false],
    [2, "deposited", false],
    [3, "deposited", true],
    [4, "withdrawn", true],
  ]);
  assert.equal(a.store.sync.status.pendingBatches, 2);

  // B comes back first: its withdrawal commits at 3.
  b.proxy.offline = false;
  assert.deepEqual(await bWithdraw.confirmed, { firstRevision: 3, revision: 3, streams: { "acc-1": { version: 2, revision: 3 } } });

  // A comes back: its deposit (no condition) commits at 4; its withdrawal,
  // decided without B's, is refused: found 3, the event it never saw.
  const rejections = [];
  a.store.sync.onRejected((r) => rejections.push(r));
  a.proxy.offline = false;
  assert.deepEqual(await deposit.confirmed, { firstRevision: 4, revision: 4, streams: { "acc-1": { version: 3, revision: 4 } } });
  const err = await aWithdraw.confirmed.then(() => null, (e) => e);
  assert.ok(err instanceof ConstraintViolationError, String(err));
  assert.equal(err.batchId, aWithdraw.batchId);
  assert.deepEqual(err.violations.map(({ message, ...v }) => v), [
    { kind: "max_revision_exceeded", constraint: { maxRevision: 3, selector: { stream: "acc-1" } }, max: 3, found: 3 },
  ]);
  const [rejected] = a.store.sync.rejected();
  assert.equal(rejected.batchId, aWithdraw.batchId);
  assert.deepEqual(rejected.events.map((e) => [e.type, e.data]), [["withdrawn", { amount: 80 }]]);
  assert.ok(Number.isSafeInteger(rejected.at));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(rejections.map((r) => r.batchId), [aWithdraw.batchId]);

  // Converged: both devices and the server hold the same log, nothing pending.
  await b.store.sync.waitFor(4);
  const shared = await serverLog(log);
  assert.deepEqual(shared.map((e) => e.type), ["opened", "deposited", "withdrawn", "deposited"]);
  assert.deepEqual(strip(a.store.read()), strip(shared));
  assert.deepEqual(a.store.read(), b.store.read());
  assert.equal(a.store.sync.status.pendingBatches, 0);
  assert.equal(a.store.sync.status.state, "online");
  a.store.sync.dismiss(aWithdraw.batchId);
  assert.deepEqual(a.store.sync.rejected(), []);
  await a.close();
  await b.close();
});

test("three devices writing offline converge on one log, whatever order they come back in", async () => {
  const log = newLog();
  const devices = await Promise.all(["d0", "d1", "d2"].map((who) => device(log, who)));
  for (const d of devices) d.proxy.offline = true;
  for (let round = 0; round < 3; round++) {
    for (const [i, d] of devices.entries()) {
      await d.store.transact({ events: [{ stream: `s${round % 2}`, type: "wrote", data: { by: i, round } }] });
    }
  }
  for (const i of [2, 0, 1]) {
    devices[i].proxy.offline = false;
    await devices[i].store.sync.flush();
  }
  for (const d of devices) await d.store.sync.waitFor(9);
  const shared = await serverLog(log);
  assert.equal(shared.length, 9);
  for (const d of devices) {
    assert.deepEqual(strip(d.store.read()), strip(shared));
    assert.equal(d.store.sync.status.pendingEvents, 0);
    // Versions follow per stream in the shared order.
    const versions = {};
    for (const e of d.store.read()) {
      assert.equal(e.version, versions[e.stream] ?? 0);
      versions[e.stream] = e.version + 1;
    }
  }
  for (const d of devices) await d.close();
});

test("subscriptions deliver confirmed events only, once each, in the shared order", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  const seen = [];
  a.store.subscribe((e) => {
    assert.equal(e.pending, undefined);
    seen.push([e.revision, e.data.by]);
  });
  a.proxy.offline = true;
  await a.store.transact({ events: [{ stream: "s", type: "t", data: { by: "a" } }] });
  await b.store.transact({ events: [{ stream: "s", type: "t", data: { by: "b" } }] });
  await b.store.sync.flush();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, []); // a's own write is pending; b's not yet pulled
  a.proxy.offline = false;
  await a.store.sync.flush();
  await a.store.sync.waitFor(2);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(seen, [
    [1, "b"],
    [2, "a"],
  ]);
  await a.close();
  await b.close();
});

test("a push whose answer is lost commits once: the pull that follows brings the batch, the next seq follows it", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  await a.store.sync.flush(); // online
  a.proxy.dropNextPush();
  const commit = await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.deepEqual((await commit.confirmed).revision, 1);
  assert.equal((await serverLog(log)).length, 1);
  assert.equal(a.store.read().length, 1);
  // The server recorded seq 1; the next batch is seq 2, decided in order.
  const next = await a.store.transact({ events: [{ stream: "s", type: "t" }], expect: { s: { version: 0 } } });
  assert.deepEqual(await next.confirmed, { firstRevision: 2, revision: 2, streams: { s: { version: 1, revision: 2 } } });
  assert.equal((await serverLog(log)).length, 2);
  await a.close();
});

test("401: the state says unauthorized, token() is asked again, nothing is rejected", async () => {
  const log = newLog();
  let calls = 0;
  const statuses = [];
  const a = await device(log, "alice", () => (++calls < 2 ? "not-a-token" : token("alice")));
  a.store.sync.onStatus((s) => statuses.push(s.state));
  const commit = await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.equal((await commit.confirmed).revision, 1);
  assert.ok(calls >= 2);
  assert.ok(statuses.includes("unauthorized"), statuses.join());
  assert.equal(statuses.at(-1), "online", statuses.join());
  assert.deepEqual(a.store.sync.rejected(), []);
  await a.close();
});

test("the status follows the newest answer: a push refused with an old token does not undo the pull answered after it", async () => {
  const log = newLog();
  let calls = 0;
  const states = [];
  // 1: the first pull's token() throws; 2: the push's token is badly
  // signed (401); 3 on: good tokens (the pull after that push is answered).
  const tokenFn = () => {
    calls++;
    if (calls === 1) throw new Error("no session yet");
    return calls === 2 ? "not-a-token" : token("alice");
  };
  const a = await device(log, "alice", tokenFn);
  const firstAnswer = new Promise((resolve) => a.store.sync.onStatus((s) => { states.push(s.state); if (s.state === "unauthorized") resolve(); }));
  await firstAnswer;
  const commit = await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.equal((await commit.confirmed).revision, 1);
  const changes = states.filter((s, i) => i === 0 || s !== states[i - 1]);
  assert.deepEqual(changes, ["unauthorized", "online"], states.join());
  assert.equal(a.store.sync.status.lastError, null);
  await a.close();
});

test("a view's own names pending batches by seq, less the rejected ones between them (SPEC §8.3, compact form)", async () => {
  const log = newLog();
  const b = await device(log, "bob");
  await (await b.store.transact({ events: [{ stream: "x", type: "made" }] })).confirmed;
  const a = await device(log, "alice");
  a.proxy.offline = true; // before its first pull: A never sees x
  // Seqs 1–3, offline. Seq 2 (on stream a too) expects no x: the server refuses it.
  const p1 = await a.store.transact({ events: [{ stream: "a", type: "one" }] });
  const r = await a.store.transact({ events: [{ stream: "a", type: "bad" }], expect: { x: "no_stream" } });
  const p2 = await a.store.transact({ events: [{ stream: "a", type: "two" }] });
  // Pushes pass, pulls fail: 1 and 3 commit but stay pending; 2 is rejected and leaves.
  a.proxy.failNextPulls(1_000_000);
  a.proxy.offline = false;
  a.store.sync.flush().catch(() => {}); // try now, not after the backoff
  await assert.rejects(r.confirmed, ConstraintViolationError);
  assert.deepEqual(a.store.read({ stream: "a" }).map((e) => [e.type, e.version, e.pending]), [["one", 0, true], ["two", 1, true]]);
  const bodies = [];
  let pushed = () => {};
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    const res = await realFetch(url, init);
    if (String(url).endsWith("/push")) {
      bodies.push(JSON.parse(init.body));
      pushed();
    }
    return res;
  };
  try {
    // Decided on 1 and 3: stream a at version 1. Had the view named the
    // rejected batch, its event on stream a would refuse this one.
    const p3 = await a.store.transact({ events: [{ stream: "a", type: "three" }], expect: { a: { version: 1 } } });
    const body = () => bodies.flatMap((x) => x.batches).find((x) => x.id === p3.batchId);
    a.store.sync.flush().catch(() => {}); // try now, not after the backoff
    await new Promise((resolve) => {
      pushed = () => body() !== undefined && resolve();
      pushed();
    });
    assert.deepEqual(body().view, { base: 0, own: { from: 1, to: 3, except: [2] } });
    a.proxy.failNextPulls(0);
    await a.store.sync.waitFor(4);
    assert.deepEqual(await p3.confirmed, { firstRevision: 4, revision: 4, streams: { a: { version: 2, revision: 4 } } });
    assert.deepEqual((await p1.confirmed).revision, 2);
    assert.deepEqual((await p2.confirmed).revision, 3);
  } finally {
    globalThis.fetch = realFetch;
  }
  await a.close();
  await b.close();
});

test("a commit heard on the live stream is not pulled again: one request (the push) per synced transact", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const trip = async (i) => {
    const [pushes, pulls] = [a.proxy.pushes, a.proxy.pulls];
    const commit = await a.store.transact({ events: [{ stream: "s", type: "t", data: { i } }] });
    assert.equal((await commit.confirmed).revision, i + 1);
    return [a.proxy.pushes - pushes, a.proxy.pulls - pulls];
  };
  // Until the live stream is open, a commit is pulled after its push.
  let i = 0;
  for (let costs = null; ; i++) {
    assert.ok(i < 50, "the live stream never carried a commit");
    costs = await trip(i);
    if (costs[1] === 0) break;
  }
  for (let k = 0; k < 20; k++) assert.deepEqual(await trip(++i), [1, 0]);
  assert.deepEqual(a.store.read().map((e) => e.data.i), Array.from({ length: i + 1 }, (_, n) => n));
  await a.close();
});

test("a push whose answer is lost, and the pull after it too, is pushed again: the server answers with the recorded outcome, one commit", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const first = await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  await first.confirmed; // online, and the loop waits
  const before = a.proxy.pushes;
  a.proxy.dropNextPush();
  a.proxy.failNextPulls(1);
  const commit = await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.deepEqual(await commit.confirmed, { firstRevision: 2, revision: 2, streams: { s: { version: 1, revision: 2 } } });
  assert.ok(a.proxy.pushes >= before + 2, `${a.proxy.pushes - before} pushes`);
  assert.deepEqual(
    (await serverLog(log)).map((e) => [e.revision, e.batchId]),
    [
      [1, first.batchId],
      [2, commit.batchId],
    ],
  );
  assert.equal(a.store.read().length, 2);
  await a.close();
});

test("a store without sync has no sync, confirmedRevision, pending or confirmed", async () => {
  const store = await EventStore.memory();
  const commit = await store.transact({ events: [{ stream: "s", type: "t" }] });
  assert.equal(store.sync, undefined);
  assert.equal(store.confirmedRevision, undefined);
  assert.equal(commit.pending, undefined);
  assert.equal(commit.confirmed, undefined);
});

test("bad sync options are refused with their path; batches past the push limit are refused at transact", async () => {
  for (const [options, path] of [
    [{ sync: null }, "options.sync"],
    [{ sync: { url: "not a url" } }, "options.sync.url"],
    [{ sync: { url: "ftp://host/v1/logs/x" } }, "options.sync.url"],
    [{ sync: { url: "http://host/v1/logs/x", token: 5 } }, "options.sync.token"],
    [{ sync: { url: "http://host/v1/logs/x", retry: 1 } }, "options.sync.retry"],
    [{ other: 1 }, "options.other"],
  ]) {
    await assert.rejects(EventStore.memory(options), (e) => e instanceof InvalidInputError && e.path === path);
  }
  // open checks the same options before it touches IndexedDB.
  await assert.rejects(
    EventStore.open("synced", { sync: { url: "http://host/v1/logs/x", tokens: "t" } }),
    (e) => e instanceof InvalidInputError && e.path === "options.sync.tokens",
  );
  const a = await device(newLog(), "alice");
  a.proxy.offline = true;
  const big = Array.from({ length: 1001 }, () => ({ stream: "s", type: "t" }));
  await assert.rejects(a.store.transact({ events: big }), (e) => e instanceof InvalidInputError && e.path === "events");
  const huge = [{ stream: "s", type: "t", data: "x".repeat(4 * 1024 * 1024) }];
  await assert.rejects(a.store.transact({ events: huge }), (e) => e instanceof InvalidInputError && e.path === "events");
  assert.equal(a.store.revision, 0);
  await a.close();
});

test("projections are optimistic: pending events on the confirmed state, folded again when a batch leaves", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  const on = {
    deposited: (s, e) => ({ ...s, balance: s.balance + e.data.amount }),
    withdrawn: (s, e) => ({ ...s, balance: s.balance - e.data.amount }),
  };
  const optimistic = a.store.project({ initial: { balance: 0 }, on });
  const confirmedOnly = a.store.project({ initial: { balance: 0 }, on, pending: false });
  const seen = [];
  optimistic.onChange((state, position) => seen.push([state.balance, position]));
  await (await a.store.transact({ events: [{ stream: "acc", type: "deposited", data: { amount: 100 } }] })).confirmed;
  await optimistic.waitFor(1);
  await b.store.sync.waitFor(1);

  a.proxy.offline = true;
  const w = await a.store.transact({
    events: [{ stream: "acc", type: "withdrawn", data: { amount: 60 } }],
    constraints: [{ maxRevision: 1, selector: { stream: "acc" } }],
  });
  await optimistic.waitFor(2);
  assert.deepEqual([optimistic.state.balance, optimistic.position, optimistic.confirmedPosition], [40, 2, 1]);
  assert.deepEqual([confirmedOnly.state.balance, confirmedOnly.position], [100, 1]);

  // Someone else withdraws first: A's withdrawal is refused and leaves.
  await (await b.store.transact({ events: [{ stream: "acc", type: "withdrawn", data: { amount: 30 } }] })).confirmed;
  a.proxy.offline = false;
  await w.confirmed.catch(() => {});
  await a.store.sync.waitFor(2);
  await optimistic.waitFor(2);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual([optimistic.state.balance, optimistic.position, optimistic.confirmedPosition], [70, 2, 2]);
  assert.deepEqual(a.store.read().map((e) => [e.type, e.data.amount, e.pending === true]), [
    ["deposited", 100, false],
    ["withdrawn", 30, false],
  ]);
  assert.deepEqual(seen.at(-1), [70, 2]);
  assert.ok(seen.some(([balance]) => balance === 40), JSON.stringify(seen));
  await a.close();
  await b.close();
});

test("a pending subscription sees pending events, and is rewound to what still stands when a rebase moves them", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  await (await a.store.transact({ events: [{ stream: "s", type: "t", data: { by: "a0" } }] })).confirmed;
  const seen = [];
  const sub = a.store.subscribe((e) => {
    seen.push([e.revision, e.data.by, e.pending === true]);
  }, {
    pending: true,
    onRewind: async (r) => {
      seen.push(`rewind to ${r}`);
    },
  });
  await sub.waitFor(1);
  a.proxy.offline = true;
  const mine = await a.store.transact({ events: [{ stream: "s", type: "t", data: { by: "a1" } }] });
  await sub.waitFor(2);
  assert.equal(sub.position, 2);
  await (await b.store.transact({ events: [{ stream: "s", type: "t", data: { by: "b1" } }] })).confirmed;
  a.proxy.offline = false;
  assert.equal((await mine.confirmed).revision, 3);
  await sub.waitFor(3);
  assert.deepEqual(seen.slice(0, 4), [[1, "a0", false], [2, "a1", true], "rewind to 1", [2, "b1", false]]);
  // a1 again, renumbered (pending or already confirmed, as the pull found it).
  assert.deepEqual(seen[4].slice(0, 2), [3, "a1"]);
  // Joining the prefix at the same revision, a1 still stands: not delivered again.
  await a.store.sync.waitFor(3);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(seen.length, 5);
  assert.throws(() => a.store.subscribe(() => {}, { onRewind: () => {} }), (e) => e instanceof InvalidInputError && e.path === "options.onRewind");
  await a.close();
  await b.close();
});

test("after a pull, failing() names the pending batches the server is certain to refuse; the server then refuses them", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  const b = await device(log, "bob");
  await (await a.store.transact({ events: [{ stream: "acc-1", type: "opened" }] })).confirmed;
  await b.store.sync.waitFor(1);
  // A decides offline: a deposit (no condition) and a withdrawal on what it sees.
  a.proxy.refusePushes = true;
  const deposit = await a.store.transact({ events: [{ stream: "acc-1", type: "deposited" }] });
  const withdrawal = await a.store.transact({
    events: [{ stream: "acc-1", type: "withdrawn" }],
    constraints: [{ maxRevision: a.store.lastRevision({ stream: "acc-1" }), selector: { stream: "acc-1" } }],
  });
  const elsewhere = await a.store.transact({ events: [{ stream: "acc-2", type: "opened" }], expect: { "acc-2": "no_stream" } });
  assert.deepEqual(a.store.sync.failing(), []);
  // B withdraws; A pulls it (its pushes still refused): the withdrawal cannot commit.
  await (await b.store.transact({ events: [{ stream: "acc-1", type: "withdrawn" }] })).confirmed;
  await a.store.sync.waitFor(2);
  assert.deepEqual(a.store.sync.failing(), [withdrawal.batchId]);
  assert.equal(a.store.sync.status.pendingBatches, 3);
  // The server decides: as flagged.
  a.proxy.refusePushes = false;
  await a.store.sync.flush();
  assert.equal((await deposit.confirmed).revision, 3);
  await assert.rejects(withdrawal.confirmed, (e) => e instanceof ConstraintViolationError && e.violations[0].kind === "max_revision_exceeded");
  assert.equal((await elsewhere.confirmed).revision, 4);
  assert.deepEqual(a.store.sync.failing(), []);
  await a.close();
  await b.close();
});

test("a projection made while only pending events are there folds them at once", async () => {
  const a = await device(newLog(), "alice");
  a.proxy.offline = true;
  await a.store.transact({ events: [{ stream: "acc-1", type: "deposited", data: { amount: 40 } }] });
  const balance = a.store.project({ initial: 0, on: { deposited: (s, e) => s + e.data.amount } });
  await balance.waitFor(1);
  assert.equal(balance.state, 40);
  assert.equal(balance.position, 1);
  assert.equal(balance.confirmedPosition, 0);
  balance.close();
  await a.close();
});

test("close rejects an outstanding flush as closed, as it does the pending batches' confirmed", async () => {
  const log = newLog();
  const d = await device(log, "alice");
  d.proxy.offline = true;
  const c = await d.store.transact({ events: [{ stream: "s", type: "t" }] });
  const flushed = d.store.sync.flush();
  await d.store.close();
  await assert.rejects(c.confirmed, (e) => e.reason === "closed");
  await assert.rejects(flushed, (e) => e.reason === "closed");
  await d.proxy.close();
});

test("close aborts the request in flight: a held push's answer is not applied to the closed store", async () => {
  const log = newLog();
  const d = await device(log, "alice");
  const signals = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    const answer = realFetch(url, init);
    if (String(url).endsWith("/push")) signals.push({ signal: init.signal, answer });
    return answer;
  };
  try {
    const held = d.proxy.holdNextPush();
    const c = await d.store.transact({ events: [{ stream: "s", type: "t" }] });
    await held.answered; // the server committed it; the answer waits in the proxy
    await d.store.close();
    assert.equal(signals.length, 1);
    assert.equal(signals[0].signal.aborted, true);
    held.release();
    await assert.rejects(signals[0].answer, (e) => e.name === "AbortError");
    await assert.rejects(c.confirmed, (e) => e.reason === "closed");
    // Reads of the closed store keep answering as at the close.
    assert.equal(d.store.confirmedRevision, 0);
    assert.deepEqual(d.store.read().map((e) => [e.revision, e.type, e.pending]), [[1, "t", true]]);
  } finally {
    globalThis.fetch = realFetch;
  }
  await d.proxy.close();
});

test("while the server is unreachable, local writes wait out the backoff instead of costing a request each", async () => {
  const log = newLog();
  const a = await device(log, "alice");
  await (await a.store.transact({ events: [{ stream: "s", type: "t" }] })).confirmed;
  a.proxy.offline = true;
  const offline = new Promise((resolve) => {
    const off = a.store.sync.onStatus((s) => {
      if (s.state === "offline") {
        off();
        resolve();
      }
    });
  });
  await a.store.transact({ events: [{ stream: "s", type: "t" }] });
  await offline; // the loop found the server unreachable: it backs off
  const before = a.proxy.requests;
  // 30 writes, each followed by a round trip to the server (time for a loop
  // woken by the write to send its request, as it did before).
  for (let i = 0; i < 30; i++) {
    await a.store.transact({ events: [{ stream: "s", type: "t" }] });
    await fetch(`${server.url}/healthz`);
  }
  const during = a.proxy.requests - before;
  // Only the backoff's own timer may try again meanwhile (1 s, then 2 s, with jitter).
  assert.ok(during <= 3, `the writes cost ${during} requests`);
  // Back online: flush tries at once, whatever the backoff had reached.
  a.proxy.offline = false;
  await a.store.sync.flush();
  assert.equal(a.store.confirmedRevision, 32);
  assert.equal(a.store.sync.status.state, "online");
  await a.close();
});
