import { check } from "./check.js";

check().then(
  (result) => postMessage({ result }),
  (e) => postMessage({ error: `${e?.constructor?.name}: ${e?.message}` }),
);
