// The bank-account story of the Hindsight consistency tutorial, in Node.
//
// A withdrawal is decided on what the account looks like at some revision;
// the write expects the account stream to still be at that revision, so a
// decision made on stale state is refused instead of overdrawing.
import { EventStore, ConstraintViolationError } from "hindcast";

const store = await EventStore.memory();
const say = (...args) => console.log(...args);

/** The balance and the revision of the account's last event, read from the log. */
function account(id) {
  let balance = 0;
  for (const e of store.readStream(id)) {
    if (e.type === "money_deposited") balance += e.data.amount;
    if (e.type === "money_withdrawn") balance -= e.data.amount;
  }
  return { balance, revision: store.stream(id)?.revision ?? 0 };
}

/** Withdraws if the balance allows, expecting the account to be as seen. */
async function withdraw(id, amount, seen) {
  if (seen.balance < amount) throw new Error(`insufficient funds: ${seen.balance} < ${amount}`);
  return store.transact({
    events: [{ stream: id, type: "money_withdrawn", data: { amount } }],
    expect: { [id]: { revision: seen.revision } },
  });
}

await store.transact({
  events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }],
  expect: { "acc-1": "no_stream" },
});
say("opened acc-1 for Ann");
await store.transact({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 100 } }] });
say("deposited 100 → balance", account("acc-1").balance);

// Two tellers look at the account at the same moment.
const tellerA = account("acc-1");
const tellerB = account("acc-1");
say(`both tellers see balance ${tellerA.balance} at revision ${tellerA.revision}`);

const ok = await withdraw("acc-1", 70, tellerA);
say(`teller A withdrew 70 (revision ${ok.revision}) → balance`, account("acc-1").balance);

try {
  await withdraw("acc-1", 70, tellerB); // decided on a balance of 100 that no longer holds
  say("teller B withdrew 70 — this must not happen");
  process.exitCode = 1;
} catch (e) {
  if (!(e instanceof ConstraintViolationError)) throw e;
  const [v] = e.violations;
  say(`teller B's withdrawal of 70 was refused: ${v.kind} on ${v.stream}, expected ${JSON.stringify(v.expected)}, actual ${JSON.stringify(v.actual)}`);
}
say("final balance", account("acc-1").balance, "— never overdrawn");
