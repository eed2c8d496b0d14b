// Sync benchmarks (not tests): a memory store syncing with the real
// hindcast-server (embedded storage, debug or release build as found) on
// loopback, through the test suite's proxy.
//
//   cargo build --release -p hindcast-server
//   HINDCAST_SERVER_BIN=target/release/hindcast-server node bench/sync.mjs [--runs N] [--quick]
//
// 1. Round trip online: transact, then await commit.confirmed (median).
// 2. Reconnect: N pending single-event batches written offline, then the
//    time from going online until every one is confirmed.
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
  {
    const d = await device(`trip-${Date.now()}`, true);
    for (let i = 0; i < 20; i++) await (await d.store.transact({ events: [{ stream: "s", type: "t" }] })).confirmed;
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await (await d.store.transact({ events: [{ stream: "s", type: "t", data: { i } }] })).confirmed;
      trips.push(performance.now() - t);
    }
    await d.store.close();
    await d.proxy.close();
  }

  // 2. Reconnects.
  const reconnect = [];
  for (const n of args.includes("--quick") ? [1_000] : [1_000, 10_000]) {
    const times = [];
    for (let run = 0; run < (n > 1_000 ? 1 : RUNS); run++) {
      const d = await device(`reconnect-${n}-${run}-${Date.now()}`);
      d.proxy.offline = true;
      for (let i = 0; i < n; i++) await d.store.transact({ events: [{ stream: `s${i % 100}`, type: "t", data: { i } }] });
      d.proxy.offline = false;
      const t = performance.now();
      await d.store.sync.flush();
      times.push(performance.now() - t);
      if (d.store.confirmedRevision !== n) throw new Error(`confirmed ${d.store.confirmedRevision} of ${n}`);
      await d.store.close();
      await d.proxy.close();
      console.log(`  reconnect with ${fmt(n)} pending, run ${run + 1}: ${fmt(times.at(-1))} ms`);
    }
    reconnect.push([n, median(times)]);
  }

  console.log(`\nnode ${process.version}, server ${process.env.HINDCAST_SERVER_BIN ?? "target/debug/hindcast-server"}`);
  console.log("| Workload | hindcast | goal |\n|---|---:|---|");
  const trip = median(trips);
  console.log(`| synced transact + confirmed round trip, median of 300 | ${fmt(trip, 2)} ms | ≤ 3 ms ${trip <= 3 ? "✅" : "❌"} |`);
  for (const [n, ms] of reconnect) {
    const goal = n === 10_000 ? ` ≤ 5 s ${ms <= 5000 ? "✅" : "❌"}` : "—";
    console.log(`| reconnect with ${fmt(n)} pending single-event batches, until all confirmed | ${fmt(ms)} ms | ${goal} |`);
  }
} finally {
  await server.stop();
}
