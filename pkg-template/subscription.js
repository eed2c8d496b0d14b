// Subscriptions and projections.
//
// A subscription is a cursor over the log: it asks the engine for the
// revisions it is to receive after its position (the engine indexes its
// selector), hands each stored event to the handler, and advances. Catch-up
// and live delivery are the same loop, so the seam between them can neither
// skip nor repeat an event, and only committed events are in the log. When
// it has nothing left it sleeps until a commit the engine says concerns it
// (dispatch by stream, type, subject, tag).
//
// User code (handlers, listeners) runs only in this loop, which starts in a
// microtask and resumes after awaits: never inside the caller's transact or
// subscribe, and never while the engine is busy.

import { HandlerError, HindcastError, invalid } from "./errors.js";
import { joinPath, isObject } from "./json.js";
import { SchemaError } from "./schemas.js";

/**
 * @import { RecordedEvent } from "./index.js"
 * @import { StoreCore as Core } from "./hindcast.js"
 */

/**
 * An option of this package's own subscriptions (not of the API): with
 * `[SIGNAL]: true` a subscription is only a signal that commits happened
 * (hindcast/react's), so it never pauses before an event written by newer
 * code (SPEC §9): it delivers nothing that is read as data. A registered
 * symbol, so that react.js names it without importing the store's modules.
 */
export const SIGNAL = Symbol.for("hindcast.signal");

/** Revisions fetched per engine call while catching up. */
const CHUNK = 4096;


/**
 * Why a subscription stopped, for its pending waitFor calls.
 * @param {number} position
 * @param {number} target
 */
function stoppedError(position, target) {
  return new HindcastError(
    `The subscription stopped at revision ${position} before reaching ${target}; subscribe again to go on.`,
    "STOPPED",
  );
}

export class Subscription {
  #core;
  #id;
  #handle;
  #afterChunk;
  /** Whether it sees a syncing store's pending events too. */
  #pending = false;
  /** @type {((revision: number) => unknown) | undefined} */
  #onRewind;
  /**
   * Where a rebase sent it back to, until the loop has gone there.
   * @type {number | null}
   */
  #rewindTo = null;
  /** The last revision delivered or passed over. */
  #position;
  #stopped = false;
  /**
   * Stopped just before an event written by newer code (SPEC §9, "pause"):
   * it sleeps until a rebase takes that event back or it is cancelled.
   */
  #paused = false;
  /** @type {(() => void) | undefined} told once, when it pauses */
  #onPause;
  /** @type {Promise<number> | undefined} see the constructor */
  #gate;
  /** Only a signal of commits (see SIGNAL): never paused. */
  #signal = false;
  /**
   * Resolves the loop's sleep; null while it is not asleep.
   * @type {((value?: unknown) => void) | null}
   */
  #wake = null;
  /** True between a wake-up and the loop resuming. */
  #woken = false;
  /** @type {{ revision: number, resolve: () => void, reject: (error: unknown) => void }[]} */
  #waiters = [];
  /**
   * The HandlerError or SchemaError the subscription stopped with, if it failed.
   * @type {HandlerError | SchemaError | null}
   */
  #failure = null;
  /** The lowest revision a waiter waits for (Infinity: none). */
  #nextWait = Infinity;
  /** @type {{ resolve: () => void, reject: (error: unknown) => void }} */
  #settle;
  /**
   * Resolves when the subscription stops; rejects with a HandlerError.
   * @type {Promise<void>}
   */
  done;

  /**
   * Internal: use `store.subscribe`. A projection passes `afterChunk` (run
   * after each delivered run of events) and its own `selector`.
   * @param {Core} core
   * @param {unknown} handler as given
   * @param {unknown} options as given
   * @param {() => void} [afterChunk]
   * @param {{ selector: unknown, onPause: () => void, gate?: Promise<number> }} [projection]
   *   `gate`: delivery starts once it resolves, after the revision it gives
   *   (a projection's snapshot), with `afterChunk` called first if that is above 0
   */
  constructor(core, handler, options, afterChunk, projection) {
    const { handle, types } = handlerOf(handler);
    const { selector, after, pending, onRewind } = optionsOf(options);
    this.#core = core;
    this.#handle = handle;
    this.#afterChunk = afterChunk;
    this.#pending = pending && core.sync !== null;
    this.#onRewind = onRewind;
    this.#onPause = projection?.onPause;
    this.#signal = /** @type {any} */ (options)?.[SIGNAL] === true;
    this.#gate = projection?.gate;
    this.#position = after === "end" ? this.#head() : after;
    this.#id = core.register(projection ? projection.selector : selector, types, this, !projection);
    this.done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // `done` reports a handler's failure; nobody is obliged to listen.
    this.done.catch(() => {});
    queueMicrotask(() => this.#run());
  }

  /**
   * The last revision examined: delivered, or passed over as not matching.
   * It never decreases, and stays as it is once stopped.
   */
  get position() {
    // Asleep and not woken: nothing up to the head concerns it (unless paused before an event).
    if (!this.#stopped && !this.#paused && this.#wake !== null && !this.#woken) return Math.max(this.#position, this.#head());
    return this.#position;
  }

  /**
   * Resolves once `position` ≥ `revision`.
   * @param {number} revision
   * @returns {Promise<void>}
   */
  waitFor(revision) {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      return Promise.reject(invalid("revision", "expected a non-negative integer revision"));
    }
    if (this.position >= revision) return Promise.resolve();
    if (this.#stopped) return Promise.reject(this.#failure ?? stoppedError(this.#position, revision));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ revision, resolve, reject });
      if (revision < this.#nextWait) this.#nextWait = revision;
      this.#core.waiting.add(this);
    });
  }

  /**
   * What this subscription sees: the local head with `pending: true` on a
   * syncing store, else the confirmed prefix's (the head, without sync).
   */
  #head() {
    return this.#pending ? this.#core.events.length : this.#core.visibleHead();
  }

  /**
   * Internal: on a syncing store, the events after `revision` no longer
   * stand (a rebase): a pending subscription that went past it goes back
   * to it and calls `onRewind(revision)` before going on.
   * @param {number} revision
   */
  rewind(revision) {
    if (!this.#pending || this.#stopped || this.position <= revision) {
      // Paused before a pending event that no longer stands: look again.
      if (this.#paused && !this.#stopped) this.#unpause();
      return;
    }
    this.#paused = false;
    this.#rewindTo = this.#rewindTo === null ? revision : Math.min(this.#rewindTo, revision);
    if (this.#wake !== null && !this.#woken) {
      this.#woken = true;
      this.#wake();
    }
  }

  /**
   * Internal: the revisions after `after` that this subscription's
   * selector and types match, pending ones of a syncing store included.
   * @param {number} after
   * @returns {Uint32Array | number[]}
   */
  matchingAfter(after) {
    return this.#stopped ? [] : this.#core.engine.deliverable(this.#id, after + 1, 0xffffffff);
  }

  /** Stops the subscription: no event is delivered after this returns. */
  cancel() {
    this.#stop(null);
  }

  /**
   * Internal: a commit concerns this subscription; `before`, the revision
   * before its first event, was the head while it slept: examined.
   * @param {number} before
   */
  wake(before) {
    if (this.#wake === null || this.#woken || this.#paused) return;
    if (before > this.#position) this.#position = before;
    this.#woken = true;
    this.#wake();
  }

  /** Internal: resolves the waiters the position has reached. */
  progress() {
    const position = this.position;
    if (position < this.#nextWait) return;
    const waiters = this.#waiters;
    let kept = 0;
    let next = Infinity;
    for (const w of waiters) {
      if (w.revision <= position) {
        w.resolve();
      } else {
        waiters[kept++] = w;
        if (w.revision < next) next = w.revision;
      }
    }
    waiters.length = kept;
    this.#nextWait = next;
    if (kept === 0) this.#core.waiting.delete(this);
  }

  /** Wakes a paused loop to look at what follows its position again. */
  #unpause() {
    this.#paused = false;
    if (this.#wake !== null && !this.#woken) {
      this.#woken = true;
      this.#wake();
    }
  }

  /** Whether it is paused before an event written by newer code. */
  get paused() {
    return this.#paused;
  }

  async #run() {
    const core = this.#core;
    const events = core.events;
    const handle = this.#handle;
    const schemas = core.schemas;
    let event;
    /** Whether the failure at hand is an upcast's, not a handler's. */
    let upcasting = false;
    /** Whether a handler ran in the current run of events. */
    let ran = false;
    if (this.#gate !== undefined) {
      const from = await this.#gate.catch(() => 0); // no snapshot: from the start
      this.#gate = undefined;
      if (this.#stopped) return;
      if (from > this.#position) {
        this.#position = from;
        this.#afterChunk?.();
        this.progress();
      }
    }
    try {
      while (!this.#stopped) {
        if (this.#rewindTo !== null) {
          const to = this.#rewindTo;
          this.#rewindTo = null;
          this.#position = to;
          /** @type {any} */
          const out = this.#onRewind?.(to);
          if (out !== undefined && out !== null && typeof out.then === "function") await out;
          continue;
        }
        // What subscriptions see: a syncing store's confirmed prefix only,
        // unless they asked for pending events too.
        const head = this.#head();
        const revs = this.#position < head ? core.engine.deliverable(this.#id, this.#position + 1, CHUNK) : null;
        if (revs !== null) {
          // Past `head`: a syncing store's pending events, not delivered.
          let n = revs.length;
          while (n > 0 && revs[n - 1] > head) n--;
          for (let i = 0; i < n; i++) {
            if (this.#stopped) return;
            event = events[revs[i] - 1];
            if (schemas.active) {
              // Written by newer code: stop just before it (SPEC §9).
              if (schemas.pause && !this.#signal && schemas.isNewer(event)) {
                this.#paused = true;
                break;
              }
              upcasting = true;
              event = schemas.view(event);
              upcasting = false;
            }
            ran = true;
            let out = handle(event);
            if (out !== undefined && out !== null && typeof out.then === "function") out = await out;
            if (this.#stopped) return;
            if (this.#rewindTo !== null) break; // what comes next may no longer stand
            this.#position = event.revision;
            if (out === "stop") {
              this.#afterChunk?.();
              this.#stop(null);
              return;
            }
            if (event.revision >= this.#nextWait) this.progress();
          }
          event = undefined;
          if (this.#rewindTo !== null) continue;
          if (this.#paused) {
            if (ran) this.#afterChunk?.();
            ran = false;
            this.progress();
            this.#onPause?.();
            this.#onPause = undefined;
            await new Promise((resolve) => {
              this.#wake = resolve;
            });
            this.#wake = null;
            this.#woken = false;
            continue;
          }
          // A short (or cut) answer means nothing else matched up to `head`.
          if ((revs.length < CHUNK || n < revs.length) && this.#position < head) this.#position = head;
          if (n !== 0) this.#afterChunk?.();
          ran = false;
          this.progress();
          continue;
        }
        await new Promise((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        this.#woken = false;
      }
    } catch (cause) {
      // What the handlers before it did (a projection's state) is reported.
      if (ran && !this.#stopped) this.#afterChunk?.();
      if (upcasting && cause instanceof SchemaError) {
        this.#stop(cause);
        return;
      }
      this.#stop(
        new HandlerError(
          `A subscription handler failed on the event at revision ${event?.revision} (${event?.type}): ${
            cause instanceof Error ? cause.message : String(cause)
          }. The subscription has stopped; others carry on.`,
          cause,
          /** @type {RecordedEvent} the one the failing handler was given */ (event),
        ),
      );
    }
  }

  /** @param {HandlerError | SchemaError | null} error */
  #stop(error) {
    if (this.#stopped) return;
    this.#position = this.position; // what it showed last stays
    this.#stopped = true;
    this.#failure = error;
    this.#core.unregister(this.#id, this);
    this.progress();
    for (const w of this.#waiters) w.reject(error ?? stoppedError(this.#position, w.revision));
    this.#waiters.length = 0;
    this.#nextWait = Infinity;
    this.#core.waiting.delete(this);
    if (error) this.#settle.reject(error);
    else this.#settle.resolve();
    this.#wake?.(); // lets a sleeping loop end, releasing what it holds
  }
}

/**
 * The handler, or a dispatcher over matchers by type and their types.
 * @param {any} handler as given
 * @returns {{ handle: (event: RecordedEvent) => any, types: string[] | undefined }}
 */
function handlerOf(handler) {
  if (typeof handler === "function") return { handle: handler, types: undefined };
  if (!isObject(handler)) {
    throw invalid("handler", "expected a function, or an object of functions by event type such as { account_opened: (e) => … }");
  }
  const types = Object.keys(handler);
  if (types.length === 0) throw invalid("handler", "give at least one event type to handle");
  /** @type {Map<string, (event: RecordedEvent) => unknown>} */
  const byType = new Map();
  for (const type of types) {
    if (type === "") throw invalid(joinPath(["handler", type]), "an event type must be a non-empty string");
    if (typeof handler[type] !== "function") throw invalid(joinPath(["handler", type]), "expected a function");
    byType.set(type, handler[type]);
  }
  // The engine delivers only events of the listed types.
  return { handle: (e) => /** @type {(event: RecordedEvent) => unknown} */ (byType.get(e.type))(e), types };
}

/**
 * @param {any} options as given
 * @returns {{ selector: unknown, after: number | "end", pending: boolean,
 *   onRewind: ((revision: number) => unknown) | undefined }}
 */
function optionsOf(options) {
  if (options === undefined) return { selector: undefined, after: 0, pending: false, onRewind: undefined };
  if (!isObject(options)) throw invalid("options", "expected { selector?, after?, pending?, onRewind? }");
  for (const k of Object.keys(options)) {
    if (k !== "selector" && k !== "after" && k !== "pending" && k !== "onRewind") {
      throw invalid(`options.${k}`, "unknown option; expected selector, after, pending or onRewind");
    }
  }
  const { selector, after = 0, pending = false, onRewind } = options;
  if (after !== "end" && !(Number.isSafeInteger(after) && after >= 0)) {
    throw invalid("options.after", 'expected a revision (a non-negative integer) or "end"');
  }
  if (typeof pending !== "boolean") throw invalid("options.pending", "expected true or false");
  if (onRewind !== undefined && typeof onRewind !== "function") {
    throw invalid("options.onRewind", "expected a function (revision) => void | Promise<void>");
  }
  if (onRewind !== undefined && !pending) {
    throw invalid("options.onRewind", "only a subscription with pending: true is ever rewound");
  }
  return { selector, after, pending, onRewind };
}

/**
 * A live read model: the state of the events folded by `on`, kept current.
 * @template S the state
 */
export class Projection {
  /**
   * Resolves when the projection is closed; rejects with a HandlerError if
   * a fold threw, or a SchemaError if an upcast step failed.
   * @type {Promise<void>}
   */
  done;
  /**
   * Resolves once the state reflects the log as of the `project` call (or
   * the projection paused before an event written by newer code); rejects
   * if it failed or closed before.
   * @type {Promise<void>}
   */
  ready;
  /** @type {Subscription} */
  #sub;
  /** @type {S} */
  #state;
  /** @type {Set<(state: S, position: number) => void>} */
  #listeners = new Set();
  #closed = false;
  /** @type {Core} */
  #core;
  /**
   * The folds by type.
   * @type {Record<string, (state: S, event: RecordedEvent) => S | undefined>}
   */
  #folds = Object.create(null);
  /**
   * Optimistic (a syncing store's projection, unless `pending: false`): the
   * pending events folded on a structured clone of the confirmed state, and
   * the local revision that fold reached; null while none is current (then
   * state and position are the confirmed ones, which still stand).
   * @type {{ state: S, position: number } | null}
   */
  #optimistic = null;
  #optimisticMode = false;
  #refoldDue = false;
  /** @type {{ revision: number, resolve: () => void }[]} */
  #pendingWaiters = [];
  /** Called when the folds pause before an event written by newer code: `ready` resolves. */
  #paused = () => {};
  /**
   * Its snapshot (SPEC §5), on a persistent store: `key`, `every`, the
   * versions of the types it folds, and the events folded since the last
   * one kept. Null without one.
   * @type {{ key: string, every: number, types: Record<string, number>, unsaved: number } | null}
   */
  #snapshot = null;

  /**
   * Internal: use `store.project`.
   * @param {Core} core
   * @param {any} spec as given
   */
  constructor(core, spec) {
    if (!isObject(spec)) throw invalid("", "project expects { initial, on: { type: (state, event) => state }, selector? }");
    for (const k of Object.keys(spec)) {
      if (k !== "initial" && k !== "on" && k !== "selector" && k !== "pending" && k !== "snapshot") {
        throw invalid(k, "unknown key; expected initial, on, selector, pending, snapshot");
      }
    }
    const snapshot = snapshotOf(spec.snapshot);
    const { on, selector, pending } = spec;
    if (pending !== undefined && typeof pending !== "boolean") throw invalid("pending", "expected true or false");
    this.#core = core;
    this.#optimisticMode = core.sync !== null && pending !== false;
    if (!isObject(on)) throw invalid("on", "expected an object of functions by event type: { account_opened: (state, e) => … }");
    this.#state = spec.initial;
    // No prototype: a fold for the type "__proto__" is an own key like any other.
    const handlers = Object.create(null);
    for (const type of Object.keys(on)) {
      const fold = on[type];
      if (type === "") throw invalid(joinPath(["on", type]), "an event type must be a non-empty string");
      if (typeof fold !== "function") throw invalid(joinPath(["on", type]), "expected a function (state, event) => state");
      this.#folds[type] = fold;
      handlers[type] = (/** @type {RecordedEvent} */ e) => {
        const next = fold(this.#state, e);
        if (next !== undefined) this.#state = next;
        if (this.#snapshot !== null) this.#snapshot.unsaved++;
      };
    }
    if (Object.keys(handlers).length === 0) throw invalid("on", "give at least one event type to fold");
    /** @type {Promise<number> | undefined} */
    let gate;
    const keeper = core.snapshots;
    // A memory store keeps no snapshot: `snapshot` is checked, then ignored.
    if (snapshot !== undefined && keeper !== null) {
      try {
        structuredClone(spec.initial);
      } catch (e) {
        throw invalid("initial", `a projection with a snapshot keeps its state in IndexedDB, so it must be structured-cloneable (${/** @type {Error} */ (e).message})`);
      }
      /** @type {Record<string, number>} */
      const types = {};
      for (const type of Object.keys(handlers)) types[type] = core.schemas.declaredVersion(type);
      const snap = (this.#snapshot = { key: snapshot.key, every: snapshot.every, types, unsaved: 0 });
      // Start from the snapshot kept, if it still holds: the same key, the
      // same schema versions of the folded types, not past the head.
      gate = keeper.loadSnapshot(snap.key).then((kept) => {
        if (this.#closed || !usable(kept, snap, core.visibleHead())) return 0;
        this.#state = kept.state;
        return kept.position;
      });
      keeper.snapshotted.add(this);
    }
    this.#sub = new Subscription(core, handlers, undefined, () => this.#changed(), { selector, onPause: () => this.#paused(), gate });
    this.done = this.#sub.done;
    const target = this.#optimisticMode ? core.events.length : core.visibleHead();
    this.ready = new Promise((resolve, reject) => {
      this.#paused = resolve;
      this.waitFor(target).then(resolve, reject);
    });
    this.ready.catch(() => {}); // nobody is obliged to listen
    if (this.#optimisticMode) {
      core.projections.add(this);
      // Pending events already there are folded even if no confirmed event is delivered first.
      this.#scheduleRefold();
    }
  }

  /** The current state (on a syncing store, with the pending events folded on top). */
  get state() {
    return this.#optimistic !== null ? this.#optimistic.state : this.#state;
  }

  /** The last revision applied or examined (on a syncing store, pending ones included). */
  get position() {
    return this.#optimistic !== null ? this.#optimistic.position : this.#sub.position;
  }

  /** The last confirmed revision applied or examined; it never decreases. */
  get confirmedPosition() {
    return this.#sub.position;
  }

  /**
   * Resolves once the folds have reached `revision`.
   * @param {number} revision
   * @returns {Promise<void>}
   */
  waitFor(revision) {
    if (!this.#optimisticMode || !Number.isSafeInteger(revision) || revision <= this.#core.visibleHead() || this.#closed) {
      return this.#sub.waitFor(revision);
    }
    if (this.position >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      this.#pendingWaiters.push({ revision, resolve });
    });
  }

  /**
   * Internal: a syncing store's pending part changed. Position goes at once
   * to what still stands (the confirmed fold); the pending events are
   * folded again from the confirmed state in a microtask (never inside the
   * caller's transact).
   */
  pendingChanged() {
    if (this.#closed) return;
    this.#optimistic = null;
    this.#scheduleRefold();
  }

  #scheduleRefold() {
    if (this.#refoldDue) return;
    this.#refoldDue = true;
    queueMicrotask(() => this.#refold());
  }

  /** Folds the pending events matching this projection on a clone of the confirmed state. */
  #refold() {
    this.#refoldDue = false;
    if (this.#closed) return;
    const core = this.#core;
    const confirmed = core.visibleHead();
    const local = core.events.length;
    // The confirmed fold is behind (or paused): its next run ends with a refold.
    if (this.#sub.position < confirmed || this.#sub.paused) return;
    this.#optimistic = null;
    if (local > confirmed) {
      let state;
      let reached = local;
      const schemas = core.schemas;
      try {
        state = structuredClone(this.#state);
        for (const r of this.#sub.matchingAfter(confirmed)) {
          let e = core.events[r - 1];
          if (schemas.active) {
            if (schemas.pause && schemas.isNewer(e)) {
              reached = r - 1; // folds stop just before it, as the confirmed fold does
              this.#paused();
              break;
            }
            e = schemas.view(e);
          }
          const fold = this.#folds[e.type];
          if (fold === undefined) continue;
          const next = fold(state, e);
          if (next !== undefined) state = next;
        }
      } catch (err) {
        // Pending events are provisional: the confirmed state keeps showing.
        console.error("hindcast: a projection's fold (or structuredClone of its state) threw on pending events", err);
        this.#notify();
        return;
      }
      this.#optimistic = { state, position: reached };
      this.#pendingWaiters = this.#pendingWaiters.filter((w) => {
        if (w.revision > reached) return true;
        w.resolve();
        return false;
      });
    }
    this.#notify();
  }

  /**
   * Calls `listener(state, position)` after each change; returns a function that stops that.
   * @param {(state: S, position: number) => void} listener
   * @returns {() => void}
   */
  onChange(listener) {
    if (typeof listener !== "function") throw invalid("listener", "expected a function (state, position) => void");
    if (this.#closed) return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Keeps the state in the store's database (its snapshot), if it changed
   * since last kept: the confirmed state and position. Called every `every`
   * events folded, and when the projection closes, the store closes or the
   * page hides.
   */
  saveSnapshot() {
    const snap = this.#snapshot;
    const keeper = this.#core.snapshots;
    if (snap === null || keeper === null || this.#closed || snap.unsaved === 0) return;
    snap.unsaved = 0;
    const record = { key: snap.key, position: this.#sub.position, types: snap.types, state: this.#state, at: Date.now() };
    keeper.saveSnapshot(record).catch((e) => {
      if (e instanceof HindcastError && /** @type {any} */ (e).reason === "closed") return;
      // The previous snapshot stays; the projection goes on in memory.
      console.error(`hindcast: the snapshot "${snap.key}" was not kept (the projection's state must be structured-cloneable)`, e);
    });
  }

  /** Stops updating: state and position no longer change, no listener is called. */
  close() {
    this.saveSnapshot();
    this.#core.snapshots?.snapshotted.delete(this);
    this.#closed = true;
    this.#listeners.clear();
    this.#core.projections.delete(this);
    this.#sub.cancel();
  }

  #changed() {
    if (this.#closed) return;
    if (this.#snapshot !== null && this.#snapshot.unsaved >= this.#snapshot.every) this.saveSnapshot();
    // Optimistic: the pending events go on top of the new confirmed state first.
    if (this.#optimisticMode) this.#scheduleRefold();
    else this.#notify();
  }

  #notify() {
    const state = this.state;
    const position = this.position;
    for (const listener of this.#listeners) {
      try {
        listener(state, position);
      } catch (err) {
        // A failing listener must not stop the projection or the others.
        console.error("hindcast: a projection's onChange listener threw", err);
      }
    }
  }
}

/** The default of `snapshot.every`: events folded between two snapshots kept. */
const EVERY = 10_000;

/**
 * A projection's `snapshot` option, checked: `{ key, every? }`.
 * @param {unknown} snapshot as given
 * @returns {{ key: string, every: number } | undefined}
 */
function snapshotOf(snapshot) {
  if (snapshot === undefined) return undefined;
  if (!isObject(snapshot)) throw invalid("snapshot", 'expected { key, every? }, such as { key: "balances-1", every: 10000 }');
  for (const k of Object.keys(snapshot)) {
    if (k !== "key" && k !== "every") throw invalid(joinPath(["snapshot", k]), "unknown key; expected key or every");
  }
  const { key, every = EVERY } = snapshot;
  if (typeof key !== "string" || key === "") {
    throw invalid("snapshot.key", "expected a non-empty string naming the snapshot; change it when the fold's code changes");
  }
  if (!Number.isSafeInteger(every) || every <= 0) throw invalid("snapshot.every", "expected a positive integer: events folded between two snapshots");
  return { key, every };
}

/**
 * Whether a kept snapshot still holds for this projection: its key, the
 * schema versions of the types it folds (SPEC §5, §9), a position within
 * the log.
 * @param {any} kept as read from the database
 * @param {{ key: string, types: Record<string, number> }} snap
 * @param {number} head
 */
function usable(kept, snap, head) {
  if (!isObject(kept) || kept.key !== snap.key || !isObject(kept.types)) return false;
  if (!Number.isSafeInteger(kept.position) || kept.position < 0 || kept.position > head) return false;
  const types = Object.keys(snap.types);
  if (Object.keys(kept.types).length !== types.length) return false;
  return types.every((t) => kept.types[t] === snap.types[t]);
}
