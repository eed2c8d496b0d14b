// The IndexedDB side of a persistent store.
//
// IndexedDB is reached through the engine's web-sys functions (idbOpen,
// idbRead, idbCommit, …); this file orders the work:
//
// - Loading: the stored events are read in chunks and restored into the
//   engine batch by batch; a record that does not fit is a StorageError
//   "corrupt" naming its revision.
// - Writing: concurrent transacts are queued and committed as one group, in
//   one readwrite transaction. Inside it (synchronously, in the transaction's
//   read callback) the events other tabs stored since this tab's head are
//   restored first, so every check sees the database as it stands; then each
//   queued request is checked and applied in turn, failing on its own; then
//   the engine is put back as it was and the group's records are written.
//   Only once the transaction has completed are the batches applied for real
//   and published, so nothing of a failed write is ever visible.
// - Other tabs: a BroadcastChannel notice after each commit makes the others
//   read what they have not seen.
//
// Invariant: outside the synchronous read callback, the engine holds exactly
// the published events. Groups and catch-up reads run one at a time (`lane`).

import { idbCommit, idbCount, idbRead } from "./wasm/hindcast.js";
import { StorageError, fromWire, invalid } from "./errors.js";
import { freezeJson } from "./json.js";
import { prepare } from "./request.js";

/** Events read per IndexedDB request while loading or catching up. */
const CHUNK = 10_000;

const closedError = () => new StorageError("The store is closed; open it again to write.", "closed");

export class Persistence {
  #db;
  #engine;
  /** The published events (the store's array). */
  #events;
  #apply;
  #publish;
  #queue = [];
  #scheduled = false;
  #lane = Promise.resolve();
  #channel = null;
  closed = false;

  constructor(db, name, store) {
    this.#db = db;
    this.#engine = store.engine;
    this.#events = store.events;
    this.#apply = store.apply;
    this.#publish = store.publish;
    // Another connection wants to delete or upgrade the database: let it.
    db.onversionchange = () => this.close();
    if (typeof BroadcastChannel === "function") {
      this.#channel = new BroadcastChannel(`hindcast:${name}`);
      this.#channel.onmessage = () => this.#exclusive(() => this.#catchUp());
    }
  }

  /** Loads every stored event, reporting `{ loaded, total }`. */
  async load(onProgress) {
    let total;
    try {
      total = await idbCount(this.#db);
    } catch (e) {
      throw fromWire(e);
    }
    const loaded = await this.#catchUp((loaded) => onProgress?.({ loaded, total: Math.max(total, loaded) }));
    onProgress?.({ loaded, total: loaded });
  }

  /**
   * Reads and publishes what is stored after the head; returns how many.
   * The next chunk is requested before this one is decoded, so IndexedDB
   * reads while the engine restores.
   */
  async #catchUp(progress) {
    let count = 0;
    const read = (from) =>
      idbRead(this.#db, from, CHUNK).catch((e) => {
        throw this.closed ? closedError() : fromWire(e);
      });
    let pending = read(this.#events.length + 1);
    pending.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    for (;;) {
      let records;
      try {
        records = await pending;
      } catch (e) {
        if (this.closed) return count;
        throw e;
      }
      if (records.length === 0) return count;
      const more = records.length === CHUNK;
      if (more) {
        pending = read(this.#events.length + records.length + 1);
        pending.catch(() => {});
      }
      for (const batch of batches(records)) {
        const events = batch.map(fromRecord);
        this.#publish(events, restore(this.#engine, events));
      }
      count += records.length;
      progress?.(count);
      if (!more) return count;
    }
  }

  transact(request) {
    if (this.closed) return Promise.reject(closedError());
    let prepared;
    try {
      prepared = prepare(request);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, prepared, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#exclusive(() => this.#commitGroup());
      }
    });
  }

  /** Runs `work` after everything queued before it. */
  #exclusive(work) {
    const run = this.#lane.then(work);
    this.#lane = run.catch(() => {});
    return run;
  }

  async #commitGroup() {
    this.#scheduled = false;
    const group = this.#queue.splice(0);
    if (group.length === 0) return;
    if (this.closed) {
      for (const item of group) item.reject(closedError());
      return;
    }
    const start = this.#events.length;
    let staged = null;
    try {
      await idbCommit(this.#db, start, (theirs) => {
        staged = this.#stage(theirs, group, start);
        return staged.records;
      });
    } catch (e) {
      const error = this.closed ? closedError() : fromWire(e);
      for (const item of group) item.reject(item.error ?? error);
      return;
    }
    // Durable: apply the same batches for real, in the same order.
    for (const batch of staged.batches) this.#publish(batch, restore(this.#engine, batch));
    for (const item of group) {
      if (item.error) item.reject(item.error);
      else item.resolve(item.commit);
    }
    this.#channel?.postMessage(this.#events.length);
  }

  /**
   * Inside the write transaction: restores `theirs`, applies each queued
   * request (recording its commit or error on the item), then puts the
   * engine back at `start`. Returns the batches in order and our records.
   */
  #stage(theirs, group, start) {
    const batchesInOrder = [];
    const records = [];
    const staged = [];
    const eventAt = (r) => (r <= start ? this.#events[r - 1] : staged[r - start - 1]);
    try {
      for (const batch of batches(theirs)) {
        const events = batch.map(fromRecord);
        restore(this.#engine, events);
        batchesInOrder.push(events);
        staged.push(...events);
      }
      for (const item of group) {
        try {
          const { commit, events } = this.#apply(item.prepared, item.request, eventAt);
          item.commit = commit;
          if (events.length > 0) {
            batchesInOrder.push(events);
            staged.push(...events);
            records.push(...events);
          }
        } catch (e) {
          item.error = e;
        }
      }
    } finally {
      this.#engine.truncate(start);
    }
    return { batches: batchesInOrder, records };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.#queue.splice(0)) item.reject(closedError());
    this.#channel?.close();
    this.#db.close();
  }
}

/** Consecutive records grouped by batch. */
function* batches(records) {
  let batch = [];
  for (const r of records) {
    if (batch.length > 0 && r?.batchId !== batch[0]?.batchId) {
      yield batch;
      batch = [];
    }
    batch.push(r);
  }
  if (batch.length > 0) yield batch;
}

/** Restores a batch of recorded events into the engine; the subscriptions to wake. */
function restore(engine, events) {
  const first = events[0];
  const text = JSON.stringify({
    id: first.batchId,
    recordedAt: first.recordedAt,
    revision: first.revision,
    events: events.map(({ stream, type, subject, tags, id, version }) => ({ stream, type, subject, tags, id, version })),
  });
  try {
    return Array.from(engine.restore(text));
  } catch (e) {
    throw fromWire(e);
  }
}

const corrupt = (revision, why) =>
  Object.assign(
    new StorageError(
      `The stored event at revision ${revision} is corrupt (${why}); the store cannot be loaded as it is.`,
      "corrupt",
    ),
    { revision },
  );

const OPTIONAL_STRINGS = ["subject", "time", "correlationId"];

/** A stored record as a frozen recorded event, or a StorageError "corrupt". */
function fromRecord(r) {
  const revision = typeof r?.revision === "number" ? r.revision : NaN;
  if (r === null || typeof r !== "object" || !Number.isSafeInteger(revision)) throw corrupt(revision, "not an event record");
  for (const k of ["stream", "type", "id", "batchId"]) {
    if (typeof r[k] !== "string") throw corrupt(revision, `${k} is not a string`);
  }
  for (const k of ["version", "recordedAt"]) {
    if (typeof r[k] !== "number") throw corrupt(revision, `${k} is not a number`);
  }
  for (const k of OPTIONAL_STRINGS) {
    if (r[k] !== undefined && typeof r[k] !== "string") throw corrupt(revision, `${k} is not a string`);
  }
  if (r.tags !== undefined && !(Array.isArray(r.tags) && r.tags.every((t) => typeof t === "string"))) {
    throw corrupt(revision, "tags is not a list of strings");
  }
  let data, metadata;
  try {
    // Records read from IndexedDB are fresh copies: freeze them as they are.
    data = freezeJson(r.data === undefined ? null : r.data, ["data"]);
    metadata = r.metadata === undefined ? undefined : freezeJson(r.metadata, ["metadata"]);
  } catch (e) {
    throw corrupt(revision, e.message);
  }
  const e = { revision, stream: r.stream, version: r.version, id: r.id, type: r.type, data };
  if (r.subject !== undefined) e.subject = r.subject;
  if (r.tags !== undefined) e.tags = Object.freeze(r.tags.slice());
  if (r.time !== undefined) e.time = r.time;
  if (metadata !== undefined) e.metadata = metadata;
  if (r.correlationId !== undefined) e.correlationId = r.correlationId;
  e.batchId = r.batchId;
  e.recordedAt = r.recordedAt;
  return Object.freeze(e);
}

/** Checks `open`'s arguments. */
export function checkOpen(name, options) {
  if (typeof name !== "string" || name === "") throw invalid("name", "expected the database's name, a non-empty string");
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") throw invalid("options", "expected { onProgress? }");
  for (const k of Object.keys(options)) {
    if (k !== "onProgress") throw invalid(`options.${k}`, "unknown option; expected onProgress");
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw invalid("options.onProgress", "expected a function ({ loaded, total }) => void");
  }
  return options.onProgress;
}
