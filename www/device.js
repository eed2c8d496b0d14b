// One device of section 4: a syncing store and its card. The balance is an
// optimistic projection (pending events folded on the confirmed state), the
// confirmed balance a projection of confirmed events only; a withdrawal is
// decided on the balance shown and sent with `maxRevision` on the account,
// so the server refuses it if the shared log holds an event on the account
// that this device had not seen.
//
// A device runs version 1 or 2 of the app (SCHEMAS): version 2 gives
// money_deposited a memo. A version-1 device pauses its balance before the
// first deposit written by version 2 and asks to be updated.
import { ConstraintViolationError, InvalidInputError, StorageError } from "hindcast";
import { explain } from "./bank.js";
import { h, money, showResult, wholeNumber, UserMistake } from "./ui.js";

export const ACCOUNT = "account-1";

/** The event schemas of each version of the app (SPEC §9). */
export const SCHEMAS = {
  1: { money_deposited: { version: 1 } },
  2: {
    money_deposited: {
      version: 2,
      // Version 1 wrote { amount }; version 2 reads { amount, memo }.
      upcast: { 1: (data) => ({ amount: data.amount, memo: "(before memos)" }) },
    },
  },
};

/** The account's balance. */
const BALANCE = {
  initial: 0,
  selector: { stream: ACCOUNT },
  on: {
    money_deposited: (balance, e) => balance + e.data.amount,
    money_withdrawn: (balance, e) => balance - e.data.amount,
  },
};

/** Events of the account shown on the card. */
const SHOWN = 8;

/**
 * Follows `store` (a syncing store) in `card`: `name` ("A"), `key` ("a", its
 * proxy path), `where` (a sentence on where the store lives), `offline` (the
 * proxy's switch as the page loaded), `act` (runs an action, showing its
 * outcome), `fault` (shows a failure), `switched(offline)` (tells the other
 * tabs), `version` (of the app: 1 or 2) and `switchVersion(v)`, when the
 * device can run another version. Returns `{ store, balance, confirmed,
 * showOffline }`; `showOffline(offline)` sets the switch as another tab left it.
 */
export function followDevice(card, { name, key, where, store, offline, act, fault, switched, version, switchVersion }) {
  const $ = (role) => card.querySelector(`[data-role="${role}"]`);
  const balance = store.project(BALANCE);
  const confirmed = store.project({ ...BALANCE, pending: false });
  const result = $("result");
  const form = $("form");
  const toggle = $("offline");
  $("where").textContent = where;
  toggle.checked = offline;
  $("app-version").textContent = `version ${version}`;
  $("memo-field").hidden = version < 2;
  const other = version === 2 ? 1 : 2;
  const switcher = $("switch-version");
  switcher.textContent = other === 2 ? "Update to version 2" : "Run version 1";
  switcher.hidden = switchVersion === undefined;
  switcher.addEventListener("click", () => switchVersion?.(other));

  // Events written by a newer version of the app: the balance stops before them.
  store.schemas.onNewer((n) => {
    const update = h("button", { type: "button", class: "small" }, "Update to version 2");
    update.addEventListener("click", () => switchVersion?.(n.schemaVersion));
    update.hidden = switchVersion === undefined;
    $("update").replaceChildren(
      `Device ${name} runs version ${n.known} of the app, and the log holds ${n.type} written by version ${n.schemaVersion} (from revision ${n.firstRevision}). Its balance stops just before it. `,
      update,
    );
    $("update").hidden = false;
  });

  function render() {
    const status = store.sync.status;
    $("balance").textContent = money(balance.state);
    $("confirmed").textContent = `${money(confirmed.state)}, up to revision ${status.confirmedRevision}`;
    $("pending").textContent = String(status.pendingBatches);
    $("state").textContent = status.state;
    $("state").dataset.state = status.state;
    card.dataset.pending = String(status.pendingBatches);
    // Switching versions reloads the page: not while this device's writes are pending.
    switcher.disabled = status.pendingBatches > 0;
    switcher.title = switcher.disabled ? "Wait until this device's pending batches are confirmed." : "";
    const events = store.read({ stream: ACCOUNT }, { backwards: true, limit: SHOWN });
    $("events").replaceChildren(...events.map(row));
  }

  // The state and the log change with the projections and the sync status.
  for (const p of [balance, confirmed]) {
    p.onChange(render);
    p.done.catch(fault);
  }
  store.sync.onStatus(render);
  render();

  // Refusals by the server, kept until dismissed (after a reload too, for a persistent store).
  store.sync.onRejected((r) => {
    const dismiss = h("button", { type: "button", class: "small" }, "Dismiss");
    const item = h(
      "li",
      { dataset: { batch: r.batchId } },
      h("p", { class: "headline refused" }, `Refused by the server: ${describe(r.events)}.`),
      ...r.violations.map((v) => h("p", {}, explain(v))),
      h("p", { class: "hint" }, "Reported by store.sync.onRejected, kept until dismissed. ", dismiss),
    );
    // Gone once stored as dismissed (for a persistent store, in IndexedDB).
    dismiss.addEventListener("click", () => {
      dismiss.disabled = true;
      store.sync.dismiss(r.batchId).then(() => item.remove(), unlessClosed);
    });
    $("rejections").append(item);
  });

  /** Writes a batch of this device; resolves once the balance shows it. */
  async function write(request) {
    const commit = await store.transact(request);
    await balance.waitFor(commit.revision);
    return commit;
  }

  /**
   * Shows a commit of this device in `result`: pending, then what the server
   * decided (while it is still the outcome shown: another action replaces it).
   */
  function follow(commit, did) {
    result.dataset.batch = commit.batchId;
    const show = (outcome) => {
      if (result.dataset.batch === commit.batchId) showResult(result, outcome);
    };
    show(
      commit.pending
        ? { tone: "info", title: `${did}: pending on device ${name} (revision ${commit.revision} here) until the server confirms it.` }
        : { tone: "ok", title: `${did}: confirmed at revision ${commit.revision} of the shared log.` },
    );
    commit.confirmed.then(
      (c) => show({ tone: "ok", title: `${did}: confirmed at revision ${c.revision} of the shared log.` }),
      (e) => {
        if (e instanceof InvalidInputError) {
          return show({ tone: "refused", title: `${did}: refused by the server as malformed.`, lines: [e.message] });
        }
        if (!(e instanceof ConstraintViolationError)) return unlessClosed(e);
        show({
          tone: "refused",
          title: `${did}: refused by the server, nothing of it stands.`,
          lines: e.violations.map(explain),
          json: { label: `commit.confirmed rejected with a ConstraintViolationError; e.batchId ${e.batchId}, e.violations:`, value: e.violations },
        });
      },
    );
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const op = ev.submitter?.value ?? "deposit";
    delete result.dataset.batch;
    act(result, async () => {
      const amount = wholeNumber(form, "amount", "The amount", 1);
      // Version 2's deposits carry a memo.
      const data = op === "deposit" && version >= 2 ? { amount, memo: form.elements.namedItem("memo").value.trim() } : { amount };
      const events = [{ stream: ACCOUNT, type: op === "deposit" ? "money_deposited" : "money_withdrawn", data, metadata: { device: name } }];
      if (op === "deposit") return follow(await write({ events }), `Deposited ${money(amount)}`);
      // Decide on the balance as this device has it (pending writes included) …
      await balance.waitFor(store.revision);
      const { state: seen, position } = balance;
      if (seen < amount) throw new UserMistake(`Not withdrawn: device ${name} shows ${money(seen)}, less than ${money(amount)}.`);
      // … and send what it was decided on: nothing newer on the account than `position`.
      const commit = await write({ events, constraints: [{ maxRevision: position, selector: { stream: ACCOUNT } }] });
      follow(commit, `Withdrew ${money(amount)} (decided on ${money(seen)} as of revision ${position})`);
    });
  });

  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      const answer = await fetch(`/sync/${key}/${toggle.checked ? "offline" : "online"}`, { method: "POST" });
      if (!answer.ok) throw new Error(`the demo server answered ${answer.status}`);
      toggle.checked = (await answer.json()).offline;
      switched(toggle.checked);
      // Back online: try the server now rather than after the backoff.
      if (!toggle.checked) store.sync.flush().catch(unlessClosed);
    } catch (e) {
      fault(e);
    } finally {
      toggle.disabled = false;
    }
  });

  function unlessClosed(e) {
    if (!(e instanceof StorageError && e.reason === "closed")) fault(e);
  }

  return {
    store,
    balance,
    confirmed,
    showOffline(offline) {
      if (!toggle.disabled) toggle.checked = offline;
    },
  };
}

/** A table row for one event of the account; pending ones marked as such. */
function row(e) {
  const sign = e.type === "money_withdrawn" ? -1 : 1;
  return h(
    "tr",
    { class: e.pending ? "pending" : "confirmed", dataset: { revision: e.revision } },
    h("td", { class: "num" }, String(e.revision)),
    h("td", {}, h("code", {}, e.type)),
    h("td", { class: "num" }, money(sign * e.data.amount)),
    h("td", {}, e.metadata?.device ?? ""),
    h("td", {}, e.pending ? h("span", { class: "badge" }, "pending") : "confirmed"),
    h("td", {}, typeof e.data.memo === "string" ? e.data.memo : ""),
  );
}

/** The events of a refused batch in words: "a withdrawal of 60". */
function describe(events) {
  return events
    .map((e) => `${e.type === "money_withdrawn" ? "a withdrawal" : "a deposit"} of ${money(e.data.amount)}${e.metadata?.device ? ` on device ${e.metadata.device}` : ""}`)
    .join(", ");
}
