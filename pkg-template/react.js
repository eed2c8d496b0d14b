// hindcast/react: React hooks over a store, all on useSyncExternalStore.
//
// Every hook reads a snapshot that keeps its identity until what it shows
// changes (React re-renders only then, and concurrent renders never tear),
// and subscribes to the store in its subscribe callback, never while
// rendering: a render that React throws away leaves nothing open, and
// StrictMode's second mount finds what the first one left (a projection is
// closed a microtask after its last user leaves, so it survives the
// unmount/mount in between). On the server (getServerSnapshot) each hook
// gives the state of a store with no events, without reading the store.

import { useCallback, useEffect, useMemo, useReducer, useRef, useSyncExternalStore } from "react";

/**
 * @import { AnyEvent, EventShape, EventStore, ProjectionSpec, Projection, ReadOptions, Recorded, Selector, SyncRejection, SyncStatus } from "./index.js"
 * @import { ProjectionView } from "./react.js"
 */

/** @type {readonly never[]} */
const NONE = Object.freeze([]);
/** A syncing store's status before any answer, as the server renders it. */
const OFFLINE = Object.freeze({ state: "offline", confirmedRevision: 0, pendingBatches: 0, pendingEvents: 0, lastError: null });
const nothing = () => {};
const noSubscribe = () => nothing;

// --- the log: useRevision, useRead -----------------------------------------

/**
 * Calls `changed` after each commit a subscription to `selector` sees,
 * pending events of a syncing store included (and when a rebase moves them).
 * @param {EventStore<any>} store
 * @param {() => void} changed
 * @param {Selector} [selector]
 * @returns {() => void} unsubscribes
 */
function watch(store, changed, selector) {
  // A signal only: it never pauses before an event written by newer code
  // (subscription.js, SIGNAL; a registered symbol, named here without an import).
  /** @type {any} */
  const options = { selector, after: "end", pending: true, onRewind: () => changed(), [Symbol.for("hindcast.signal")]: true };
  const sub = store.subscribe(() => changed(), options);
  return () => sub.cancel();
}

/**
 * The head (`store.revision`), kept current.
 * @template {EventShape} E
 * @param {EventStore<E>} store
 * @returns {number}
 */
export function useRevision(store) {
  const subscribe = useCallback((/** @type {() => void} */ changed) => watch(store, changed), [store]);
  return useSyncExternalStore(subscribe, () => store.revision, () => 0);
}

/**
 * The events `store.read(selector, options)` returns, kept current: read
 * again only when a commit (or a syncing store's confirmation or rebase)
 * touches the selector; the same array until then.
 * @template {EventShape} E
 * @param {EventStore<E>} store
 * @param {Selector} [selector]
 * @param {ReadOptions} [options]
 * @returns {readonly Recorded<E>[]}
 */
export function useRead(store, selector, options) {
  // Selectors and options are JSON: an inline literal is the same read.
  const key = JSON.stringify([selector ?? null, options ?? null]);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` stands for selector and options
  const view = useMemo(() => readView(store, selector, options), [store, key]);
  return useSyncExternalStore(view.subscribe, view.get, serverRead);
}

/** @returns {readonly never[]} */
function serverRead() {
  return NONE;
}

/**
 * @template {EventShape} E
 * @param {EventStore<E>} store
 * @param {Selector | undefined} selector
 * @param {ReadOptions | undefined} options
 */
function readView(store, selector, options) {
  // Bumped by every notification; with the selector's last revision it says
  // whether the cached read still holds (commits made before subscribing
  // move the last revision).
  let version = 0;
  /** @type {{ version: number, last: number, events: readonly Recorded<E>[] } | null} */
  let cached = null;
  const get = () => {
    const last = store.lastRevision(selector);
    if (cached !== null && cached.version === version && cached.last === last) return cached.events;
    const events = store.read(selector, options);
    // The same events (a notification that changed nothing here): the same array.
    const same = cached !== null && sameItems(cached.events, events);
    cached = { version, last, events: same && cached !== null ? cached.events : Object.freeze(events) };
    return cached.events;
  };
  /** @param {() => void} changed */
  const subscribe = (changed) => {
    const bump = () => {
      version++;
      changed();
    };
    const stop = watch(store, bump, selector);
    // A pending batch joining the confirmed prefix keeps its revisions (no
    // delivery) but reads show it confirmed: the status says when.
    const off = store.sync?.onStatus(bump);
    return () => {
      stop();
      off?.();
    };
  };
  return { get, subscribe };
}

/**
 * @param {readonly unknown[]} a
 * @param {readonly unknown[]} b
 */
function sameItems(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --- projections: useProjection, useProjectionView --------------------------

/**
 * The projections open for components, by store, then by definition.
 * @type {WeakMap<EventStore<any>, WeakMap<object, Live<any>>>}
 */
const projections = new WeakMap();
/**
 * What a definition shows before its projection runs (and on the server).
 * @type {WeakMap<object, ProjectionView<any>>}
 */
const initialViews = new WeakMap();

/**
 * @template S
 * @param {ProjectionSpec<S, any>} definition
 * @returns {ProjectionView<S>}
 */
function initialView(definition) {
  let view = initialViews.get(definition);
  if (view === undefined) {
    view = Object.freeze({ state: definition.initial, position: 0 });
    initialViews.set(definition, view);
  }
  return view;
}

/**
 * One projection of a definition on a store, shared by the components that
 * show it, closed a microtask after the last of them stops listening.
 * @template S
 */
class Live {
  /** @type {Set<() => void>} */
  #listeners = new Set();
  /** @type {Projection<S>} */
  #projection;
  /** @type {() => void} */
  #off;
  #closed = false;
  /** @type {WeakMap<object, Live<any>>} */
  #byDefinition;
  /** @type {object} */
  #definition;
  /** @type {ProjectionView<S>} */
  view;

  /**
   * @param {EventStore<any>} store
   * @param {ProjectionSpec<S, any>} definition
   * @param {WeakMap<object, Live<any>>} byDefinition
   */
  constructor(store, definition, byDefinition) {
    this.#byDefinition = byDefinition;
    this.#definition = definition;
    const projection = store.project(definition);
    this.#projection = projection;
    const initial = initialView(definition);
    this.view =
      projection.state === initial.state && projection.position === 0 ? initial : Object.freeze({ state: projection.state, position: projection.position });
    this.#off = projection.onChange((state, position) => {
      if (state === this.view.state && position === this.view.position) return;
      this.view = Object.freeze({ state, position });
      for (const listener of this.#listeners) listener();
    });
  }

  /**
   * @param {() => void} listener
   * @returns {() => void}
   */
  listen(listener) {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) queueMicrotask(() => this.#closeIfUnused());
    };
  }

  #closeIfUnused() {
    if (this.#listeners.size !== 0 || this.#closed) return;
    this.#closed = true;
    this.#off();
    this.#projection.close();
    if (this.#byDefinition.get(this.#definition) === this) this.#byDefinition.delete(this.#definition);
  }
}

/**
 * The live projection of `definition` on `store`, made if there is none.
 * @template S
 * @param {EventStore<any>} store
 * @param {ProjectionSpec<S, any>} definition
 * @returns {Live<S>}
 */
function liveOf(store, definition) {
  let byDefinition = projections.get(store);
  if (byDefinition === undefined) {
    byDefinition = new WeakMap();
    projections.set(store, byDefinition);
  }
  let live = byDefinition.get(definition);
  if (live === undefined) {
    live = new Live(store, definition, byDefinition);
    byDefinition.set(definition, live);
  }
  return live;
}

/**
 * The state and position of `store.project(definition)`, kept current. One
 * projection per store and definition object is open while components show
 * it: keep the definition's identity stable (a module-level constant, or
 * `useMemo` when it depends on props); a new object every render makes a
 * new projection every render.
 * @template {EventShape} E
 * @template S
 * @param {EventStore<E>} store
 * @param {ProjectionSpec<S, E>} given the definition
 * @returns {ProjectionView<S>}
 */
export function useProjectionView(store, given) {
  const definition = stableDefinition(useRef({ given, used: given, renders: 0 }).current, given);
  const view = useMemo(
    () => ({
      subscribe: (/** @type {() => void} */ changed) => liveOf(store, definition).listen(changed),
      /** @returns {ProjectionView<S>} */
      get: () => projections.get(store)?.get(definition)?.view ?? initialView(definition),
      server: () => initialView(definition),
    }),
    [store, definition],
  );
  return useSyncExternalStore(view.subscribe, view.get, view.server);
}

/** Renders in a row, each with a new definition object, after which useProjection keeps the last. */
const UNSTABLE_RENDERS = 10;

/**
 * The definition to use this render. A new definition object every render
 * would make a new projection every render, each re-rendering once caught
 * up: a loop. After UNSTABLE_RENDERS such renders in a row, the component
 * keeps the last definition it used (until it is given one object twice in
 * a row) and says so, once.
 * @template {object} D
 * @param {{ given: D, used: D, renders: number }} seen what the component's earlier renders had
 * @param {D} definition
 * @returns {D}
 */
function stableDefinition(seen, definition) {
  if (definition === seen.given) {
    seen.renders = 0;
    seen.used = definition;
    return definition;
  }
  seen.given = definition;
  if (++seen.renders < UNSTABLE_RENDERS) {
    seen.used = definition;
    return definition;
  }
  if (seen.renders === UNSTABLE_RENDERS) {
    console.error(
      `hindcast/react: useProjection was given a new definition object ${UNSTABLE_RENDERS} renders in a row, and each made a new projection; ` +
        "it keeps the last one until given the same object twice. Define it at module scope, or in useMemo when it depends on props.",
    );
  }
  return seen.used;
}

/**
 * The state of `store.project(definition)`, kept current (see
 * useProjectionView for keeping the definition stable).
 * @template {EventShape} E
 * @template S
 * @param {EventStore<E>} store
 * @param {ProjectionSpec<S, E>} definition
 * @returns {S}
 */
export function useProjection(store, definition) {
  return useProjectionView(store, definition).state;
}

// --- sync: useSyncStatus, useRejected ---------------------------------------

/** @type {WeakMap<EventStore<any>, SyncStatus>} */
const statuses = new WeakMap();

/**
 * `store.sync.status`, the same object while no field changes.
 * @param {EventStore<any>} store
 * @returns {SyncStatus | undefined}
 */
function statusOf(store) {
  const now = store.sync?.status;
  if (now === undefined) return undefined;
  const last = statuses.get(store);
  if (
    last !== undefined &&
    last.state === now.state &&
    last.confirmedRevision === now.confirmedRevision &&
    last.pendingBatches === now.pendingBatches &&
    last.pendingEvents === now.pendingEvents &&
    last.lastError === now.lastError
  ) {
    return last;
  }
  statuses.set(store, now);
  return now;
}

/**
 * A syncing store's `sync.status`, kept current; undefined for a store that
 * does not sync. The server renders it offline.
 * @template {EventShape} E
 * @param {EventStore<E>} store
 * @returns {SyncStatus | undefined}
 */
export function useSyncStatus(store) {
  const subscribe = useCallback((/** @type {() => void} */ changed) => store.sync?.onStatus(changed) ?? nothing, [store]);
  return useSyncExternalStore(
    subscribe,
    () => statusOf(store),
    () => (store.sync === undefined ? undefined : OFFLINE),
  );
}

/** @type {WeakMap<EventStore<any>, readonly SyncRejection[]>} */
const rejections = new WeakMap();
/**
 * What to tell when a rejection is dismissed here (the store says nothing then).
 * @type {WeakMap<EventStore<any>, Set<() => void>>}
 */
const dismissWatchers = new WeakMap();

/**
 * `store.sync.rejected()`, the same array while its entries are the same.
 * @param {EventStore<any>} store
 * @returns {readonly SyncRejection[]}
 */
function rejectedOf(store) {
  const now = store.sync?.rejected();
  if (now === undefined) return NONE;
  const last = rejections.get(store);
  if (last !== undefined && sameItems(last, now)) return last;
  const frozen = Object.freeze(now);
  rejections.set(store, frozen);
  return frozen;
}

/**
 * A syncing store's rejected batches (`sync.rejected()`), kept current, and
 * `dismiss(batchId)`, which forgets one (in every tab) and resolves once that
 * is stored. A store that does not sync has none.
 * @template {EventShape} E
 * @param {EventStore<E>} store
 * @returns {{ rejected: readonly SyncRejection[], dismiss: (batchId: string) => Promise<void> }}
 */
export function useRejected(store) {
  const subscribe = useCallback(
    (/** @type {() => void} */ changed) => {
      const sync = store.sync;
      if (sync === undefined) return nothing;
      let watchers = dismissWatchers.get(store);
      if (watchers === undefined) dismissWatchers.set(store, (watchers = new Set()));
      const mine = watchers;
      mine.add(changed);
      const offRejected = sync.onRejected(changed);
      // Rejections also change the status (a pending batch leaves), which
      // reports those that another tab took in; another tab's dismissal
      // changes only the list (a registered symbol of sync.js, see
      // REJECTED_CHANGED there).
      const offStatus = sync.onStatus(changed);
      const offList = /** @type {any} */ (sync)[Symbol.for("hindcast.rejectedChanged")]?.(changed) ?? nothing;
      return () => {
        mine.delete(changed);
        offRejected();
        offStatus();
        offList();
      };
    },
    [store],
  );
  const rejected = useSyncExternalStore(subscribe, () => rejectedOf(store), serverRead);
  const dismiss = useCallback(
    (/** @type {string} */ batchId) => {
      const sync = store.sync;
      if (sync === undefined) return Promise.resolve();
      const done = sync.dismiss(batchId);
      for (const changed of dismissWatchers.get(store) ?? []) changed();
      return done;
    },
    [store],
  );
  return useMemo(() => ({ rejected, dismiss }), [rejected, dismiss]);
}

// --- opening a store: useStore ----------------------------------------------

/**
 * @typedef {{ key: string, status: "pending" | "open" | "failed", promise: Promise<unknown>,
 *   store: EventStore<any> | null, error: unknown, users: number, closed: boolean }} Opening
 */

/**
 * The stores useStore opened, by key, until their last user unmounts.
 * @type {Map<string, Opening>}
 */
const stores = new Map();
/** How long an opened store waits for the component that asked for it to mount, in ms. */
const UNCLAIMED_MS = 5000;

/**
 * @param {string} key
 * @param {() => Promise<EventStore<any>>} open
 * @returns {Opening}
 */
function opening(key, open) {
  /** @type {Opening} */
  const entry = { key, status: "pending", promise: Promise.resolve(), store: null, error: undefined, users: 0, closed: false };
  entry.promise = Promise.resolve()
    .then(open)
    .then(
      (store) => {
        entry.status = "open";
        entry.store = store;
        // Closed elsewhere (deleted, upgraded, closed by hand): the next user opens it anew.
        store.closed.then(() => forget(entry));
        // Its component may have gone while it opened: then nobody closes it.
        setTimeout(() => {
          if (entry.users === 0) release(entry);
        }, UNCLAIMED_MS);
      },
      (error) => {
        entry.status = "failed";
        entry.error = error;
      },
    );
  stores.set(key, entry);
  return entry;
}

/** @param {Opening} entry */
function forget(entry) {
  if (stores.get(entry.key) === entry) stores.delete(entry.key);
}

/** @param {Opening} entry */
function release(entry) {
  if (entry.users !== 0 || entry.closed) return;
  entry.closed = true;
  forget(entry);
  entry.store?.close().catch(nothing);
}

/**
 * @param {Opening} entry
 * @param {() => void} reopen re-renders the component, for an entry closed before it mounted
 * @returns {() => void}
 */
function claim(entry, reopen) {
  if (entry.closed) {
    reopen();
    return nothing;
  }
  entry.users++;
  return () => {
    entry.users--;
    if (entry.users === 0) queueMicrotask(() => release(entry));
  };
}

const onServer = () => true;
const inBrowser = () => false;

/**
 * The store `open()` resolves to, opened once per `key` for all the
 * components that use it and closed when the last of them unmounts. While
 * it opens the component suspends (wrap it in `<Suspense>`); if it fails, the
 * render throws the error (an error boundary shows it; resetting the
 * boundary opens again). On the server it throws: inside `<Suspense>` the
 * server sends the fallback and the browser renders the rest.
 * @template {EventShape} [E=AnyEvent]
 * @param {string} key
 * @param {() => Promise<EventStore<E>>} open
 * @returns {EventStore<E>}
 */
export function useStore(key, open) {
  const server = useSyncExternalStore(noSubscribe, inBrowser, onServer);
  const [, rerender] = useReducer((/** @type {number} */ n) => n + 1, 0);
  const entry = server ? null : (stores.get(key) ?? opening(key, open));
  useEffect(() => (entry === null || entry.status !== "open" ? nothing : claim(entry, rerender)), [entry]);
  if (entry === null) {
    throw new Error(`hindcast/react: useStore("${key}") opens its store in the browser only; render it inside <Suspense> so that the server sends the fallback`);
  }
  if (entry.status === "pending") throw entry.promise;
  if (entry.status === "failed") {
    // Kept for this render's retries; the next render after them opens again.
    setTimeout(() => forget(entry), 0);
    throw entry.error;
  }
  return /** @type {EventStore<E>} */ (entry.store);
}
