// The demo page: opens the store (IndexedDB, shared by every tab of this
// page), builds the balances projection and the log subscription, and wires
// the sections; the two syncing devices of section 4 have stores of their
// own (devices.js). `?db=name` picks the database (default "hindcast-demo").
import { EventStore, ConstraintViolationError, InvalidInputError, StorageError } from "hindcast";
import { BALANCES, Bank, explain } from "./bank.js";
import { setupAccounts } from "./accounts.js";
import { setupStale } from "./stale.js";
import { setupPlayground } from "./playground.js";
import { followLog } from "./log.js";
import { setupDevices } from "./devices.js";
import { byId, showResult, UserMistake } from "./ui.js";

const DB = new URL(location.href).searchParams.get("db") || "hindcast-demo";
const TAB = tabName();

/** The open store and what follows it: `{ store, balances, log, tab, persistent, loaded, ms }`. */
let session = null;
let bank = null;

/** What the sections need from the page. */
const app = {
  session: () => session,
  bank: () => bank,
  /** Runs a person's action, showing its outcome (or why it was refused) in `output`. */
  async act(output, action) {
    output.setAttribute("aria-busy", "true");
    try {
      const outcome = await action();
      if (outcome) showResult(output, outcome);
    } catch (e) {
      if (e instanceof UserMistake) showResult(output, { tone: "info", title: e.message });
      else if (e instanceof ConstraintViolationError) {
        showResult(output, {
          tone: "refused",
          title: "Refused: nothing was written.",
          lines: e.violations.map(explain),
          json: { label: "e.violations, as the ConstraintViolationError reports them:", value: e.violations },
        });
      } else if (e instanceof InvalidInputError) showResult(output, { tone: "info", title: `Not sent: ${e.message}` });
      else if (e instanceof StorageError && e.reason === "closed") {
        showResult(output, { tone: "info", title: "The store was closed (reset from another tab?); reopening it." });
      } else fault(e);
    } finally {
      output.removeAttribute("aria-busy");
    }
  },
};

const accounts = setupAccounts(app);
const stale = setupStale(app);
const renderPlayground = setupPlayground(app);

/** Redraws everything that depends on the store. */
function refresh() {
  if (session === null) return;
  accounts.render(session.balances.state);
  stale.render();
  renderPlayground();
  renderStatus();
}

function renderStatus() {
  const { store, persistent, loaded, ms } = session;
  const where = persistent
    ? `Stored in IndexedDB (database “${DB}”): loaded ${loaded} events in ${Math.round(ms)} ms.`
    : "In memory only: a reload forgets everything.";
  byId("status").textContent = `${where} Head: revision ${store.revision}. This is tab ${TAB}.`;
}

/** Opens the store with `open` and follows it. */
async function connect(open, persistent) {
  const progress = byId("progress");
  const started = performance.now();
  let loaded = 0;
  const store = await open(({ loaded: n, total }) => {
    loaded = n;
    progress.hidden = total === 0;
    progress.max = Math.max(total, 1);
    progress.value = n;
  });
  progress.hidden = true;
  const balances = store.project(BALANCES);
  session = { store, balances, persistent, loaded, ms: performance.now() - started, tab: TAB };
  bank = new Bank(session);
  accounts.restart();
  await balances.waitFor(store.revision);
  balances.onChange(refresh);
  balances.done.catch(fault);
  session.log = followLog(store, TAB, refresh);
  session.log.done.catch(fault);
  byId("demo").hidden = false;
  byId("reset").hidden = false;
  refresh();
}

/** Stops following the store and closes it. */
async function disconnect() {
  if (session === null) return;
  const { store, balances, log } = session;
  session = null;
  balances.close();
  log.cancel();
  stale.forget();
  await store.close();
}

// Tabs of this page tell each other about resets (the store tells them
// about events by itself).
const pageChannel = new BroadcastChannel(`hindcast-demo:${DB}`);
pageChannel.onmessage = async ({ data }) => {
  if (data !== "reset" || session === null || !session.persistent) return;
  await disconnect();
  await connect(openPersistent, true).catch(fault);
};

const openPersistent = (onProgress) => EventStore.open(DB, { onProgress });
const openMemory = () => EventStore.memory();

byId("reset").addEventListener("click", () =>
  app.act(byId("error"), async () => {
    const persistent = session?.persistent ?? true;
    await disconnect();
    if (persistent) {
      await EventStore.delete(DB);
      pageChannel.postMessage("reset");
    }
    await connect(persistent ? openPersistent : openMemory, persistent);
    byId("status").prepend("The log was deleted and started afresh. ");
  }),
);

byId("use-memory").addEventListener("click", () =>
  app.act(byId("error"), async () => {
    byId("unavailable").hidden = true;
    await connect(openMemory, false);
  }),
);

byId("second-tab").href = location.href;

/** Shows an unexpected failure; the page's own refusals never come here. */
function fault(e) {
  console.error(e);
  byId("error").textContent = `Something went wrong: ${e?.message ?? e}`;
}

/** A short name for this tab, kept across reloads of it (sessionStorage is per tab). */
function tabName() {
  const key = "hindcast-demo-tab";
  let name = sessionStorage.getItem(key);
  if (!name) {
    const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    name = Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => letters[b % letters.length]).join("");
    sessionStorage.setItem(key, name);
  }
  return name;
}

setupDevices({ act: app.act, fault }).catch(fault);

try {
  await connect(openPersistent, true);
} catch (e) {
  if (e instanceof StorageError && e.reason === "unavailable") {
    byId("status").textContent = "No IndexedDB: see below.";
    byId("unavailable-detail").textContent = `The store said: ${e.message}`;
    byId("unavailable").hidden = false;
  } else fault(e);
}
