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
  const counts = c.counted(store);
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
  }
  return { version, html, made: counts.made, opened, revision: store.revision, errors };
}
