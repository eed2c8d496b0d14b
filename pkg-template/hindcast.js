// The public API: EventStore, the error classes, wasmMemoryBytes.
//
// The engine (Rust, in wasm) holds the log's indexes and checks every
// expectation and constraint; this layer holds the recorded events
// themselves, frozen, in revision order. A transact sends the engine one
// JSON text without the events' data; the engine answers with numbers (the
// commit, the new event ids), from which the recorded events are built here.
// Reads ask the engine for revisions and return the stored events.
//
// Invariant: `#events[r - 1]` is the event at revision r, for every r up to
// the engine's head; outside a persistent store's staging (persistent.js),
// both change only together, in `#publish`'s callers. Every event enters
// through `#publish`, which tells the store's schemas (schemas.js keeps
// what reads return by revision on that). The engine never calls
// JavaScript, so no user code runs while it is busy.

import { Engine, commitLayout, idbDelete, idbOpen } from "./wasm/hindcast.js";
import { loadWasm, memoryF64, memoryText } from "./loader.js";
import { fromWire, invalid } from "./errors.js";
import { checkJsonSafe, checkSelector, sameJson, setOwn } from "./json.js";
import { prepare } from "./request.js";
import { recorded } from "./record.js";
import { Projection, Subscription } from "./subscription.js";
import { Persistence, checkOpen, closedError, initialState } from "./persistent.js";
import { exportLog, importLog } from "./transfer.js";
import { retry } from "./retry.js";
import { Sync, checkSync } from "./sync.js";
import { checkBatchSize } from "./pending.js";
import { Schemas } from "./schemas.js";

export {
  HindcastError,
  ConstraintViolationError,
  InvalidInputError,
  StorageError,
  HandlerError,
} from "./errors.js";
export { SchemaError } from "./schemas.js";
export { wasmMemoryBytes } from "./loader.js";

/**
 * @import { AnyEvent, Commit, EventShape, HandlerResult, ImportSource, Matchers, MemoryOptions, OpenOptions,
 *   ProjectionSpec, ReadOptions, Recorded, RecordedEvent, RetryOptions, Selector, StreamPosition,
 *   StreamReadOptions, SubscribeOptions, TransactRequest, NewerSchema } from "./index.js"
 * @typedef {"closed" | "deleted" | "upgraded"} ClosedReason
 * @import { Kept } from "./request.js"
 * @typedef {ReturnType<typeof prepare>} Prepared
 */

const { stringify } = JSON;
const PRIVATE = Symbol("EventStore");
const encoder = new TextEncoder();
/** Requests longer than this cross as bytes. */
const LONG = 512;

/**
 * JSON text of an optional argument; "" stands for undefined.
 * @param {unknown} v
 * @returns {string}
 */
const text = (v) => (v === undefined ? "" : stringify(v));

/** @param {unknown} options as given */
function optionsText(options) {
  if (options !== undefined) checkJsonSafe(options, ["options"]);
  return text(options);
}

/**
 * JSON text of a stream name, checked to be a string.
 * @param {unknown} stream as given
 */
function streamName(stream) {
  if (typeof stream !== "string") throw invalid("stream", "expected the stream's name, a non-empty string");
  return stringify(stream);
}

/** The commit answer's word offsets (src/wasm/wire.rs), read once the module is loaded. */
/** @type {any} */
let C = null;

/** @typedef {Core} StoreCore what subscription.js sees of the class below */

/** What a store shares with its subscriptions. */
class Core {
  /**
   * The recorded events, frozen; index r - 1 holds revision r.
   * @type {RecordedEvent[]}
   */
  events = [];
  /**
   * Live subscriptions by engine id.
   * @type {Map<number, Subscription>}
   */
  subs = new Map();
  /**
   * Subscriptions with pending waitFor calls.
   * @type {Set<Subscription>}
   */
  waiting = new Set();
  /**
   * The store's own waitFor calls.
   * @type {{ revision: number, resolve: (value?: unknown) => void, reject: (error: unknown) => void }[]}
   */
  storeWaiters = [];
  /** The lowest revision a store waiter waits for (Infinity: none). */
  nextStoreWait = Infinity;
  /**
   * A syncing store's sync (sync.js): subscriptions then see the confirmed
   * prefix only. Null for a store without sync.
   * @type {Sync | null}
   */
  sync = null;
  /**
   * Where projections keep snapshots: a persistent store's IndexedDB side
   * (persistent.js); null for a memory store, which keeps none.
   * @type {Persistence | null}
   */
  snapshots = null;

  /**
   * @param {Engine} engine
   * @param {Schemas} schemas the store's event schemas (schemas.js)
   */
  constructor(engine, schemas) {
    this.engine = engine;
    this.schemas = schemas;
  }

  /**
   * A syncing store's optimistic projections, told when the pending part changes.
   * @type {Set<Projection<any>>}
   */
  projections = new Set();

  /**
   * The pending part of a syncing store changed; the events after
   * `stands` (if given) no longer stand.
   * @param {number} [stands]
   */
  pendingChanged(stands) {
    if (stands !== undefined) for (const sub of this.subs.values()) sub.rewind(stands);
    for (const p of this.projections) p.pendingChanged();
  }

  /** The head that subscriptions see: the confirmed prefix's, when syncing. */
  visibleHead() {
    return this.sync === null ? this.events.length : this.sync.confirmed;
  }

  /** Resolves the store waiters the head has reached. */
  headReached() {
    const head = this.events.length;
    if (head < this.nextStoreWait) return;
    let next = Infinity;
    this.storeWaiters = this.storeWaiters.filter((w) => {
      if (w.revision <= head) {
        w.resolve();
        return false;
      }
      if (w.revision < next) next = w.revision;
      return true;
    });
    this.nextStoreWait = next;
  }

  /** The store stopped accepting writes: waiters reject, subscriptions stop. */
  shutdown() {
    for (const w of this.storeWaiters) w.reject(closedError());
    this.storeWaiters = [];
    this.nextStoreWait = Infinity;
    for (const sub of [...this.subs.values()]) sub.cancel();
  }

  /**
   * `inOptions`: the selector came as `options.selector` (for error paths).
   * @param {unknown} selector as given
   * @param {string[] | undefined} types
   * @param {Subscription} sub
   * @param {boolean} inOptions
   * @returns {number} its engine id
   */
  register(selector, types, sub, inOptions) {
    checkSelector(selector, inOptions ? ["options", "selector"] : ["selector"]);
    let id;
    try {
      id = this.engine.subscribe(text(selector), types === undefined ? "" : stringify(types));
    } catch (e) {
      throw fromWire(e, inOptions ? "options." : "");
    }
    this.subs.set(id, sub);
    return id;
  }

  /**
   * @param {number} id
   * @param {Subscription} sub
   */
  unregister(id, sub) {
    if (this.subs.get(id) !== sub) return;
    this.subs.delete(id);
    this.engine.unsubscribe(id);
  }
}

/** @template {EventShape} [E=AnyEvent] the union of the store's event shapes (index.d.ts) */
export class EventStore {
  #engine;
  #core;
  #events;
  /** @type {Schemas} */
  #schemas;
  /** @type {{ newer(): NewerSchema[], onNewer(listener: (entry: NewerSchema) => void): () => void }} */
  #schemasView;
  /**
   * The IndexedDB side of a persistent store (persistent.js); null in memory.
   * @type {Persistence | null}
   */
  #storage = null;
  /** @type {Sync | null} */
  #sync = null;
  /**
   * Why the store stopped accepting writes; null while it accepts them.
   * @type {ClosedReason | null}
   */
  #closedReason = null;
  /** @type {(reason: ClosedReason) => void} */
  #markClosed;
  /**
   * Resolves, with "closed", "deleted" or "upgraded", when the store stops accepting writes.
   * @type {Promise<ClosedReason>}
   */
  closed;

  /**
   * Use `EventStore.memory()`.
   * @param {Engine} engine
   * @param {symbol} key
   * @param {Schemas} [schemas]
   */
  constructor(engine, key, schemas) {
    if (key !== PRIVATE) throw new TypeError("Use `await EventStore.memory()` to create a store.");
    C ??= commitLayout();
    this.#engine = engine;
    const s = (this.#schemas = schemas ?? new Schemas(undefined, undefined));
    this.#schemasView = Object.freeze({
      newer: () => s.newer(),
      onNewer: (/** @type {(entry: NewerSchema) => void} */ listener) => s.onNewer(listener),
    });
    this.#core = new Core(engine, s);
    this.#events = this.#core.events;
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
  }

  /**
   * A store that lives in memory only; with `{ sync: { url, token } }` it
   * syncs with a Hindcast server (its pending batches live in memory only).
   * @template {EventShape} [E=AnyEvent]
   * @param {MemoryOptions} [options]
   * @returns {Promise<EventStore<E>>}
   */
  static async memory(options) {
    let sync;
    let schemas;
    if (options !== undefined) {
      if (options === null || typeof options !== "object" || Array.isArray(options)) {
        throw invalid("options", "expected { sync?, schemas?, newerSchemas? }");
      }
      for (const k of Object.keys(options)) {
        if (k !== "sync" && k !== "schemas" && k !== "newerSchemas") {
          throw invalid(`options.${k}`, "unknown option; expected sync, schemas or newerSchemas");
        }
      }
      if (options.sync !== undefined) sync = checkSync(options.sync);
      schemas = new Schemas(options.schemas, options.newerSchemas);
    }
    await loadWasm();
    const store = /** @type {EventStore<E>} */ (new EventStore(new Engine(), PRIVATE, schemas));
    if (sync !== undefined) store.#startSync(sync);
    return store;
  }

  /**
   * @param {{ url: string, token: (() => string | Promise<string>) | undefined }} options
   * @param {import("./sync.js").Durable} [durable] a persistent store's side
   */
  #startSync(options, durable) {
    const events = this.#events;
    this.#sync = this.#core.sync = new Sync(options, {
      engine: this.#engine,
      events,
      publish: (e, woken) => this.#publish(e, woken),
      truncate: (head) => {
        this.#engine.truncate(head);
        events.length = head;
      },
      pendingChanged: (stands) => this.#core.pendingChanged(stands),
    }, durable);
    return this.#sync;
  }

  /**
   * The syncing store's sync (SPEC §8.4): status, rejections, waitFor,
   * flush; undefined for a store without sync.
   */
  get sync() {
    return this.#sync ?? undefined;
  }

  /**
   * The event schemas (SPEC §9): `newer()` lists the types seen written by
   * newer code than this store's declaration knows; `onNewer(listener)`.
   */
  get schemas() {
    return this.#schemasView;
  }

  /** The confirmed prefix's head (SPEC §8.4); undefined for a store without sync. */
  get confirmedRevision() {
    return this.#sync?.confirmed;
  }

  /**
   * A store kept in the IndexedDB database `name` (created if need be),
   * shared safely with other tabs; `onProgress({ loaded, total })` reports
   * the loading. Rejects with StorageError "unavailable" where there is no
   * IndexedDB, "corrupt" (with `.revision`) for a record that does not load.
   * @template {EventShape} [E=AnyEvent]
   * @param {string} name
   * @param {OpenOptions} [options]
   * @returns {Promise<EventStore<E>>}
   */
  static async open(name, options) {
    const { onProgress, sync, schemas } = checkOpen(name, options);
    await loadWasm();
    let db;
    try {
      db = await idbOpen(name, initialState(sync?.url));
    } catch (e) {
      throw fromWire(e);
    }
    const store = /** @type {EventStore<E>} */ (new EventStore(new Engine(), PRIVATE, schemas));
    const storage = store.#attach(db, name);
    store.#core.snapshots = storage;
    try {
      const state = await storage.syncState(sync?.url);
      if (sync !== undefined && state !== undefined) storage.attachSync(state, (durable) => store.#startSync(sync, durable));
      await storage.load(onProgress);
      store.#sync?.start();
    } catch (e) {
      store.#sync?.close();
      storage.close();
      throw e;
    }
    return store;
  }

  /**
   * Deletes the IndexedDB database `name`; open stores on it close.
   * @param {string} name
   * @returns {Promise<void>}
   */
  static async delete(name) {
    checkOpen(name, undefined);
    await loadWasm();
    try {
      await idbDelete(name);
    } catch (e) {
      throw fromWire(e);
    }
  }

  /**
   * Stops accepting writes and releases the IndexedDB connection: later
   * writes reject with StorageError "closed", reads keep answering,
   * subscriptions and projections stop, `closed` resolves with "closed".
   * @returns {Promise<void>}
   */
  async close() {
    this.#sync?.close();
    if (this.#storage !== null) this.#storage.close("closed");
    else this.#stopped("closed");
  }

  /**
   * Called once, when the store stops accepting writes.
   * @param {ClosedReason} reason
   */
  #stopped(reason) {
    if (this.#closedReason !== null) return;
    this.#closedReason = reason;
    this.#sync?.close(); // a database deleted or upgraded by another tab stops the sync too
    this.#core.shutdown();
    this.#markClosed(reason);
  }

  /**
   * @param {IDBDatabase} db
   * @param {string} name
   */
  #attach(db, name) {
    this.#storage = new Persistence(db, name, {
      engine: this.#engine,
      events: this.#events,
      apply: (prepared, eventAt) => this.#apply(prepared, eventAt),
      publish: (events, woken) => this.#publish(events, woken),
      closed: (reason) => this.#stopped(reason),
    });
    return this.#storage;
  }

  /** The head: the revision of the newest event, 0 when empty. */
  get revision() {
    return this.#events.length;
  }

  /**
   * Appends a batch atomically if every expectation and constraint holds.
   * @param {TransactRequest<E>} request
   * @returns {Promise<Commit>}
   */
  async transact(request) {
    // Everything the request holds is taken now (see request.js).
    const prepared = prepare(request);
    this.#schemas.stamp(prepared.kept);
    if (this.#closedReason !== null) throw closedError();
    if (this.#storage !== null) return this.#storage.transact(prepared);
    const sync = this.#sync;
    if (sync !== null) checkBatchSize(prepared);
    const { commit, events, woken } = this.#apply(prepared, this.#at1);
    if (sync === null) {
      this.#publish(events, woken);
      return commit;
    }
    if (commit.replayed) return sync.replayed(commit);
    let push;
    try {
      push = sync.pushable(events);
    } catch (e) {
      this.#engine.truncate(this.#events.length); // not published: undone
      throw e;
    }
    this.#publish(events, woken);
    return sync.add(commit, events, prepared, push);
  }

  /**
   * Resolves once `revision` ≥ the given one (the linearizable read: after
   * another tab reports a commit at r, reads after `await waitFor(r)`
   * include it). Rejects with StorageError "closed" if the store closes first.
   * @param {number} revision
   * @returns {Promise<void>}
   */
  async waitFor(revision) {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw invalid("revision", "expected a non-negative integer revision");
    }
    if (this.#events.length >= revision) return;
    if (this.#closedReason !== null) throw closedError();
    const core = this.#core;
    const reached = new Promise((resolve, reject) => {
      core.storeWaiters.push({ revision, resolve, reject });
      if (revision < core.nextStoreWait) core.nextStoreWait = revision;
    });
    // Another tab may have written it already: read what is stored.
    this.#storage?.catchUp();
    return reached;
  }

  /**
   * Retries `fn(attempt)` when it rejects with a ConstraintViolationError,
   * after an exponential backoff with full jitter; see retry.js.
   * @template T
   * @param {(attempt: number) => Promise<T> | T} fn
   * @param {RetryOptions} [options]
   * @returns {Promise<T>}
   */
  async retry(fn, options) {
    return retry(fn, options);
  }

  /**
   * The log as NDJSON text chunks (one recorded event per line, oldest
   * first, whole batches), after revision `after` (default 0), up to the
   * head at the call.
   * @param {{ after?: number }} [options]
   * @returns {AsyncIterable<string>}
   */
  export(options) {
    return exportLog(this.#events, options, this.#core.visibleHead());
  }

  /**
   * Appends an exported log (NDJSON) to `store`, whose head must be the
   * first line's revision − 1; all or nothing. See transfer.js.
   * @param {EventStore} store
   * @param {ImportSource} source
   * @param {{ onProgress?: (progress: { loaded: number; total?: number }) => void }} [options]
   * @returns {Promise<void>}
   */
  static async import(store, source, options) {
    if (!(store instanceof EventStore)) throw invalid("store", "expected an EventStore");
    return store.#import(source, options);
  }

  /**
   * @param {ImportSource} source
   * @param {unknown} options as given
   */
  async #import(source, options) {
    if (this.#closedReason !== null) throw closedError();
    if (this.#sync !== null) {
      throw invalid("store", "a syncing store's log comes from its server: import into a store without sync");
    }
    const { runs, check } = await importLog(source, options, { engine: this.#engine, at: this.#at1 });
    if (this.#closedReason !== null) throw closedError();
    if (runs.length > 0) {
      if (this.#storage !== null) {
        await this.#storage.append(runs, (start) => check.validate(start), check.moved);
      } else {
        // Checked whole, then published whole, with no await in between.
        const woken = check.validate(this.#events.length, true);
        for (let i = 0; i < runs.length; i++) this.#publish(runs[i].events, woken[i]);
      }
    }
    check.done();
  }

  /**
   * The stored event at revision r.
   * @type {(r: number) => RecordedEvent}
   */
  #at1 = (r) => this.#events[r - 1];

  /**
   * Checks and appends a prepared request in the engine; returns the commit,
   * the recorded events (not yet published) and the subscriptions to wake.
   * `eventAt(r)` finds an event already committed (for a replay's check).
   * @param {Prepared} prepared
   * @param {(revision: number) => RecordedEvent} eventAt
   * @returns {{ commit: Commit, events: RecordedEvent[], woken: number[] }}
   */
  #apply({ wire, kept, correlationId }, eventAt) {
    let at;
    try {
      // Long requests cross as bytes (see Engine.transactBytes).
      at =
        (wire.length > LONG
          ? this.#engine.transactBytes(encoder.encode(wire), Date.now())
          : this.#engine.transact(wire, Date.now())) >>> 3;
    } catch (e) {
      throw fromWire(e);
    }
    // The engine's answer (see Engine.transact): words, then the ids' text.
    const w = memoryF64();
    const first = w[at + C.firstRevision];
    const last = w[at + C.revision];
    const replayed = w[at + C.replayed] === 1;
    const recordedAt = w[at + C.recordedAt];
    const pending = this.#sync !== null;
    const ids = memoryText(w[at + C.idsAt], w[at + C.idsLen]);
    const batchId = ids.slice(0, 36);
    /** @type {Commit["streams"]} */
    const streams = {};
    const events = [];
    let j = at + C.streams; // the first stream's words
    if (kept.length === 1) {
      setOwn(streams, kept[0].stream, { version: w[j], revision: w[j + 1] });
      if (!replayed) events.push(recorded(first, kept[0], w[j], ids.slice(36), correlationId, batchId, recordedAt, pending));
      j += 2;
    } else {
      // Per stream, in order of first appearance: [its last version, its events left to number].
      const perStream = new Map();
      for (const k of kept) {
        const s = perStream.get(k.stream);
        if (s === undefined) perStream.set(k.stream, [0, 1]);
        else s[1]++;
      }
      for (const [stream, s] of perStream) {
        setOwn(streams, stream, { version: w[j], revision: w[j + 1] });
        s[0] = w[j];
        j += 2;
      }
      if (!replayed) {
        for (let i = 0; i < kept.length; i++) {
          const k = kept[i];
          const s = perStream.get(k.stream);
          const version = s[0] - --s[1];
          const id = ids.slice(36 * (i + 1), 36 * (i + 2));
          events.push(recorded(first + i, k, version, id, correlationId, batchId, recordedAt, pending));
        }
      }
    }
    const woken = [];
    for (let n = w[j], i = j + 1; n > 0; n--, i++) woken.push(w[i]);
    if (replayed) checkReplay(first, kept, correlationId, eventAt);
    return { commit: { batchId, firstRevision: first, revision: last, streams, replayed }, events, woken };
  }

  /**
   * Makes committed events visible and wakes the subscriptions they concern.
   * @param {RecordedEvent[]} events
   * @param {Iterable<number>} woken
   */
  #publish(events, woken) {
    if (events.length === 0) return;
    if (this.#schemas.active) this.#schemas.entered(events);
    // Every subscription asleep and not woken has examined all before these.
    const before = Math.min(events[0].revision - 1, this.#core.visibleHead());
    for (const e of events) this.#events.push(e);
    const core = this.#core;
    for (const id of woken) core.subs.get(id)?.wake(before);
    for (const sub of core.waiting) sub.progress();
    core.headReached();
  }

  /**
   * Calls `handler(event)` for each committed event that `selector` matches
   * and, with matchers (`{ type: handler }`), whose type is listed; from
   * revision `after` + 1 on (0: the beginning, "end": new events only).
   * @param {((event: Recorded<E>) => HandlerResult) | Matchers<E>} handler
   * @param {SubscribeOptions} [options]
   * @returns {Subscription}
   */
  subscribe(handler, options) {
    return new Subscription(this.#core, handler, options);
  }

  /**
   * A live read model folded from the events by the `on` handlers.
   * @template S
   * @param {ProjectionSpec<S, E>} spec
   * @returns {Projection<S>}
   */
  project(spec) {
    return new Projection(this.#core, spec);
  }

  /**
   * The stored events at the given revisions (as the store's type says).
   * @param {ArrayLike<number>} revisions
   * @returns {Recorded<E>[]}
   */
  #at(revisions) {
    const events = this.#events;
    // Events of a declared type recorded at an older version are read upcast.
    if (this.#schemas.active) return /** @type {Recorded<E>[]} as stored, typed by the store */ (this.#schemas.readAt(events, revisions));
    const out = new Array(revisions.length);
    for (let i = 0; i < revisions.length; i++) out[i] = events[revisions[i] - 1];
    return out;
  }

  /**
   * The events matching `selector` (default: all), oldest first.
   * @param {Selector} [selector]
   * @param {ReadOptions} [options]
   * @returns {Recorded<E>[]}
   */
  read(selector, options) {
    checkSelector(selector, ["selector"]);
    const opts = optionsText(options);
    try {
      return this.#at(this.#engine.read(text(selector), opts));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /**
   * One stream's events, by version.
   * @param {string} stream
   * @param {StreamReadOptions} [options]
   * @returns {Recorded<E>[]}
   */
  readStream(stream, options) {
    const name = streamName(stream);
    const opts = optionsText(options);
    try {
      return this.#at(this.#engine.readStream(name, opts));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /**
   * The revision of the newest event matching `selector`, 0 if none.
   * @param {Selector} [selector]
   * @returns {number}
   */
  lastRevision(selector) {
    checkSelector(selector, ["selector"]);
    try {
      return this.#engine.lastRevision(text(selector));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /**
   * The version and revision of a stream's last event, or null.
   * @param {string} stream
   * @returns {StreamPosition | null}
   */
  stream(stream) {
    const name = streamName(stream);
    let pos;
    try {
      pos = this.#engine.stream(name);
    } catch (e) {
      throw fromWire(e);
    }
    return pos.length === 0 ? null : { version: pos[0], revision: pos[1] };
  }
}

/**
 * A replayed batch id must come with the same events as its first commit.
 * @param {number} first
 * @param {Kept[]} kept
 * @param {string | undefined} correlationId
 * @param {(revision: number) => RecordedEvent} eventAt
 */
function checkReplay(first, kept, correlationId, eventAt) {
  /** @param {string} field */
  const differs = (field) =>
    invalid("id", `this batch id was already committed with different events (${field} differs); give a different batch a new id`);
  if (eventAt(first).correlationId !== correlationId) throw differs("correlationId");
  for (let i = 0; i < kept.length; i++) {
    const stored = eventAt(first + i);
    if (stored.schemaVersion !== kept[i].schemaVersion) throw differs(`events[${i}].schemaVersion`);
    for (const field of /** @type {const} */ (["data", "time", "metadata"])) {
      if (!sameJson(stored[field], kept[i][field])) throw differs(`events[${i}].${field}`);
    }
  }
}
