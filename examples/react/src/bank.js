// The bank of the Hindsight consistency tutorial: accounts are streams,
// balances a projection, and every withdrawal is written with the position
// it was decided at, so a decision on a stale balance is refused.

/**
 * The projection: `{ [account]: { owner, balance } }`. A module-level
 * constant, so that every render hands useProjectionView the same
 * definition (one projection, made once).
 */
export const BALANCES = {
  initial: {},
  on: {
    account_opened: (s, e) => ({ ...s, [e.stream]: { owner: e.data.owner, balance: 0 } }),
    money_deposited: (s, e) => adjust(s, e.stream, e.data.amount),
    money_withdrawn: (s, e) => adjust(s, e.stream, -e.data.amount),
  },
};

/** The money the bank holds: one number, a projection of its own. */
export const TOTAL = {
  initial: 0,
  on: {
    money_deposited: (total, e) => total + e.data.amount,
    money_withdrawn: (total, e) => total - e.data.amount,
  },
};

function adjust(state, account, by) {
  return { ...state, [account]: { ...state[account], balance: state[account].balance + by } };
}

export function openAccount(store, account, owner) {
  return store.transact({
    events: [{ stream: account, type: "account_opened", data: { owner } }],
    expect: { [account]: "no_stream" },
  });
}

export function deposit(store, account, amount) {
  return store.transact({
    events: [{ stream: account, type: "money_deposited", data: { amount } }],
    expect: { [account]: "stream_exists" },
  });
}

/**
 * Withdraws if `view` (what the projection showed: `{ state, position }`)
 * allows; refused if anything happened to the account after `view.position`.
 */
export async function withdraw(store, account, amount, view) {
  const balance = view.state[account]?.balance ?? 0;
  if (balance < amount) throw new Error(`Not enough money: ${account} has ${balance}.`);
  return store.transact({
    events: [{ stream: account, type: "money_withdrawn", data: { amount } }],
    constraints: [{ maxRevision: view.position, selector: { stream: account } }],
  });
}
