// The bank of the Hindsight consistency tutorial: accounts are streams,
// balances a projection, and every decision is written together with the
// position it was made at.

/** The projection: `{ [account]: { owner, balance, revision } }`, revision = its last change. */
export const BALANCES = {
  initial: {},
  on: {
    account_opened: (s, e) => ({ ...s, [e.stream]: { owner: e.data.owner, balance: 0, revision: e.revision } }),
    money_deposited: (s, e) => adjust(s, e, +e.data.amount),
    money_withdrawn: (s, e) => adjust(s, e, -e.data.amount),
  },
};

function adjust(state, e, by) {
  const account = state[e.stream];
  return { ...state, [e.stream]: { ...account, balance: account.balance + by, revision: e.revision } };
}

/**
 * The bank's operations on a session `{ store, balances, tab }`. Every write
 * is tagged with the tab that made it (metadata) and resolves once the
 * projection shows it.
 */
export class Bank {
  constructor(session) {
    this.session = session;
  }

  async write(request) {
    const { store, balances, tab } = this.session;
    const events = request.events.map((e) => ({ ...e, metadata: { tab } }));
    const commit = await store.transact({ ...request, events });
    await balances.waitFor(commit.revision);
    return commit;
  }

  /** Opens an account; refused if the stream already exists. */
  open(account, owner) {
    return this.write({
      events: [{ stream: account, type: "account_opened", data: { owner } }],
      expect: { [account]: "no_stream" },
    });
  }

  /** Deposits; refused unless the account exists. */
  deposit(account, amount) {
    return this.write({
      events: [{ stream: account, type: "money_deposited", data: { amount } }],
      expect: { [account]: "stream_exists" },
    });
  }

  /** What the projection shows now: `{ state, position }`. */
  look() {
    const { balances } = this.session;
    return { state: balances.state, position: balances.position };
  }

  /**
   * Withdraws if the balance in `view` (default: what the projection shows
   * now) allows it, expecting that nothing happened to the account after
   * `view.position`. Resolves to `{ commit }`, or `{ short: balance }` when
   * the view says there is not enough money (nothing is sent then).
   */
  async withdraw(account, amount, view = this.look(), data = {}) {
    const seen = view.state[account];
    if (!seen) throw new Error(`There is no account ${account}.`);
    if (seen.balance < amount) return { short: seen.balance };
    const commit = await this.write({
      events: [{ stream: account, type: "money_withdrawn", data: { amount, ...data } }],
      constraints: [{ maxRevision: view.position, selector: { stream: account } }],
    });
    return { commit };
  }
}

const expectation = (x) =>
  x === "no_stream"
    ? "no stream yet"
    : x === "stream_exists"
      ? "an existing stream"
      : x === "any"
        ? "anything"
        : "revision" in x
          ? `its last event at revision ${x.revision}`
          : `its last event at version ${x.version}`;

/** One violation in plain words: what was expected, what was found. */
export function explain(v) {
  switch (v.kind) {
    case "version_mismatch":
      return `${v.stream}: expected ${expectation(v.expected)}; found ${
        v.actual ? `version ${v.actual.version}, at revision ${v.actual.revision}` : "no stream"
      }.`;
    case "max_revision_exceeded":
      return `Expected the newest matching event at revision ${v.max} at most; found revision ${v.found}.`;
    case "min_revision_not_met":
      return `Expected the newest matching event at revision ${v.expected} at least; found ${
        v.actual === 0 ? "none (revision 0)" : `revision ${v.actual}`
      }.`;
    case "range_not_satisfied":
      return `Expected the newest matching event between revisions ${v.start} and ${v.end}; found ${
        v.actual === 0 ? "none (revision 0)" : `revision ${v.actual}`
      }.`;
    case "duplicate_event_id":
      return `Event id ${v.id} is already stored, at revision ${v.revision}.`;
    default:
      return `${v.kind}: ${JSON.stringify(v)}`;
  }
}
