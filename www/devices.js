// Section 4: two devices syncing one log through the demo's hindcast-server.
// Device A is this tab's IndexedDB store (shared by the page's tabs, its
// pending batches kept across reloads); device B a memory store in this
// page. Each reaches the server through the demo server's proxy,
// /sync/<a|b>/, which can take it offline. `?log=name` picks the log
// (default "bank"). Device A runs version 2 of the app; device B version 2,
// or version 1 with `?b=1` (the switch on its card reloads the page).
import { EventStore, StorageError } from "hindcast";
import { SCHEMAS, followDevice } from "./device.js";
import { byId } from "./ui.js";

const LOG = new URL(location.href).searchParams.get("log") || "bank";
/** The version of the app device B runs. */
const B_VERSION = new URL(location.href).searchParams.get("b") === "1" ? 1 : 2;
/** Device A's database: one per log, so that its confirmed prefix is that log's. */
const DB = LOG === "bank" ? "hindcast-demo-sync" : `hindcast-demo-sync-${LOG}`;

const syncUrl = (key) => `${location.origin}/sync/${key}/v1/logs/${encodeURIComponent(LOG)}`;

/** Device A: an IndexedDB store that syncs; in memory where the browser offers no IndexedDB. */
async function openA() {
  const sync = { url: syncUrl("a") };
  const schemas = SCHEMAS[2];
  try {
    const store = await EventStore.open(DB, { sync, schemas });
    return { store, where: `This tab's IndexedDB store “${DB}”: every tab of this page shares it, and its pending batches survive a reload.` };
  } catch (e) {
    if (!(e instanceof StorageError && e.reason === "unavailable")) throw e;
    const store = await EventStore.memory({ sync, schemas });
    return { store, where: "This browser offers no IndexedDB here, so device A is a memory store in this page: a reload forgets its pending batches." };
  }
}

/** Device B: a memory store of this page (each tab has its own). */
async function openB() {
  const store = await EventStore.memory({ sync: { url: syncUrl("b") }, schemas: SCHEMAS[B_VERSION] });
  return { store, where: "A memory store in this page: each tab has its own device B, and a reload forgets its pending batches." };
}

/** The proxy's view of a device: `{ offline, server }`. */
async function link(key) {
  const answer = await fetch(`/sync/${key}`);
  if (!answer.ok) throw new Error(`the demo server answered ${answer.status} for /sync/${key}`);
  return answer.json();
}

/** Opens both devices and wires their cards; `act` and `fault` as app.js has them. */
export async function setupDevices({ act, fault }) {
  const links = { a: await link("a"), b: await link("b") };
  if (!links.a.server) {
    byId("devices-none").hidden = false;
    return null;
  }
  const devices = {};
  // The proxy's switches are the page's, not the tab's: a tab that flips one tells the others.
  const channel = new BroadcastChannel(`hindcast-demo-devices:${LOG}`);
  channel.onmessage = ({ data: { key, offline } }) => devices[key]?.showOffline(offline);
  for (const [key, open] of [
    ["a", openA],
    ["b", openB],
  ]) {
    const name = key.toUpperCase();
    const card = byId(`device-${key}`);
    card.append(byId("device-template").content.cloneNode(true));
    for (const el of card.querySelectorAll("[data-id]")) el.id = `device-${key}-${el.dataset.id}`;
    for (const el of card.querySelectorAll("label[data-for]")) el.htmlFor = `device-${key}-${el.dataset.for}`;
    byId(`device-${key}-title`).textContent = `Device ${name}`;
    const { store, where } = await open();
    const switched = (offline) => channel.postMessage({ key, offline });
    const version = key === "b" ? B_VERSION : 2;
    // Device B runs either version: the page reloads with the other (B is a memory store).
    const switchVersion =
      key === "b"
        ? (/** @type {number} */ v) => {
            const url = new URL(location.href);
            url.searchParams.set("b", String(v));
            location.assign(url);
          }
        : undefined;
    devices[key] = followDevice(card, { name, key, where, store, offline: links[key].offline, act, fault, switched, version, switchVersion });
  }
  byId("devices").hidden = false;
  return devices;
}
