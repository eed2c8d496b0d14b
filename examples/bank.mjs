// The bank-account story of the Hindsight consistency tutorial, in Node.
//
// Balances come from a live projection. A withdrawal is decided on what the
// projection shows at its position; the write expects that nothing about the
// account changed since, so a decision made on stale state is refused
// instead of overdrawing.
import { EventStore, ConstraintViolationError } from "hindcast";

const store = await EventStore.memory();
const say = (...args) => console.log(...args);

const balances = store.project({
  initial: {},
  on: {
    account_opened: (s, e) => ({ ...s, [e.stream]: 0 }),
    money_deposited: (s, e) => ({ ...s, [e.stream]: s[e.stream] + e.data.amount }),
    money_withdrawn: (s, e) => ({ ...s, [e.stream]: s[e.stream] - e.data.amount }),
  },
});

/** Writes and waits until the projection shows it. */
async function write(request) {
  const commit = await store.transact(request);
  await balances.waitFor(commit.revision);
  return commit;
}

/** Withdraws if the balance seen allows, expecting the account unchanged since. */
async function withdraw(account, amount, seen) {
  if (seen.state[account] < amount) throw new Error(`insufficient funds: ${seen.state[account]} < ${amount}`);
  return write({
    events: [{ stream: account, type: "money_withdrawn", data: { amount } }],
    constraints: [{ maxRevision: seen.position, selector: { stream: account } }],
  });
}

await write({
  events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" } }],
  expect: { "acc-1": "no_stream" },
});
say("opened acc-1 for Ann");
await write({ events: [{ stream: "acc-1", type: "money_deposited", data: { amount: 100 } }] });
say("deposited 100 → balance", balances.state["acc-1"]);

// Two tellers look at the projection at the same moment.
const tellerA = { state: balances.state, position: balances.position };
const tellerB = { state: balances.state, position: balances.position };
say(`both tellers see balance ${tellerA.state["acc-1"]} at revision ${tellerA.position}`);

const ok = await withdraw("acc-1", 70, tellerA);
say(`teller A withdrew 70 (revision ${ok.revision}) → balance`, balances.state["acc-1"]);

try {
  await withdraw("acc-1", 70, tellerB); // decided on a balance of 100 that no longer holds
  say("teller B withdrew 70 — this must not happen");
  process.exitCode = 1;
} catch (e) {
  if (!(e instanceof ConstraintViolationError)) throw e;
  const [v] = e.violations;
  say(`teller B's withdrawal of 70 was refused: ${v.kind}, at most revision ${v.max} expected, found ${v.found}`);
}
say("final balance", balances.state["acc-1"], "— never overdrawn");
balances.close();
