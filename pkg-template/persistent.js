// The IndexedDB side of a persistent store.
//
// IndexedDB is reached through the engine's web-sys functions (idbOpen,
// idbRead, idbCommit, …); this file decides what a record holds and orders
// the work.
//
// Records: a record holds a run of whole batches, the JSON text of their
// recorded events, keyed by the first revision:
// `{ revision: first, last, events: "[{ revision, stream, … }, …]" }`. A
// record is closed once it holds RECORD_EVENTS events or RECORD_CHARS
// characters (a batch is never split), so reads and writes cost one
// IndexedDB value per run rather than one per event, and the engine
// restores from the same text.
//
// - Loading: records are read in chunks and restored into the engine record
//   by record; one that does not fit is a StorageError "corrupt" naming the
//   revision.
// - Writing: concurrent transacts are queued and committed as one group.
//   Each request is checked and applied in turn against memory, failing on
//   its own; the engine is put back as it was; each record's events become
//   one JSON text (if that fails, or a record of several batches would be
//   too long, the group is staged again with a text per batch, so that a
//   batch too large to store fails alone); and the group's records are
//   added in one readwrite transaction. If another tab stored
//   anything since this tab's head, the first record's key is taken: then,
//   in a second transaction, the group is decided again (synchronously, in
//   the transaction's read callback) after restoring what the others
//   stored, so every check sees the database as it stands. Only once a
//   transaction has completed are the batches applied for real and
//   published, so nothing of a failed write is ever visible. Every
//   transact of a group settles, whatever fails.
// - Other tabs: a BroadcastChannel notice after commits makes the others
//   read what they have not seen. A notice owed is sent at once on close
//   and on `pagehide`.
//
// Invariants: outside #stage and an import's check, the engine holds
// exactly the published events. Every tab's head is at a record boundary of
// the database, and every write starts at its head + 1: so a record keyed
// head + 1 exists exactly when some tab wrote after that head. Groups,
// imports and catch-up reads run one at a time (`lane`).

import { idbAbort, idbAppend, idbCommit, idbLast, idbRead, idbSettled } from "./wasm/hindcast.js";
import { InvalidInputError, StorageError, fromWire, invalid } from "./errors.js";
import { decodeRecorded, restore } from "./record.js";

/**
 * @import { Engine } from "./wasm/hindcast.js"
 * @import { Commit, RecordedEvent } from "./index.js"
 * @import { prepare } from "./request.js"
 * @typedef {ReturnType<typeof prepare>} Prepared
 * @typedef {{ events: RecordedEvent[], text: string }} Run whole batches and their JSON text
 * @typedef {{ revision: number, last: number, events: string }} StoredRecord
 * @typedef {{ prepared: Prepared, resolve: (commit: Commit) => void, reject: (error: unknown) => void,
 *   commit?: Commit, error?: unknown }} Queued a transact waiting for its group
 * @typedef {(progress: { loaded: number, total: number }) => void} Progress
 */

/** A record holds whole batches; another starts once one holds this many events… */
const RECORD_EVENTS = 1_000;
/** …or this many characters of JSON. */
const RECORD_CHARS = 1 << 22;
/** Events aimed at per read while loading or catching up. */
const CHUNK_EVENTS = 10_000;
/** Records asked for by the first read; later reads adapt to the record size. */
const FIRST_READ = 16;
/** The least time between two notices to other tabs, in ms. */
const NOTICE_GAP_MS = 10;

export const closedError = () => new StorageError("The store is closed; open it again to write.", "closed");

export class Persistence {
  #db;
  #engine;
  /** The published events (the store's array). */
  #events;
  #apply;
  #publish;
  #onClosed;
  /** @type {Queued[]} */
  #queue = [];
  #scheduled = false;
  /** @type {Promise<unknown>} */
  #lane = Promise.resolve();
  /** @type {BroadcastChannel | null} */
  #channel = null;
  /**
   * The timer of the notice owed to other tabs; null when none is owed.
   * @type {ReturnType<typeof setTimeout> | null}
   */
  #noticeTimer = null;
  #lastNotice = -Infinity;
  /** @type {(() => void) | null} */
  #pageHide = null;
  closed = false;

  /**
   * `store`: the engine, the published events, `apply(prepared, eventAt)`,
   * `publish(events, woken)` and `closed(reason)`, called once when the
   * store stops accepting writes.
   * @param {IDBDatabase} db
   * @param {string} name
   * @param {{
   *   engine: Engine,
   *   events: RecordedEvent[],
   *   apply: (prepared: Prepared, eventAt: (revision: number) => RecordedEvent) =>
   *     { commit: Commit, events: RecordedEvent[], woken: number[] },
   *   publish: (events: RecordedEvent[], woken: number[]) => void,
   *   closed: (reason: "closed" | "deleted" | "upgraded") => void,
   * }} store
   */
  constructor(db, name, store) {
    this.#db = db;
    this.#engine = store.engine;
    this.#events = store.events;
    this.#apply = store.apply;
    this.#publish = store.publish;
    this.#onClosed = store.closed;
    // Another connection deletes (newVersion null) or upgrades the database: let it.
    db.onversionchange = (e) => this.close(e?.newVersion == null ? "deleted" : "upgraded");
    // The browser closed the connection itself (storage cleared, a fault).
    db.onclose = () => this.close("closed");
    if (typeof BroadcastChannel === "function") {
      this.#channel = new BroadcastChannel(`hindcast:${name}`);
      // A record that fails to load here fails the next transact too, which
      // reads it again: nothing is lost by ignoring the failure here.
      this.#channel.onmessage = () => this.catchUp();
    }
    if (typeof globalThis.addEventListener === "function") {
      this.#pageHide = () => this.#sendNotice();
      globalThis.addEventListener("pagehide", this.#pageHide);
    }
  }

  /**
   * Loads every stored event, reporting `{ loaded, total }`.
   * @param {Progress | undefined} onProgress
   * @returns {Promise<void>}
   */
  load(onProgress) {
    // In the lane: a notice from another tab may arrive while loading.
    return this.#exclusive(() => this.#load(onProgress));
  }

  /** Reads, soon, what other tabs stored after the head. */
  catchUp() {
    if (!this.closed) this.#exclusive(() => this.#catchUp()).catch(() => {});
  }

  /** @param {Progress | undefined} onProgress */
  async #load(onProgress) {
    let last;
    try {
      last = await idbLast(this.#db);
    } catch (e) {
      throw fromWire(e);
    }
    const total = last === undefined ? 0 : lastRevision(last);
    /** @param {number} loaded */
    const report = (loaded) => onProgress?.({ loaded, total: Number.isSafeInteger(total) ? Math.max(total, loaded) : loaded });
    const loaded = await this.#catchUp(report);
    onProgress?.({ loaded, total: loaded });
  }

  /**
   * Reads and publishes what is stored after the head; returns how many
   * events. The next chunk is requested before this one is decoded, so
   * IndexedDB reads while the engine restores.
   * @param {(count: number) => void} [progress]
   * @returns {Promise<number>}
   */
  async #catchUp(progress) {
    let count = 0;
    let limit = FIRST_READ;
    /** @type {(from: number, n: number) => Promise<StoredRecord[]>} */
    const read = (from, n) => {
      const p = idbRead(this.#db, from, n).catch((e) => {
        throw this.closed ? closedError() : fromWire(e);
      });
      p.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
      return p;
    };
    let from = this.#events.length + 1;
    let pending = read(from, limit);
    for (;;) {
      let records;
      try {
        records = await pending;
      } catch (e) {
        if (this.closed) return count;
        throw e;
      }
      if (records.length === 0) return count;
      const more = records.length === limit;
      if (more) {
        // Events per record so far tell how many records make a chunk.
        // (If the last record is corrupt, NaN: decoding it below throws.)
        const next = lastRevision(records.at(-1)) + 1;
        limit = Math.min(CHUNK_EVENTS, Math.max(1, Math.round((CHUNK_EVENTS * records.length) / (next - from))) || 1);
        from = next;
        pending = read(from, limit);
      }
      for (const run of runs(records, this.#events.length + 1)) {
        this.#publish(run.events, restore(this.#engine, run.text));
        count += run.events.length;
      }
      progress?.(count);
      if (!more) return count;
    }
  }

  /**
   * Commits a prepared request (see request.js) with the next group.
   * @param {Prepared} prepared
   * @returns {Promise<Commit>}
   */
  transact(prepared) {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#queue.push({ prepared, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#exclusive(() => this.#commitGroup());
      }
    });
  }

  /**
   * Runs `work` after everything queued before it.
   * @template T
   * @param {() => T | Promise<T>} work
   * @returns {Promise<T>}
   */
  #exclusive(work) {
    const run = this.#lane.then(work);
    this.#lane = run.catch(() => {});
    return run;
  }

  async #commitGroup() {
    this.#scheduled = false;
    const group = this.#queue.splice(0);
    if (group.length === 0) return;
    try {
      if (this.closed) throw closedError();
      const start = this.#events.length;
      // Decided against memory first; decided again inside the transaction
      // against what other tabs stored, if they stored anything since.
      let staged = this.#stage([], group, start);
      try {
        await idbCommit(this.#db, start, staged.records, (/** @type {StoredRecord[]} */ theirs) => {
          staged = this.#stage(theirs, group, start);
          return staged.records;
        });
      } catch (e) {
        const error = this.closed ? closedError() : fromWire(e);
        for (const item of group) item.reject(item.error ?? error);
        return;
      }
      // Durable: apply the same runs for real, in the same order.
      for (const run of staged.runs) this.#publish(run.events, restore(this.#engine, run.text));
      for (const item of group) {
        if (item.error) item.reject(item.error);
        else item.resolve(/** @type {Commit} set by #stage where no error is */ (item.commit));
      }
      this.#notify();
    } catch (e) {
      // Whatever failed, every transact of the group settles (a settled
      // promise ignores the second call).
      for (const item of group) item.reject(e);
    }
  }

  /**
   * Restores `theirs` (records other tabs stored after `start`), applies
   * each queued request (recording its commit or error on the item) and
   * turns its events into JSON text, then puts the engine back at `start`.
   * Returns the runs of events to publish, in order, and the records to
   * write.
   * @param {StoredRecord[]} theirs
   * @param {Queued[]} group
   * @param {number} start
   * @returns {{ runs: Run[], records: StoredRecord[] }}
   */
  #stage(theirs, group, start, careful = false) {
    /** @type {Run[]} */
    const runsInOrder = [];
    /** @type {Run[]} */
    const ours = [];
    /** @type {RecordedEvent[]} */
    const staged = [];
    /** @param {number} r */
    const eventAt = (r) => (r <= start ? this.#events[r - 1] : staged[r - start - 1]);
    try {
      for (const run of runs(theirs, start + 1)) {
        restore(this.#engine, run.text);
        runsInOrder.push(run);
        for (const e of run.events) staged.push(e);
      }
      for (const item of group) {
        item.commit = item.error = undefined;
        try {
          const { commit, events } = this.#apply(item.prepared, eventAt);
          if (events.length > 0) {
            let text = "";
            if (careful) {
              try {
                text = JSON.stringify(events);
              } catch (e) {
                this.#engine.truncate(start + staged.length); // this batch only
                throw tooLarge(e);
              }
            }
            ours.push({ events, text });
            for (const e of events) staged.push(e);
          }
          item.commit = commit;
        } catch (e) {
          item.error = e;
        }
      }
    } finally {
      this.#engine.truncate(start);
    }
    // Usually one JSON text per record; if that fails or a record of
    // several batches grows too long, the group is staged again with a text
    // per batch, so that a batch that cannot be stored fails alone.
    const records = careful ? toRecords(ours) : recordsAtOnce(ours);
    if (records === null) return this.#stage(theirs, group, start, true);
    for (const r of records) runsInOrder.push({ events: r.run, text: r.record.events });
    return { runs: runsInOrder, records: records.map((r) => r.record) };
  }

  /**
   * Appends whole batches (`{ events, text }`, already recorded) as one
   * IndexedDB transaction, then publishes them: an import. `check(start)`
   * runs in the lane while IndexedDB writes; it must leave the engine at
   * `start` with the batches staged (Engine.stageBytes), and if it throws
   * the transaction is aborted. If another tab
   * stored anything after `start` meanwhile, nothing is stored and the
   * promise rejects with `moved(start)`.
   * @param {Run[]} batches
   * @param {(start: number) => unknown} check
   * @param {(start: number) => Error} moved
   * @returns {Promise<void>}
   */
  append(batches, check, moved) {
    return this.#exclusive(async () => {
      if (this.closed) throw closedError();
      const start = this.#events.length;
      const records = toRecords(batches);
      let tx;
      try {
        tx = idbAppend(this.#db, records.map((r) => r.record));
      } catch (e) {
        throw this.closed ? closedError() : fromWire(e);
      }
      const settled = idbSettled(tx).catch((e) => {
        throw this.closed ? closedError() : fromWire(e);
      });
      try {
        check(start);
      } catch (e) {
        idbAbort(tx);
        await settled.catch(() => {});
        throw e;
      }
      let stored = false;
      try {
        stored = await settled;
      } finally {
        if (!stored) this.#engine.discardStaged();
      }
      if (!stored) throw moved(start); // what the others stored comes with the next catch-up
      // Durable: the runs the check staged, applied without parsing them again.
      /** @type {RecordedEvent[]} */
      const events = [];
      for (const r of records) for (const e of r.run) events.push(e);
      let woken;
      try {
        woken = Array.from(this.#engine.applyStaged());
      } catch (e) {
        throw fromWire(e);
      }
      this.#publish(events, woken);
      this.#notify();
    });
  }

  /**
   * Tells other tabs that there is more to read: at once after a quiet
   * spell, then at most once per NOTICE_GAP_MS while commits keep coming
   * (a BroadcastChannel message costs a writer as much as a commit).
   */
  #notify() {
    if (this.#channel === null || this.#noticeTimer !== null) return;
    const wait = Math.max(0, this.#lastNotice + NOTICE_GAP_MS - Date.now());
    this.#noticeTimer = setTimeout(() => this.#sendNotice(), wait);
  }

  /** Sends the notice owed, if one is. */
  #sendNotice() {
    if (this.#noticeTimer === null) return;
    clearTimeout(this.#noticeTimer);
    this.#noticeTimer = null;
    this.#lastNotice = Date.now();
    // A notice is owed only where there is a channel (#notify).
    /** @type {BroadcastChannel} */ (this.#channel).postMessage(this.#events.length);
  }

  /**
   * Stops accepting writes and releases the connection; `reason`: "closed",
   * "deleted" or "upgraded". A group already writing completes, and the
   * notice it owes other tabs is sent before the channel closes.
   * @param {"closed" | "deleted" | "upgraded"} [reason]
   */
  close(reason = "closed") {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.#queue.splice(0)) item.reject(closedError());
    if (this.#pageHide !== null) globalThis.removeEventListener?.("pagehide", this.#pageHide);
    this.#db.close();
    this.#exclusive(() => {
      this.#sendNotice();
      this.#channel?.close();
    });
    this.#onClosed(reason);
  }
}

/**
 * The revision of the last event a record holds (NaN if it does not say).
 * @param {any} r as stored
 */
function lastRevision(r) {
  return Number.isSafeInteger(r?.last) ? r.last : NaN;
}

/**
 * The events that `records` hold, from revision `first` on, as runs that
 * the engine restores in one call: `{ events, text }`, the frozen recorded
 * events and their JSON text. A record that does not decode, or does not
 * follow, is a StorageError "corrupt".
 * @param {any[]} records as stored
 * @param {number} first
 * @returns {Generator<Run>}
 */
function* runs(records, first) {
  let next = first;
  for (const r of records) {
    const events = fromRun(r, next);
    next += events.length;
    yield { events, text: r.events };
  }
}

/**
 * The records to write, `{ record, run }`, from whole batches given as
 * `{ events, text }` (their JSON text): a record is closed before a batch
 * that would take it past RECORD_EVENTS events or RECORD_CHARS characters.
 * @param {Run[]} batches
 * @returns {{ record: StoredRecord, run: RecordedEvent[] }[]}
 */
function toRecords(batches) {
  /** @type {{ record: StoredRecord, run: RecordedEvent[] }[]} */
  const out = [];
  /** @type {RecordedEvent[]} */
  let run = [];
  /** @type {string[]} */
  let texts = [];
  let chars = 0;
  const flush = () => {
    const events = texts.length === 1 ? texts[0] : `[${texts.map((t) => t.slice(1, -1)).join(",")}]`;
    // Flushed only when `run` is not empty.
    out.push({ record: { revision: run[0].revision, last: /** @type {RecordedEvent} */ (run.at(-1)).revision, events }, run });
    run = [];
    texts = [];
    chars = 0;
  };
  for (const b of batches) {
    if (run.length > 0 && (run.length + b.events.length > RECORD_EVENTS || chars + b.text.length > RECORD_CHARS)) flush();
    for (const e of b.events) run.push(e);
    texts.push(b.text);
    chars += b.text.length;
  }
  if (run.length > 0) flush();
  return out;
}

/**
 * The records to write, each one JSON text of up to RECORD_EVENTS events of
 * whole batches, or null if a text cannot be made or one of several
 * batches is past RECORD_CHARS (then each batch needs its own text).
 * @param {Run[]} batches
 * @returns {{ record: StoredRecord, run: RecordedEvent[] }[] | null}
 */
function recordsAtOnce(batches) {
  /** @type {{ record: StoredRecord, run: RecordedEvent[] }[]} */
  const out = [];
  /** @type {RecordedEvent[]} */
  let run = [];
  let count = 0;
  const flush = () => {
    let events;
    try {
      events = JSON.stringify(run);
    } catch {
      return false;
    }
    if (events.length > RECORD_CHARS && count > 1) return false;
    out.push({ record: { revision: run[0].revision, last: run[run.length - 1].revision, events }, run });
    run = [];
    count = 0;
    return true;
  };
  for (const b of batches) {
    if (run.length > 0 && run.length + b.events.length > RECORD_EVENTS && !flush()) return null;
    for (const e of b.events) run.push(e);
    count++;
  }
  if (run.length > 0 && !flush()) return null;
  return out;
}

/**
 * A batch whose JSON text cannot be made (past the runtime's string limit).
 * @param {any} cause what JSON.stringify threw
 */
const tooLarge = (cause) =>
  new InvalidInputError(
    `Invalid input at events: the batch is too large to store (${cause?.message ?? cause}); split it into smaller batches.`,
    "events",
  );

/** @type {(revision: number, why: string) => StorageError & { revision: number }} */
const corrupt = (revision, why) =>
  Object.assign(
    new StorageError(
      `The stored event at revision ${revision} is corrupt (${why}); the store cannot be loaded as it is.`,
      "corrupt",
    ),
    { revision },
  );

/**
 * A record's events, from revision `first` on, checked and frozen
 * in place by the one definition of a recorded event (record.js). The
 * engine checks the fields it keeps when it restores the same text.
 * @param {any} r as stored
 * @param {number} first
 * @returns {RecordedEvent[]}
 */
function fromRun(r, first) {
  const at = r?.revision;
  if (at !== first) throw corrupt(first, `found a record at revision ${at} where ${first} follows`);
  if (typeof r.events !== "string" || !Number.isSafeInteger(r.last)) {
    throw corrupt(at, "not a record of a run of batches ({ revision, last, events })");
  }
  let events;
  try {
    events = JSON.parse(r.events);
  } catch (e) {
    throw corrupt(at, `its events are not JSON: ${/** @type {SyntaxError} */ (e).message}`);
  }
  if (!Array.isArray(events) || events.length !== r.last - at + 1) {
    throw corrupt(at, `its events do not fill revisions ${at} to ${r.last}`);
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const revision = at + i;
    if (e?.revision !== revision) throw corrupt(revision, "not an event record");
    const fault = decodeRecorded(e, false);
    if (fault !== null) throw corrupt(revision, `${fault.field}: ${fault.why}`);
  }
  return events;
}

/**
 * Checks `open`'s arguments.
 * @param {unknown} name
 * @param {any} options as given
 * @returns {Progress | undefined}
 */
export function checkOpen(name, options) {
  if (typeof name !== "string" || name === "") throw invalid("name", "expected the database's name, a non-empty string");
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") throw invalid("options", "expected { onProgress? }");
  for (const k of Object.keys(options)) {
    if (k === "sync") {
      throw invalid("options.sync", "an IndexedDB store does not sync yet; EventStore.memory({ sync }) does (its pending batches live in memory)");
    }
    if (k !== "onProgress") throw invalid(`options.${k}`, "unknown option; expected onProgress");
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw invalid("options.onProgress", "expected a function ({ loaded, total }) => void");
  }
  return options.onProgress;
}
