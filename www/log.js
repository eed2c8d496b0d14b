// Section 5: the event log as a live table, newest first, fed by one
// subscription from the beginning (history and live events alike, this tab's
// and other tabs').
import { byId, h } from "./ui.js";

/** Rows kept in the table; older events stay in the store, just not on screen. */
const SHOWN = 200;

/**
 * Follows `store` into the table; `tab` is this tab's name (to mark its own
 * writes); `changed()` is called after each run of new events. Returns the
 * subscription.
 */
export function followLog(store, tab, changed) {
  const tbody = byId("log");
  const more = byId("log-more");
  tbody.replaceChildren();
  let pending = [];

  // Events come one by one; the table is updated once per run of them.
  function flush() {
    const rows = pending.slice(-SHOWN).reverse().map((e) => row(e, tab));
    pending = [];
    tbody.prepend(...rows);
    while (tbody.rows.length > SHOWN) tbody.lastElementChild.remove();
    const hidden = store.revision - tbody.rows.length;
    more.textContent = hidden > 0 ? `${hidden} older events are not shown.` : "";
    changed();
  }

  return store.subscribe((e) => {
    if (pending.length === 0) queueMicrotask(flush);
    pending.push(e);
  });
}

function row(e, tab) {
  const by = e.metadata?.tab;
  return h(
    "tr",
    { dataset: { revision: e.revision } },
    h("td", { class: "num" }, String(e.revision)),
    h("td", {}, e.stream),
    h("td", { class: "num" }, String(e.version)),
    h("td", {}, h("code", {}, e.type)),
    h("td", { class: "data" }, h("code", {}, JSON.stringify(e.data))),
    h("td", { class: by === tab ? "mine" : "theirs" }, by === undefined ? "" : by === tab ? `this tab (${by})` : `tab ${by}`),
  );
}
