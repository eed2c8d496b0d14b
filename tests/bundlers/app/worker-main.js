// The check, run in a module worker.
import { report } from "./check.js";

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
report(
  () =>
    new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.result));
      worker.onerror = (e) => reject(new Error(e.message));
    }),
);
