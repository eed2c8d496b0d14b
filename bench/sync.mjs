// Sync benchmarks (not tests): a memory store syncing with the real
// hindcast-server (embedded storage, debug or release build as found) on
// loopback, through the test suite's proxy.
//
//   cargo build --release -p hindcast-server
//   HINDCAST_SERVER_BIN=target/release/hindcast-server node bench/sync.mjs [--runs N] [--quick]
//
// 1. Round trip online: transact, then await commit.confirmed (median).
// 2. Reconnect: N pending single-event batches written offline (plain, then
//    each with an exact stream version), then the time from going online
//    until every one is confirmed. --reconnect=1000,3000 picks the Ns.
// 3. Rebase on a log of 1M events (skipped with --quick): a device holding
//    the 1M-event confirmed prefix and 100 pending conditioned batches (its
//    pushes refused) pulls 1,000 events of another device. Timed from the
//    pulled page's text in hand to the end of the rebase (the status that
//    reports the new confirmed head), and to the optimistic projection's
//    refold (pending events folded again on the confirmed state).
import { EventStore } from "hindcast";
import { startServer, proxy, token } from "../tests/js/sync-server.mjs";

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1]) || 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

const server = await startServer();
try {
  /** A device; through a proxy that can go offline, or straight to the server. */
  const device = async (log, direct = false) => {
    const p = await proxy(server.url);
    const url = direct ? server.url : p.url;
    const store = await EventStore.memory({ sync: { url: `${url}/v1/logs/${log}`, token: () => token("bench") } });
    await store.sync.flush();
    return { store, proxy: p };
  };

  // 1. Round trips.
  const trips = [];
  let requests = 0;
  {
    const d = await device(`trip-${Date.now()}`, true);
    for (let i = 0; i < 20; i++) await (await d.store.transact({ events: [{ stream: "s", type: "t" }] })).confirmed;
    // Requests made (fetch calls: pushes, pulls, live streams opened) per round trip.
    const realFetch = globalThis.fetch;
    globalThis.fetch = (...a) => {
      requests++;
      return realFetch(...a);
    };
    try {
      for (let i = 0; i < 300; i++) {
        const t = performance.now();
        await (await d.store.transact({ events: [{ stream: "s", type: "t", data: { i } }] })).confirmed;
        trips.push(performance.now() - t);
      }
    } finally {
      globalThis.fetch = realFetch;
    }
    await d.store.close();
    await d.proxy.close();
  }

  // 2. Reconnects.
  // Plain batches (no condition: their views are never consulted), then
  // batches each with an exact stream version (their views list every
  // batch pending before them).
  const reconnect = [];
  const sizes = args.find((a) => a.startsWith("--reconnect="))?.slice(12).split(",").map(Number) ?? (args.includes("--quick") ? [1_000] : [1_000, 10_000]);
  for (const conditioned of [false, true]) {
    for (const n of sizes) {
      const times = [];
      const writes = [];
      for (let run = 0; run < (n > 1_000 ? 1 : RUNS); run++) {
        const d = await device(`reconnect-${n}-${run}-${Date.now()}`);
        d.proxy.offline = true;
        const w = performance.now();
        for (let i = 0; i < n; i++) {
          const stream = `s${i % 100}`;
          const expect = conditioned ? { [stream]: d.store.stream(stream) === null ? "no_stream" : { version: d.store.stream(stream).version } } : undefined;
          await d.store.transact({ events: [{ stream, type: "t", data: { i } }], expect });
        }
        writes.push(performance.now() - w);
        d.proxy.offline = false;
        const t = performance.now();
        await d.store.sync.flush();
        times.push(performance.now() - t);
        if (d.store.confirmedRevision !== n) throw new Error(`confirmed ${d.store.confirmedRevision} of ${n}`);
        if (d.store.sync.rejected().length !== 0) throw new Error("a batch was rejected");
        await d.store.close();
        await d.proxy.close();
        console.log(`  reconnect with ${fmt(n)} pending${conditioned ? " conditioned" : ""}, run ${run + 1}: written offline in ${fmt(writes.at(-1))} ms, confirmed in ${fmt(times.at(-1))} ms`);
      }
      reconnect.push([n, conditioned, median(times), median(writes)]);
    }
  }

  // 3. Rebase on a 1M-event log.
  let rebase = null;
  if (!args.includes("--quick")) {
    const log = `rebase-${Date.now()}`;
    const writer = crypto.randomUUID();
    let seq = 0;
    const push = async (n, base) => {
      const events = Array.from({ length: n }, (_, i) => ({ stream: `acc-${i % 1000}`, type: "deposited", data: { amount: 1 } }));
      const body = { protocol: 1, clientId: writer, batches: [{ seq: ++seq, id: crypto.randomUUID(), events, view: { base, own: [] } }] };
      const res = await fetch(`${server.url}/v1/logs/${log}/push`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token("writer")}` },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`push: ${res.status}`);
    };
    const t = performance.now();
    for (let i = 0; i < 1_000; i++) await push(1_000, 0);
    console.log(`  a log of 1,000,000 events pushed in ${fmt(performance.now() - t)} ms`);
    const d = await device(log);
    await d.store.sync.waitFor(1_000_000);
    console.log(`  pulled by the device in ${fmt(performance.now() - t)} ms since`);
    d.proxy.refusePushes = true;
    for (let i = 0; i < 100; i++) {
      const stream = `acc-${i % 1000}`;
      await d.store.transact({
        events: [{ stream: `acc-${i}`, type: "withdrawn", data: { amount: 1 } }],
        expect: { [stream]: { version: d.store.stream(stream)?.version ?? -1 } },
      });
    }
    const balance = d.store.project({
      initial: 0,
      on: { deposited: (s, e) => s + e.data.amount, withdrawn: (s, e) => s - e.data.amount },
    });
    await balance.waitFor(d.store.revision);
    // When the pulled page's text is in hand.
    let pulledAt = 0;
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      const res = await realFetch(url, init);
      if (String(url).includes("/events?after=") && init?.headers?.accept !== "text/event-stream") {
        const text = res.text.bind(res);
        res.text = async () => {
          const body = await text();
          pulledAt = performance.now();
          return body;
        };
      }
      return res;
    };
    const rebases = [];
    const refolds = [];
    try {
      for (let run = 0; run < RUNS + 2; run++) {
        const head = d.store.confirmedRevision + 1_000;
        const rebased = new Promise((resolve) => {
          const off = d.store.sync.onStatus((s) => {
            if (s.confirmedRevision >= head) {
              off();
              resolve(performance.now());
            }
          });
        });
        const refolded = new Promise((resolve) => {
          const off = balance.onChange((_, position) => {
            if (position === head + 100) {
              off();
              resolve(performance.now());
            }
          });
        });
        await push(1_000, head - 1_000);
        const [r, f] = await Promise.all([rebased, refolded]);
        rebases.push(r - pulledAt);
        refolds.push(f - pulledAt);
        if (d.store.sync.status.pendingBatches !== 100) throw new Error("the pending batches changed");
      }
    } finally {
      globalThis.fetch = realFetch;
    }
    rebase = { rebase: median(rebases), refold: median(refolds), runs: rebases.length };
    balance.close();
    await d.store.close();
    await d.proxy.close();
  }

  console.log(`\nnode ${process.version}, server ${process.env.HINDCAST_SERVER_BIN ?? "target/debug/hindcast-server"}`);
  console.log("| Workload | hindcast | goal |\n|---|---:|---|");
  const trip = median(trips);
  console.log(`| synced transact + confirmed round trip, median of 300 | ${fmt(trip, 2)} ms | ≤ 3 ms ${trip <= 3 ? "✅" : "❌"} |`);
  console.log(`| … HTTP requests per round trip (pushes, pulls, live streams opened) | ${fmt(requests / 300, 2)} | ≤ 2 ${requests / 300 <= 2 ? "✅" : "❌"} |`);
  for (const [n, conditioned, ms, written] of reconnect) {
    const limit = conditioned ? 2000 : 5000;
    const goal = n === 10_000 ? ` ≤ ${limit / 1000} s ${ms <= limit ? "✅" : "❌"}` : "—";
    const what = conditioned ? "single-event batches, each with an exact stream version" : "single-event batches";
    console.log(`| reconnect with ${fmt(n)} pending ${what}, until all confirmed (written offline in ${fmt(written)} ms) | ${fmt(ms)} ms | ${goal} |`);
  }
  if (rebase !== null) {
    const ok = rebase.rebase <= 20 ? "✅" : "❌";
    console.log(`| rebase of 100 pending batches under 1,000 pulled events, 1M-event log, median of ${rebase.runs} | ${fmt(rebase.rebase, 1)} ms | ≤ 20 ms ${ok} |`);
    console.log(`| … and the optimistic projection folded again (100 pending events on the confirmed state) | ${fmt(rebase.refold, 1)} ms | — |`);
  }
} finally {
  await server.stop();
}
