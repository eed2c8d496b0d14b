// What every smoke page runs: a memory store (write, a refused write, read)
// and an IndexedDB store written, closed and opened again.
import { EventStore, ConstraintViolationError } from "hindcast";

export async function check() {
  const memory = await EventStore.memory();
  await memory.transact({
    events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }],
    expect: { "acc-1": "no_stream" },
  });
  const refused = await memory
    .transact({ events: [{ stream: "acc-1", type: "x" }], expect: { "acc-1": "no_stream" } })
    .then(
      () => "written",
      (e) => (e instanceof ConstraintViolationError ? e.code : String(e)),
    );
  const stored = await EventStore.open("smoke");
  await stored.transact({ events: [{ stream: "acc-2", type: "money_deposited", data: { amount: 100 } }] });
  await stored.close();
  const reopened = await EventStore.open("smoke");
  const result = {
    memory: memory.read().map((e) => [e.revision, e.type, e.data]),
    refused,
    reopened: reopened.read().map((e) => [e.revision, e.type, e.data]),
  };
  await reopened.close();
  return result;
}

/** Runs the check and leaves its outcome where the test reads it. */
export function report(run = check) {
  run().then(
    (result) => {
      globalThis.__result = result;
    },
    (e) => {
      globalThis.__result = { error: `${e?.constructor?.name}: ${e?.message ?? e}` };
    },
  );
}
