// The IndexedDB side of a persistent store.
//
// IndexedDB is reached through the engine's web-sys functions (idbOpen,
// idbRead, idbAppend, …), which call no JavaScript of this package; this
// file decides what a record holds and orders the work.
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
//   anything since this tab's head, the first record's key is taken and
//   nothing is stored: the group is decided again after restoring what the
//   others stored, and written again, until a write finds its key free; so
//   every check sees the database as it stands. (A group of refusals only
//   stands if nobody stored anything after its head.) Only once a
//   transaction has completed are the batches applied for real and
//   published, so nothing of a failed write is ever visible. Every
//   transact of a group settles, whatever fails.
// - Other tabs: a BroadcastChannel notice after commits makes the others
//   read what they have not seen. A notice owed is sent at once on close
//   and on `pagehide`.
//
// - A syncing store (sync.js): `events` holds the confirmed prefix, kept
//   by the tab that leads; `pending`, `rejected` and `sync` hold the queue
//   every tab shares. Every change of them is one transaction, made holding
//   the device's write lock (locks.js) after taking in the last change
//   (`sync.changes` counts them), so a decision made here sees every batch
//   of every tab; other tabs take it in on the notice, from one snapshot.
//
// Invariants: outside #stage and an import's check, the engine holds
// exactly the published events. Every tab's head is at a record boundary of
// the database, and every write starts at its head + 1: so a record keyed
// head + 1 exists exactly when some tab wrote after that head. Groups,
// imports and catch-up reads run one at a time (`lane`).

import { idbAbort, idbAppend, idbGet, idbLast, idbRead, idbSettled, idbSyncRead, idbWrite } from "./wasm/hindcast.js";
import { InvalidInputError, StorageError, fromWire, invalid } from "./errors.js";
import { decodeRecorded, joinArrays, restore } from "./record.js";
import { exclusive, hold } from "./locks.js";
import { checkSync } from "./sync.js";
import { checkBatchSize, pendingRecord } from "./pending.js";

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
 * @import { Sync, SyncState, Durable } from "./sync.js"
 * @import { PendingEntry, PendingRecord } from "./pending.js"
 */

/** A record holds whole batches; another starts once one holds this many events… */
const RECORD_EVENTS = 1_000;
/** …or this many characters of JSON. */
const RECORD_CHARS = 1 << 22;
/** Events aimed at per read while loading or catching up. */
const CHUNK_EVENTS = 10_000;
/** Records asked for by the first read; later reads adapt to the record size. */
const FIRST_READ = 16;
/** No limit, for a read of every record after a key. */
const ALL_RECORDS = 0xffff_ffff;
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
  #name;
  /**
   * A syncing store's sync; null without sync.
   * @type {Sync | null}
   */
  #sync = null;
  /** The `changes` of the stored sync state this tab has taken in (-1: none yet). */
  #changes = -1;
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
    this.#name = name;
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
    if (this.closed) return;
    this.#exclusive(async () => {
      if (this.#sync === null) await this.#catchUp();
      else await this.#syncCatchUp();
    }).catch(() => {});
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
    let loaded = await this.#catchUp(report);
    const sync = this.#sync;
    if (sync !== null) {
      // The confirmed prefix is loaded; the queue and what joined the prefix meanwhile come in one snapshot.
      sync.confirmed = this.#events.length;
      await this.#syncTakeIn();
      loaded = this.#events.length;
    }
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
    if (this.#sync !== null) return this.#syncGroup(this.#sync, group);
    try {
      if (this.closed) throw closedError();
      const start = this.#events.length;
      // Decided against memory first; decided again, after reading what
      // other tabs stored since `start`, whenever they stored anything.
      /** @type {StoredRecord[]} */
      let theirs = [];
      let staged = this.#stage(theirs, group, start);
      try {
        for (;;) {
          if (staged.records.length > 0) {
            // Our first key is free exactly when no tab stored after `start`.
            if (await this.#io(() => idbSettled(idbAppend(this.#db, staged.records)))) break;
          }
          // A key was taken, or there is nothing to write (refusals, which
          // what the others stored may overturn): read theirs, decide again.
          const now = await this.#io(() => idbRead(this.#db, start + 1, ALL_RECORDS));
          if (staged.records.length === 0 && now.length === theirs.length) break;
          theirs = now;
          staged = this.#stage(theirs, group, start);
        }
      } catch (e) {
        for (const item of group) item.reject(item.error ?? e);
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

  // --- a syncing store's queue (see sync.js) ------------------------------

  /** The lock every change of the stored queue is made under, in every tab. */
  get #writeLock() {
    return `hindcast:${this.#name}:write`;
  }

  /**
   * Checks the database's sync state against `url` (undefined for a store
   * without sync, whose database must have none) and, for a new syncing
   * store, creates it: a clientId of its own. Returns the state.
   * @param {string | undefined} url
   * @returns {Promise<SyncState | undefined>}
   */
  async syncState(url) {
    const name = this.#name;
    const read = async () => /** @type {SyncState | undefined} */ (await this.#io(() => idbGet(this.#db, "sync", "state")));
    /** @param {SyncState} state */
    const same = (state) => {
      if (state.url !== url) {
        throw invalid(
          "options.sync.url",
          `the store "${name}" syncs with ${state.url}; open it with that url (a device's confirmed prefix belongs to one log), or EventStore.delete it first`,
        );
      }
      return state;
    };
    const state = await read();
    if (url === undefined) {
      if (state !== undefined) {
        throw invalid("options.sync", `the store "${name}" syncs with ${state.url}; open it with { sync: { url: "${state.url}" } }`);
      }
      return undefined;
    }
    if (state !== undefined) return same(state);
    return exclusive(this.#writeLock, async () => {
      const again = await read(); // another tab may have made it meanwhile
      if (again !== undefined) return same(again);
      if ((await this.#io(() => idbLast(this.#db))) !== undefined) {
        throw invalid(
          "options.sync",
          `the store "${name}" holds events written without sync; a syncing store starts from its server's log (use another name, or EventStore.delete it first)`,
        );
      }
      /** @type {SyncState} */
      const fresh = { key: "state", url, clientId: crypto.randomUUID(), lastSeq: 0, changes: 0 };
      await this.#io(() => idbWrite(this.#db, [{ store: "sync", put: fresh }]));
      return fresh;
    });
  }

  /**
   * Makes this a syncing store's persistence; returns the side that `sync` uses.
   * @param {SyncState} state
   * @param {(durable: Durable) => Sync} makeSync
   */
  attachSync(state, makeSync) {
    /** @type {Durable} */
    const durable = {
      name: this.#name,
      clientId: state.clientId,
      exclusive: (work) => this.#syncExclusive(work),
      write: (what, at) => this.#syncWrite(what, at),
      takeIn: () => this.#exclusive(() => this.#syncCatchUp()),
      lead: (granted) => hold(`hindcast:${this.#name}:lead`, granted),
    };
    this.#sync = makeSync(durable);
    return this.#sync;
  }

  /**
   * An IndexedDB call, its error a StorageError ("closed" once closed).
   * @template T
   * @param {() => Promise<T>} call
   * @returns {Promise<T>}
   */
  async #io(call) {
    try {
      return await call();
    } catch (e) {
      throw this.closed ? closedError() : fromWire(e);
    }
  }

  /**
   * Runs `work(state)` in the lane, holding the device's write lock, once
   * this tab has taken in the stored queue.
   * @template T
   * @param {(state: SyncState) => Promise<T>} work
   * @returns {Promise<T>}
   */
  #syncExclusive(work) {
    return this.#exclusive(() => this.#syncLocked(work));
  }

  /**
   * #syncExclusive's work, for a caller already in the lane.
   * @template T
   * @param {(state: SyncState) => Promise<T>} work
   * @returns {Promise<T>}
   */
  #syncLocked(work) {
    return exclusive(this.#writeLock, async () => {
      if (this.closed) throw closedError();
      /** @type {SyncState} */
      let state = await this.#io(() => idbGet(this.#db, "sync", "state"));
      if (state?.changes !== this.#changes) state = await this.#syncTakeIn();
      return work(state);
    });
  }

  /** Takes in what other tabs changed, if they did (a notice's catch-up: no lock needed). */
  async #syncCatchUp() {
    const state = await this.#io(() => idbGet(this.#db, "sync", "state"));
    if (state?.changes !== this.#changes) await this.#syncTakeIn();
  }

  /**
   * Reads the stored queue and what joined the prefix after C, as one
   * snapshot, and takes it in (sync.absorb). Returns the sync state.
   * @returns {Promise<SyncState>}
   */
  async #syncTakeIn() {
    const sync = /** @type {Sync} */ (this.#sync);
    const from = sync.confirmed;
    /** @type {{ events: StoredRecord[], pending: PendingRecord[], rejected: any[], sync: SyncState | undefined }} */
    const snap = await this.#io(() => idbSyncRead(this.#db, from));
    const state = snap.sync;
    if (state === undefined) throw new StorageError("The store's sync state is missing from IndexedDB; the store cannot be loaded as it is.", "corrupt");
    if (state.changes === this.#changes) return state;
    /** @type {RecordedEvent[]} */
    const events = [];
    for (const run of runs(snap.events, from + 1)) for (const e of run.events) events.push(e);
    sync.absorb(events, snap.pending, snap.rejected);
    this.#changes = state.changes;
    return state;
  }

  /**
   * Stores a change of the queue in one transaction (within #syncExclusive,
   * whose `state` it advances), then tells the other tabs.
   * @param {{ change?: import("./sync.js").Change, added?: PendingEntry[], dismissed?: string[] }} what
   * @param {SyncState} state
   */
  async #syncWrite({ change, added = [], dismissed = [] }, state) {
    /** @type {({ store: string, add: unknown } | { store: string, put: unknown } | { store: string, delete: unknown })[]} */
    const ops = [];
    /** @type {[PendingEntry, PendingRecord][]} */
    const stored = [];
    if (change !== undefined) {
      for (const r of toRecords(change.pulled)) ops.push({ store: "events", add: r.record });
      for (const { entry } of change.joined) ops.push({ store: "pending", delete: entry.body.seq });
      for (const { entry, rejection } of change.rejected) {
        ops.push({ store: "pending", delete: entry.body.seq });
        if (rejection !== null) ops.push({ store: "rejected", put: { ...rejection, seq: entry.body.seq } });
      }
      for (const { entry, committed } of change.survivors) {
        if (committed === null || entry.stored?.committed !== undefined) continue;
        const r = pendingRecord({ ...entry, committed });
        ops.push({ store: "pending", put: r });
        stored.push([entry, r]);
      }
    }
    let lastSeq = state.lastSeq;
    for (const p of added) {
      const r = pendingRecord(p);
      ops.push({ store: "pending", add: r });
      stored.push([p, r]);
      lastSeq = Math.max(lastSeq, p.body.seq);
    }
    for (const id of dismissed) ops.push({ store: "rejected", delete: id });
    const next = { ...state, lastSeq, changes: state.changes + 1 };
    ops.push({ store: "sync", put: next });
    await this.#io(() => idbWrite(this.#db, ops));
    state.lastSeq = next.lastSeq;
    state.changes = this.#changes = next.changes;
    for (const [p, r] of stored) p.stored = r;
    this.#notify();
  }

  /**
   * A syncing store's commit group: decided, holding the write lock,
   * against the local log with every tab's batches taken in; its batches
   * stored as pending in one transaction; then published.
   * @param {Sync} sync
   * @param {Queued[]} group
   */
  async #syncGroup(sync, group) {
    try {
      // Already in the lane (#commitGroup).
      await this.#syncLocked(async (state) => {
        const start = this.#events.length;
        /** @type {RecordedEvent[]} */
        const staged = [];
        /** @param {number} r */
        const eventAt = (r) => (r <= start ? this.#events[r - 1] : staged[r - start - 1]);
        /** @type {PendingEntry[]} */
        const entries = [];
        const own = sync.pendingIds();
        let seq = state.lastSeq;
        try {
          for (const item of group) {
            item.commit = item.error = undefined;
            try {
              checkBatchSize(item.prepared);
              const { commit, events } = this.#apply(item.prepared, eventAt);
              if (commit.replayed) {
                item.commit = sync.replayed(commit, entries); // maybe a batch of this group
                continue;
              }
              let push;
              try {
                push = sync.pushable(events);
              } catch (e) {
                this.#engine.truncate(start + staged.length); // this batch only
                throw e;
              }
              const entry = sync.entry(commit, events, item.prepared, push, ++seq, own.concat(entries.map((p) => p.id)));
              entries.push(entry);
              for (const e of events) staged.push(e);
              item.commit = sync.commitOf(commit, entry);
            } catch (e) {
              item.error = e;
            }
          }
        } finally {
          this.#engine.truncate(start);
        }
        if (entries.length > 0) await this.#syncWrite({ added: entries }, state);
        // Stored: applied for real, in the same order.
        // The records' texts, made once (#syncWrite set `stored`).
        const texts = entries.map((p) => /** @type {PendingRecord} */ (p.stored).events);
        if (staged.length > 0) this.#publish(staged, restore(this.#engine, joinArrays(texts)));
        sync.adopt(entries);
      });
    } catch (e) {
      for (const item of group) item.reject(item.error ?? e);
      return;
    }
    for (const item of group) {
      if (item.error) item.reject(item.error);
      else item.resolve(/** @type {Commit} */ (item.commit));
    }
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
    const events = joinArrays(texts);
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
 * Checks `open`'s arguments: `{ onProgress?, sync? }`.
 * @param {unknown} name
 * @param {any} options as given
 * @returns {{ onProgress: Progress | undefined, sync: ReturnType<typeof checkSync> | undefined }}
 */
export function checkOpen(name, options) {
  if (typeof name !== "string" || name === "") throw invalid("name", "expected the database's name, a non-empty string");
  if (options === undefined) return { onProgress: undefined, sync: undefined };
  if (options === null || typeof options !== "object") throw invalid("options", "expected { onProgress?, sync? }");
  for (const k of Object.keys(options)) {
    if (k !== "onProgress" && k !== "sync") throw invalid(`options.${k}`, "unknown option; expected onProgress or sync");
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw invalid("options.onProgress", "expected a function ({ loaded, total }) => void");
  }
  return { onProgress: options.onProgress, sync: options.sync === undefined ? undefined : checkSync(options.sync) };
}
