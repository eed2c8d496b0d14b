// The browser harness: the tests drive it through `window.t` (page.evaluate).
import { createElement as h, StrictMode, version } from "react";
import { createRoot } from "react-dom/client";
import { flushSync } from "react-dom";
import { EventStore } from "hindcast";
import * as c from "./components.jsx";

const roots = [];

window.t = {
  version,
  h,
  c,
  EventStore,
  renders: c.renders,
  /** A memory store (syncing with `sync` if given), counted. */
  async memory(sync) {
    const store = await EventStore.memory(sync === undefined ? undefined : { sync });
    return { store, counts: c.counted(store) };
  },
  /** Renders `elements` into a new root, in StrictMode if `strict`; synchronously. */
  mount(elements, strict = false) {
    const div = document.createElement("div");
    document.body.append(div);
    const root = createRoot(div);
    flushSync(() => root.render(strict ? h(StrictMode, null, ...elements) : h("div", null, ...elements)));
    roots.push(root);
    return roots.length - 1;
  },
  unmount(index) {
    roots[index].unmount();
  },
  text(id) {
    return document.getElementById(id)?.textContent;
  },
};
window.ready = true;
