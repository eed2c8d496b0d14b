// Section 2: two tellers, one account. Teller B looks at the balance (a
// frozen copy of the projection's state and position); teller A withdraws;
// B then withdraws on what B saw, written with `maxRevision: <B's position>`
// on the account's stream, and is refused because the account moved on.
import { ConstraintViolationError } from "hindcast";
import { byId, fillSelect, money, naturally, wholeNumber, UserMistake } from "./ui.js";

export function setupStale(app) {
  const form = byId("stale-form");
  const viewText = byId("stale-view");
  const result = byId("stale-result");
  /** B's view: `{ account, state, position }`, or null before B looks (or after B used it). */
  let view = null;

  const account = () => {
    const a = form.elements.account.value;
    if (!a) throw new UserMistake("Open an account first (section 1).");
    return a;
  };
  const amount = () => wholeNumber(form, "amount", "The amount", 1);

  function look() {
    const a = account();
    const { state, position } = app.bank().look();
    view = { account: a, state, position };
    render();
    return view;
  }

  /** Teller A: withdraws on the current projection (a fresh decision). */
  async function tellerA(a, n) {
    const { commit, short } = await app.bank().withdraw(a, n, undefined, { teller: "A" });
    if (commit === undefined) {
      throw new UserMistake(`Teller A cannot withdraw ${money(n)}: ${a} holds ${money(short)}. Deposit first.`);
    }
    return commit;
  }

  /** Teller B: withdraws on B's view; the outcome to show. */
  async function tellerB(n) {
    if (view === null) throw new UserMistake("Teller B has not looked at the balance yet.");
    const seenView = view;
    const { account: a, position } = seenView;
    const seen = seenView.state[a].balance;
    view = null; // B's view is used up: B looks again before the next try
    render();
    try {
      const { commit, short } = await app.bank().withdraw(a, n, seenView, { teller: "B" });
      if (commit === undefined) {
        return { tone: "info", title: `Teller B sees ${money(short)} in ${a} and does not try to withdraw ${money(n)}.` };
      }
      return {
        tone: "ok",
        title: `Teller B withdrew ${money(n)} from ${a}, at revision ${commit.revision}.`,
        lines: [`Nothing had happened to ${a} since revision ${position}, when B looked: B's view was current.`],
      };
    } catch (e) {
      if (!(e instanceof ConstraintViolationError)) throw e;
      const v = e.violations[0];
      const now = app.bank().look().state[a].balance;
      return {
        tone: "refused",
        title: `Refused: teller B's withdrawal of ${money(n)} from ${a} was not written.`,
        lines: [
          `B decided on ${a} as of revision ${position} (balance ${money(seen)}). ` +
            `Expected no newer event on ${a} than revision ${v.max}; found revision ${v.found}.`,
          `Without the check both withdrawals would stand, and ${a} would hold ${money(now - n)}` +
            (now - n < 0 ? ": overdrawn." : ".") +
            ` It holds ${money(now)}.`,
        ],
        json: { label: "e.violations, as the ConstraintViolationError reports them:", value: e.violations },
      };
    }
  }

  byId("stale-look").addEventListener("click", () =>
    app.act(result, async () => {
      const { account: a, position, state } = look();
      return { tone: "info", title: `Teller B sees ${money(state[a].balance)} in ${a}, as of revision ${position}.` };
    }),
  );
  byId("stale-other").addEventListener("click", () =>
    app.act(result, async () => {
      const a = account();
      const n = amount();
      const commit = await tellerA(a, n);
      return { tone: "ok", title: `Teller A withdrew ${money(n)} from ${a}, at revision ${commit.revision}.` };
    }),
  );
  byId("stale-withdraw").addEventListener("click", () => app.act(result, async () => tellerB(amount())));
  byId("stale-race").addEventListener("click", () =>
    app.act(result, async () => {
      const n = amount();
      const { account: a, state, position } = look();
      const commit = await tellerA(a, n);
      const outcome = await tellerB(n);
      const steps = [
        `1. Teller B saw ${money(state[a].balance)} in ${a}, as of revision ${position}.`,
        `2. Teller A withdrew ${money(n)} from ${a}, at revision ${commit.revision}.`,
        `3. Teller B, deciding on what B saw, tried to withdraw ${money(n)}.`,
      ];
      return { ...outcome, lines: [...steps, ...(outcome.lines ?? [])] };
    }),
  );

  /** Describes B's view against the account as it is now. */
  function render() {
    fillSelect(form.elements.account, Object.keys(app.bank().look().state).sort(naturally));
    if (view === null) {
      viewText.textContent = "Teller B has no view: press “B looks at the balance”.";
      viewText.dataset.state = "none";
      return;
    }
    const { account: a, state, position } = view;
    const now = app.bank().look().state[a];
    if (now === undefined) {
      view = null;
      return render();
    }
    const stale = now.revision > position;
    viewText.textContent =
      `Teller B saw ${money(state[a].balance)} in ${a}, as of revision ${position}. ` +
      (stale
        ? `Since then ${a} changed${whereFrom(a)} (revision ${now.revision}, balance ${money(now.balance)}): B's view is stale.`
        : `${a} has not changed since: B's view is current.`);
    viewText.dataset.state = stale ? "stale" : "current";
  }

  /** " in tab XYZ" when another tab wrote the account's last event. */
  function whereFrom(a) {
    const { store, tab } = app.session();
    const [last] = store.read({ stream: a }, { backwards: true, limit: 1 });
    const by = last?.metadata?.tab;
    return by && by !== tab ? ` in tab ${by}` : "";
  }

  return {
    render,
    /** Forgets B's view (the store was reset). */
    forget() {
      view = null;
      result.replaceChildren();
    },
  };
}
