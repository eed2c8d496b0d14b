// Server rendering: renderToString of every hook on a memory store that
// holds events, and useStore inside <Suspense>.
import { createElement as h, version } from "react";
import { renderToString } from "react-dom/server";
import { EventStore } from "hindcast";
import * as c from "./components.jsx";

export async function render() {
  const store = await EventStore.memory();
  await store.transact({
    events: [
      { stream: "acc-1", type: "account_opened", data: { owner: "Ann" } },
      { stream: "acc-1", type: "money_deposited", data: { amount: 100 } },
    ],
  });
  // A syncing store renders offline, whatever it knows (port 9 answers nothing).
  const synced = await EventStore.memory({ sync: { url: "http://127.0.0.1:9/v1/logs/ssr", token: "unused" } });
  const counts = c.counted(store);
  const syncedCounts = c.counted(synced);
  let opened = 0;
  const errors = [];
  const error = console.error;
  console.error = (...args) => errors.push(args.map(String).join(" "));
  let html;
  try {
    html = renderToString(
      h(
        "main",
        null,
        h(c.Balance, { store, account: "acc-1", name: "balance" }),
        h(c.Revision, { store, name: "revision" }),
        h(c.Events, { store, name: "events" }),
        h(c.Status, { store }),
        h(c.Rejections, { store }),
        h(c.Status, { store: synced, name: "synced" }),
        h(c.Rejections, { store: synced, name: "synced-rejected" }),
        h(c.Opening, {
          name: "bank",
          open: () => {
            opened++;
            return EventStore.open("bank");
          },
          account: "acc-1",
          id: "opened",
        }),
      ),
    );
  } finally {
    console.error = error;
    await synced.close();
  }
  return { version, html, made: counts.made, syncedMade: syncedCounts.made, opened, revision: store.revision, errors };
}
