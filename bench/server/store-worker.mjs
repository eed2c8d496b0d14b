// One store's clients for run.mjs (see stores.mjs): opened from workerData
// ({ workload, store, url, pgurl }); each message is a round's tag, answered
// with the round's time in seconds and what it returned. The time is taken
// here, around the round alone.
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { open } from "./stores.mjs";

const store = await open(workerData.workload, workerData.store, workerData);
parentPort.on("message", async (tag) => {
  if (tag === null) {
    await store.close();
    parentPort.close();
    return;
  }
  const t0 = performance.now();
  const out = await store.round(tag);
  parentPort.postMessage({ seconds: (performance.now() - t0) / 1000, ...out });
});
parentPort.postMessage({ ready: true });
