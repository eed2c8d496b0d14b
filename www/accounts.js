// Section 1: open accounts, move money, and the balances from the live
// projection.
import { byId, fillSelect, h, money, naturally, wholeNumber, UserMistake } from "./ui.js";

/** Wires the section; `app` gives the current bank and runs actions. */
export function setupAccounts(app) {
  const openForm = byId("open-form");
  const moneyForm = byId("money-form");
  const result = byId("bank-result");

  openForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const account = openForm.elements.account.value.trim();
    const owner = openForm.elements.owner.value.trim();
    app.act(result, async () => {
      const commit = await app.bank().open(account, owner);
      moneyForm.elements.account.value = account;
      suggestNextAccount(openForm, app.bank().look().state);
      return { tone: "ok", title: `Opened ${account} for ${owner}, at revision ${commit.revision}.` };
    });
  });

  moneyForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const op = ev.submitter?.value ?? "deposit";
    const account = moneyForm.elements.account.value;
    app.act(result, async () => {
      if (!account) throw new UserMistake("Open an account first.");
      const amount = wholeNumber(moneyForm, "amount", "The amount", 1);
      const bank = app.bank();
      if (op === "deposit") {
        const commit = await bank.deposit(account, amount);
        return { tone: "ok", title: `Deposited ${money(amount)} into ${account}, at revision ${commit.revision}.` };
      }
      const view = bank.look();
      const { commit, short } = await bank.withdraw(account, amount, view);
      if (commit === undefined) {
        return { tone: "info", title: `Not withdrawn: ${account} holds ${money(short)}, less than ${money(amount)}.` };
      }
      return {
        tone: "ok",
        title: `Withdrew ${money(amount)} from ${account}, at revision ${commit.revision}.`,
        lines: [`Decided on the balance as of revision ${view.position}; nothing had changed since.`],
      };
    });
  });

  const tbody = byId("balances");
  const empty = byId("no-accounts");
  let suggested = false;
  function render(state) {
    const accounts = Object.keys(state).sort(naturally);
    tbody.replaceChildren(
      ...accounts.map((id) => {
        const a = state[id];
        return h(
          "tr",
          { dataset: { account: id } },
          h("th", { scope: "row" }, id),
          h("td", {}, a.owner),
          h("td", { class: "num", "data-testid": `balance-${id}` }, money(a.balance)),
          h("td", { class: "num" }, `revision ${a.revision}`),
        );
      }),
    );
    empty.hidden = accounts.length > 0;
    fillSelect(moneyForm.elements.account, accounts);
    // On first showing a loaded log, propose an account that does not exist yet.
    if (!suggested) suggestNextAccount(openForm, state);
    suggested = true;
  }

  return {
    render,
    /** A store was (re)opened: propose a free account again on its first showing. */
    restart() {
      suggested = false;
    },
  };
}

const OWNERS = ["Ann", "Ben", "Cleo", "Dev", "Eve", "Finn"];

/** Proposes the next free `acc-N`, and an owner, in the open form. */
function suggestNextAccount(form, state) {
  let n = 1;
  while (`acc-${n}` in state) n++;
  form.elements.account.value = `acc-${n}`;
  form.elements.owner.value = OWNERS[(n - 1) % OWNERS.length];
}
