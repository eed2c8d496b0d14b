// The IndexedDB side of a persistent store: it performs the IO that the
// core's storage flow asks for and builds the event objects.
//
// The flow (records, reading in chunks, the commit group written again
// when another tab wrote first, notices to other tabs) and its invariants
// are decided and written once, in the core: src/storage.rs. IndexedDB is
// reached through the engine's web-sys functions (idbOpen, idbRead,
// idbAppend, …; src/wasm/idb.rs), which call no JavaScript of this
// package. What stays here is what is faster in JavaScript: the recorded
// event objects and their JSON text, made once and shared by the engine's
// restore and the stored record.
//
// - Loading and catching up: records are read in chunks (the core's
//   Reader), decoded and restored into the engine record by record; one
//   that does not fit is a StorageError "corrupt" naming the revision.
// - Writing: concurrent transacts are queued and committed as one group
//   (the core's GroupWrite). Staging checks and applies each request in
//   turn against memory, failing on its own, then puts the engine back;
//   each record's events become one JSON text (if that fails, or a record
//   of several batches would be too long, the group is staged again with
//   a text per batch, so that a batch too large to store fails alone).
//   Only once a write has completed are the batches applied for real and
//   published, so nothing of a failed write is ever visible; every
//   transact of a group settles, whatever fails.
// - Other tabs: a BroadcastChannel notice after commits (the core's
//   Notices) makes the others read what they have not seen. A notice owed
//   is sent at once on close and on `pagehide`.
//
// - A syncing store (sync.js): `events` holds the confirmed prefix, kept
//   by the tab that leads; `pending`, `rejected` and `sync` hold the queue
//   every tab shares. Every change of them is one transaction, made holding
//   the device's write lock (locks.js) after taking in the last change
//   (`sync.changes` counts them), so a decision made here sees every batch
//   of every tab; other tabs take it in on the notice, from one snapshot.
//
// Groups, imports and catch-up reads run one at a time (`lane`).

import {
  GroupWrite,
  Notices,
  Reader,
  corruptRecord,
  idbAbort,
  idbAppend,
  idbGet,
  idbLast,
  idbPut,
  idbRead,
  idbSettled,
  idbSyncRead,
  idbWrite,
  packRecords,
  recordFits,
} from "./wasm/hindcast.js";
import { StorageError, fromWire, invalid } from "./errors.js";
import { decodeRecorded, joinArrays, restore } from "./record.js";
import { Schemas } from "./schemas.js";
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
 * @import { Sync, SyncState, Durable, Dismissed } from "./sync.js"
 * @import { PendingEntry, PendingRecord } from "./pending.js"
 */

/** No limit, for a read of every record after a key. */
const ALL_RECORDS = 0xffff_ffff;
/**
 * Dismissed rejections remembered in the sync state: a tab that missed
 * more dismissals than this between two take-ins of the queue rejects a
 * refused batch's `confirmed` with empty violations.
 */
const DISMISSED_KEPT = 64;

/** Thrown by a write decided on a state another tab has changed since (#syncLocked decides again). */
const STALE = Symbol("stale");

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
  /** When to tell other tabs (src/storage.rs). */
  #notices = new Notices();
  /** The steps of the commit group writing (src/storage.rs); one group at a time. */
  #plan = new GroupWrite();
  /**
   * The timer of the notice owed to other tabs; null when none is owed.
   * @type {ReturnType<typeof setTimeout> | null}
   */
  #noticeTimer = null;
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
  /**
   * The stored sync state this tab has taken in: a change is decided on it,
   * and its write stores nothing if another tab changed the state since.
   * @type {SyncState | null}
   */
  #state = null;
  closed = false;
  /**
   * Projections that keep snapshots here (subscription.js), saved when the
   * store closes or the page hides.
   * @type {Set<{ saveSnapshot(): void }>}
   */
  snapshotted = new Set();

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
      this.#pageHide = () => {
        this.#sendNotice();
        for (const p of this.snapshotted) p.saveSnapshot();
      };
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
   * Reads and publishes what is stored after the head, chunk by chunk as
   * the core's Reader asks; returns how many events. The next chunk is
   * requested before this one is decoded, so IndexedDB reads while the
   * engine restores.
   * @param {(count: number) => void} [progress]
   * @returns {Promise<number>}
   */
  async #catchUp(progress) {
    let count = 0;
    const reader = new Reader(this.#events.length);
    const read = () => {
      const p = idbRead(this.#db, reader.from, reader.limit).catch((e) => {
        throw this.closed ? closedError() : fromWire(e);
      });
      p.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
      return p;
    };
    try {
      let pending = read();
      for (;;) {
        /** @type {StoredRecord[]} */
        let records;
        try {
          records = await pending;
        } catch (e) {
          if (this.closed) return count;
          throw e;
        }
        if (records.length === 0) return count;
        let more;
        try {
          more = reader.received(spans(records));
        } catch (e) {
          throw fromWire(e);
        }
        if (more) pending = read();
        for (const run of runs(records)) {
          this.#publish(run.events, restore(this.#engine, run.text));
          count += run.events.length;
        }
        progress?.(count);
        if (!more) return count;
      }
    } finally {
      reader.free();
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
      // The core's GroupWrite says what to do next (src/storage.rs):
      // write, or read what other tabs stored after `start` and stage the
      // group again on top of it.
      /** @type {StoredRecord[]} */
      let theirs = [];
      let staged = this.#stage(theirs, group, start);
      const plan = this.#plan;
      plan.begin();
      try {
        let step = plan.staged(staged.records.length);
        while (step !== "done") {
          if (step === "write") {
            const records = staged.records;
            step = plan.written(await this.#io(() => idbSettled(idbAppend(this.#db, records))));
          } else if (step === "read") {
            theirs = await this.#io(() => idbRead(this.#db, start + 1, ALL_RECORDS));
            step = plan.read(theirs.length);
          } else {
            staged = this.#stage(theirs, group, start);
            step = plan.staged(staged.records.length);
          }
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
      for (const run of runs(follow(theirs, start))) {
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

  /** Tells other tabs, soon, that there is more to read (src/storage.rs, Notices). */
  #notify() {
    if (this.#channel === null) return;
    const wait = this.#notices.committed(Date.now());
    if (wait >= 0) this.#noticeTimer = setTimeout(() => this.#sendNotice(), wait);
  }

  /** Sends the notice owed, if one is. */
  #sendNotice() {
    if (this.#noticeTimer !== null) clearTimeout(this.#noticeTimer);
    this.#noticeTimer = null;
    // A notice is owed only where there is a channel (#notify).
    if (this.#notices.send(Date.now())) /** @type {BroadcastChannel} */ (this.#channel).postMessage(this.#events.length);
  }

  // --- a syncing store's queue (see sync.js) ------------------------------

  /** The lock every change of the stored queue is made under, in every tab. */
  get #writeLock() {
    return `hindcast:${this.#name}:write`;
  }

  /**
   * Checks the database's sync state against `url` (undefined for a store
   * without sync). Whether a database syncs, and with which log, was
   * decided by the open that created it (initialState), once for every
   * tab. Returns the state of a syncing store.
   * @param {string | undefined} url
   * @returns {Promise<SyncState | undefined>}
   */
  async syncState(url) {
    const name = this.#name;
    /** @type {SyncState | { url: null } | undefined} (undefined: made before the mark, without sync) */
    const state = await this.#io(() => idbGet(this.#db, "sync", "state"));
    const syncing = state !== undefined && state.url !== null ? /** @type {SyncState} */ (state) : undefined;
    if (url === undefined) {
      if (syncing !== undefined) {
        throw invalid("options.sync", `the store "${name}" syncs with ${syncing.url}; open it with { sync: { url: "${syncing.url}" } }`);
      }
      return undefined;
    }
    if (syncing === undefined) {
      throw invalid(
        "options.sync",
        `the store "${name}" was made without sync; a syncing store starts from its server's log (use another name, or EventStore.delete it first)`,
      );
    }
    if (syncing.url !== url) {
      throw invalid(
        "options.sync.url",
        `the store "${name}" syncs with ${syncing.url}; open it with that url (a device's confirmed prefix belongs to one log), or EventStore.delete it first`,
      );
    }
    return syncing;
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
      // Decided on the state last taken in; a write finding it changed
      // (another tab wrote) stores nothing, and the change is decided
      // again on what that tab stored.
      for (;;) {
        if (this.closed) throw closedError();
        const state = this.#state ?? (await this.#syncTakeIn());
        try {
          return await work(state);
        } catch (e) {
          if (e !== STALE) throw e;
          this.#state = null;
        }
      }
    });
  }

  /** Takes in what other tabs changed, if they did (a notice's catch-up: no lock needed). */
  async #syncCatchUp() {
    if ((await this.#storedChanges()) !== this.#changes) await this.#syncTakeIn();
  }

  /** The stored sync state's `changes` (one readonly transaction). */
  async #storedChanges() {
    return (await this.#io(() => idbGet(this.#db, "sync", "state")))?.changes;
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
    if (state.changes !== this.#changes) {
      /** @type {RecordedEvent[]} */
      const events = [];
      for (const run of runs(follow(snap.events, from))) for (const e of run.events) events.push(e);
      sync.absorb(events, snap.pending, snap.rejected, state.dismissed ?? []);
      this.#changes = state.changes;
    }
    this.#state = state;
    return state;
  }

  /**
   * Stores a change of the queue in one transaction (within #syncExclusive,
   * whose `state` it advances), then tells the other tabs.
   * @param {{ change?: import("./sync.js").Change, added?: PendingEntry[], dismissed?: Dismissed[] }} what
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
    for (const d of dismissed) ops.push({ store: "rejected", delete: d.batchId });
    const next = { ...state, lastSeq, changes: state.changes + 1 };
    if (dismissed.length > 0) next.dismissed = [...(state.dismissed ?? []), ...dismissed].slice(-DISMISSED_KEPT);
    ops.push({ store: "sync", put: next });
    if (!(await this.#io(() => idbWrite(this.#db, ops, state.changes)))) throw STALE;
    state.lastSeq = next.lastSeq;
    state.dismissed = next.dismissed;
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
              const entry = sync.entry(commit, events, item.prepared, push, ++seq, entries.map((p) => p.body.seq));
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
        // What is written is checked against the state it was decided on;
        // a group that writes nothing (each batch refused or replayed) reads
        // the state to check it.
        if (entries.length > 0) await this.#syncWrite({ added: entries }, state);
        else if ((await this.#storedChanges()) !== state.changes) throw STALE;
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
   * The snapshot kept under `key` (SPEC §5), or undefined: none, or none
   * that can be read (a snapshot only saves work, so a failure to read one
   * counts as none).
   * @param {string} key
   * @returns {Promise<any>}
   */
  async loadSnapshot(key) {
    if (this.closed) return undefined;
    try {
      return await idbGet(this.#db, "snapshots", key);
    } catch {
      return undefined;
    }
  }

  /**
   * Replaces the snapshot under `record.key`, whole (one put: a crash
   * leaves the previous one). Rejects with what stopped it (a state that
   * cannot be cloned: DataCloneError; a closed database).
   * @param {{ key: string }} record
   * @returns {Promise<void>}
   */
  async saveSnapshot(record) {
    if (this.closed) throw closedError();
    // The put is made now, before any await: a close right after completes it.
    try {
      await idbSettled(idbPut(this.#db, "snapshots", record));
    } catch (e) {
      throw fromWire(e); // a StorageError, or the DataCloneError as thrown
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
    // Snapshots go first: a connection completes what it asked before it closes.
    if (reason === "closed") for (const p of this.snapshotted) p.saveSnapshot();
    this.snapshotted.clear();
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
 * Records as stored, as the core's Reader reads them: `[first, last, …]`
 * (NaN where a record does not say).
 * @param {any[]} records as stored
 */
function spans(records) {
  const out = new Float64Array(records.length * 2);
  records.forEach((r, i) => {
    out[2 * i] = typeof r?.revision === "number" ? r.revision : NaN;
    out[2 * i + 1] = typeof r?.last === "number" ? r.last : NaN;
  });
  return out;
}

/**
 * `records`, checked by the core to follow `head` one after another.
 * @param {any[]} records as stored
 * @param {number} head
 */
function follow(records, head) {
  const reader = new Reader(head);
  try {
    reader.received(spans(records));
  } catch (e) {
    throw fromWire(e);
  } finally {
    reader.free();
  }
  return records;
}

/**
 * The events that `records` hold (checked to follow one another), as runs
 * that the engine restores in one call: `{ events, text }`, the frozen
 * recorded events and their JSON text. A record that does not decode is a
 * StorageError "corrupt".
 * @param {any[]} records as stored
 * @returns {Generator<Run>}
 */
function* runs(records) {
  for (const r of records) yield { events: fromRun(r), text: r.events };
}

/**
 * Whole batches in the records the core packs them into (src/storage.rs),
 * as `[from, to, run]`: the batches' indices and their events.
 * @param {Run[]} batches
 * @param {boolean} withTexts whether records also close by text length
 * @returns {Generator<[number, number, RecordedEvent[]]>}
 */
function* packed(batches, withTexts) {
  const counts = Uint32Array.from(batches, (b) => b.events.length);
  const chars = withTexts ? Uint32Array.from(batches, (b) => b.text.length) : new Uint32Array(0);
  let from = 0;
  for (const to of packRecords(counts, chars)) {
    /** @type {RecordedEvent[]} */
    const run = [];
    for (let i = from; i < to; i++) for (const e of batches[i].events) run.push(e);
    yield [from, to, run];
    from = to;
  }
}

/**
 * A record of `run`, whose events' JSON text is `events`.
 * @param {RecordedEvent[]} run
 * @param {string} events
 */
const recordOf = (run, events) => ({
  record: { revision: run[0].revision, last: /** @type {RecordedEvent} */ (run.at(-1)).revision, events },
  run,
});

/**
 * The records to write, `{ record, run }`, from whole batches given as
 * `{ events, text }` (their JSON text).
 * @param {Run[]} batches
 * @returns {{ record: StoredRecord, run: RecordedEvent[] }[]}
 */
function toRecords(batches) {
  const out = [];
  for (const [from, to, run] of packed(batches, true)) {
    out.push(recordOf(run, joinArrays(batches.slice(from, to).map((b) => b.text))));
  }
  return out;
}

/**
 * The records to write, each one JSON text made here for its whole
 * batches (whose `text` is not made), or null if a text cannot be made or
 * is too long for a record of several batches (then each batch needs its
 * own text: toRecords).
 * @param {Run[]} batches
 * @returns {{ record: StoredRecord, run: RecordedEvent[] }[] | null}
 */
function recordsAtOnce(batches) {
  const out = [];
  for (const [from, to, run] of packed(batches, false)) {
    let events;
    try {
      events = JSON.stringify(run);
    } catch {
      return null;
    }
    if (!recordFits(events.length, to - from)) return null;
    out.push(recordOf(run, events));
  }
  return out;
}

/**
 * A batch whose JSON text cannot be made (past the runtime's string limit).
 * @param {any} cause what JSON.stringify threw
 */
const tooLarge = (cause) => invalid("events", `the batch is too large to store (${cause?.message ?? cause}); split it into smaller batches.`);

/**
 * A record's fault, as the core words it (src/storage.rs).
 * @param {number} revision
 * @param {string} why
 */
const corrupt = (revision, why) => fromWire(corruptRecord(revision, why));

/**
 * A record's events, checked and frozen in place by the one definition of
 * a recorded event (record.js); the record is known to start where it
 * should (the core's Reader). The engine checks the fields it keeps when
 * it restores the same text.
 * @param {any} r as stored
 * @returns {RecordedEvent[]}
 */
function fromRun(r) {
  const at = r.revision;
  if (typeof r.events !== "string") throw corrupt(at, "not a record of a run of batches ({ revision, last, events })");
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
 * The sync record that a database created by this open starts with: a
 * syncing store's state (a clientId of its own), or the mark of a store
 * without sync (`url: null`).
 * @param {string | undefined} url
 */
export function initialState(url) {
  return url === undefined ? { key: "state", url: null } : { key: "state", url, clientId: crypto.randomUUID(), lastSeq: 0, changes: 0 };
}

/**
 * Checks `open`'s arguments: `{ onProgress?, sync?, schemas?, newerSchemas? }`.
 * @param {unknown} name
 * @param {any} options as given
 * @returns {{ onProgress: Progress | undefined, sync: ReturnType<typeof checkSync> | undefined, schemas: Schemas }}
 */
export function checkOpen(name, options) {
  if (typeof name !== "string" || name === "") throw invalid("name", "expected the database's name, a non-empty string");
  if (options === undefined) return { onProgress: undefined, sync: undefined, schemas: new Schemas(undefined, undefined) };
  if (options === null || typeof options !== "object") throw invalid("options", "expected { onProgress?, sync?, schemas?, newerSchemas? }");
  for (const k of Object.keys(options)) {
    if (k !== "onProgress" && k !== "sync" && k !== "schemas" && k !== "newerSchemas") {
      throw invalid(`options.${k}`, "unknown option; expected onProgress, sync, schemas or newerSchemas");
    }
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw invalid("options.onProgress", "expected a function ({ loaded, total }) => void");
  }
  return {
    onProgress: options.onProgress,
    sync: options.sync === undefined ? undefined : checkSync(options.sync),
    schemas: new Schemas(options.schemas, options.newerSchemas),
  };
}
