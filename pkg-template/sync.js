// Sync with a Hindcast server (SPEC §8.4).
//
// The local log is the confirmed prefix 1 … C, identical to the server's,
// followed by this device's pending batches in local order, with
// provisional numbers C + 1 … and `pending: true`. A local transact is
// checked locally, becomes pending, and is pushed with its view (`base`:
// C at the call, `own`: the pending batches then). What comes back moves the
// log on through the core's rebase (src/sync/rebase.rs, `rebasePlan`): pulled
// batches extend the prefix (this device's own among them join it with
// their global numbers), rejected batches leave, and the pending batches
// that remain are numbered again after the prefix. A rebase is synchronous:
// a read sees the log before or after it, never a mix.
//
// One loop talks to the server: push what is undecided, in seq order and
// within the push limits; pull until the prefix reaches the server's head;
// wait for a local write or a live message; on failure back off (1 s
// doubling to 30 s, full jitter; at once on `online`). Outcomes are final
// only from the server.
//
// A persistent store (persistent.js) keeps the queue in IndexedDB, shared
// by the device's tabs: every change of it (a transact, a rebase, a
// dismiss) is one transaction, made holding the device's write lock after
// taking in what other tabs changed (`Durable.exclusive`), and applied here
// only once stored. One tab at a time, the leader (a Web Lock), runs the
// loop; the others take in its changes through the notices and mirror its
// status.
//
// Invariants: `pending` lists exactly the batches of the local log after
// C, in local order; the engine and the events array hold C + their events.
// A persistent store's stored queue holds what `pending` holds, once its
// tab has taken in the last change.

/**
 * @import { Engine } from "./wasm/hindcast.js"
 * @import { Commit, ConfirmedCommit, RecordedEvent, SyncRejection, SyncStatus } from "./index.js"
 * @import { prepare } from "./request.js"
 * @typedef {ReturnType<typeof prepare>} Prepared
 * @import { Confirmed, Own, PendingEntry, PendingRecord, PushedBatch, PushedEvent } from "./pending.js"
 * @typedef {{ batchId: string, seq: number, events: PushedEvent[], violations: any[], at: number }} RejectedRecord
 * @typedef {{ batchId: string, violations: any[] }} Dismissed a dismissed rejection, remembered a while
 * @typedef {{ key: "state", url: string, clientId: string, lastSeq: number, changes: number, dismissed?: Dismissed[] }} SyncState
 *   a persistent store's sync state: `changes` counts the changes made to the queue; `dismissed`, the
 *   last rejections dismissed, so that a tab whose batch another tab's refusal and dismissal both
 *   passed by before it took them in still rejects its `confirmed` with the violations
 * @typedef {{ pulled: { id: string, first: number, events: RecordedEvent[], text: string }[], confirmed: number,
 *   survivors: { entry: PendingEntry, first: number, committed: [number, number] | null }[],
 *   joined: { entry: PendingEntry, events: RecordedEvent[] }[],
 *   rejected: { entry: PendingEntry, rejection: Rejection | null }[] }} Change
 *   a move of the local log: `rejection` null for an entry whose rejection another tab dismissed already
 * @typedef {{
 *   name: string,
 *   clientId: string,
 *   exclusive: <T>(work: (state: SyncState) => Promise<T>) => Promise<T>,
 *   write: (change: { change?: Change, added?: PendingEntry[], dismissed?: Dismissed[] }, state: SyncState) => Promise<void>,
 *   takeIn: () => Promise<void>,
 *   lead: (granted: () => void) => () => void,
 * }} Durable a persistent store's side (persistent.js): `exclusive` runs `work` holding the device's
 *   write lock, on the stored queue as this tab last took it in; `write` stores a change (within
 *   `exclusive`) and tells the other tabs, or, if another tab changed the queue since, stores nothing
 *   and `work` runs again once this tab took that in (so `work` decides, then writes, then applies); `takeIn` takes in what other tabs stored, if they did (no lock);
 *   `lead` waits to be the tab that talks to the server
 * @typedef {{ id: string, committed?: [number, number], rejected?: boolean }} HeardOutcome
 * @typedef {SyncRejection} Rejection
 * @typedef {{ batchId: string, revision: number, field: string, why: string, at: number }} Quarantined a pulled batch taken in without its data: its first such event's revision and fault
 * @typedef {NonNullable<SyncStatus["lastError"]>} SyncError
 * @typedef {{ engine: Engine, events: RecordedEvent[], publish: (events: RecordedEvent[], woken: number[]) => void,
 *   truncate: (head: number) => void, pendingChanged: (stands?: number) => void }} StoreHooks
 */

import { rebasePlan } from "./wasm/hindcast.js";
import { ConstraintViolationError, InvalidInputError, StorageError, invalid } from "./errors.js";
import { decodeRecorded, joinArrays, restore } from "./record.js";
import { MAX_DEPTH, deeperThan, isObject } from "./json.js";
import { PUSH_BYTES, PUSH_EVENTS, entryFromRecord, makeEntry, pushed, renumbered, streamsOf, viewMatters } from "./pending.js";

/**
 * The whole push body the server reads (the events' 4 MiB and an envelope
 * of 256 KiB, less a margin): a batch's view lists the pending batches it
 * was decided on, so bodies grow with the queue and must be bounded too.
 */
const PUSH_BODY_BYTES = PUSH_BYTES + 240 * 1024;
const PULL_LIMIT = 1_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** A live stream silent this long counts as broken. */
const LIVE_SILENCE_MS = 45_000;
/** A registered symbol: hindcast/react names it without importing this module. */
export const REJECTED_CHANGED = Symbol.for("hindcast.rejectedChanged");
/** A live message is a page (at most 4 MiB of events, or one batch): text past this ends the stream. */
const LIVE_BUFFER_CHARS = 64 * 1024 * 1024;
/** Every request to the server gives up after this long. */
const REQUEST_MS = 30_000;

const encoder = new TextEncoder();
const closedError = () => new StorageError("The store is closed; its sync has stopped.", "closed");

/**
 * Checks the `sync` option: `{ url, token? }`, `url` the log's address
 * (`https://host/v1/logs/bank`), `token` a string or a function returning
 * one (or a promise of one).
 * @param {unknown} sync
 * @returns {{ url: string, token: (() => string | Promise<string>) | undefined }}
 */
export function checkSync(sync) {
  if (sync === null || typeof sync !== "object" || Array.isArray(sync)) {
    throw invalid("options.sync", "expected { url, token? }");
  }
  const s = /** @type {Record<string, unknown>} */ (sync);
  for (const k of Object.keys(s)) {
    if (k !== "url" && k !== "token") throw invalid(`options.sync.${k}`, "unknown option; expected url or token");
  }
  let url;
  try {
    url = new URL(/** @type {string} */ (s.url));
  } catch {
    throw invalid("options.sync.url", "expected the log's absolute URL, such as https://host/v1/logs/bank");
  }
  if (typeof s.url !== "string" || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw invalid("options.sync.url", "expected an http: or https: URL of the log, such as https://host/v1/logs/bank");
  }
  const token = s.token;
  if (token !== undefined && typeof token !== "string" && typeof token !== "function") {
    throw invalid("options.sync.token", "expected a string or a function () => string | Promise<string>");
  }
  return {
    url: s.url.replace(/\/+$/, ""),
    token: typeof token === "string" ? () => token : /** @type {any} */ (token),
  };
}

export class Sync {
  #url;
  #token;
  #store;
  /** @type {Durable | null} */
  #durable;
  /** C: the confirmed prefix's head. */
  confirmed = 0;
  /**
   * The pending batches, in local order.
   * @type {PendingEntry[]}
   */
  #pending = [];
  /** The next seq, in a memory store (a persistent store's is stored). */
  #nextSeq = 1;
  /** The events of the batches in `#pending`. */
  #pendingEvents = 0;
  /**
   * Outcomes heard but not yet rebased.
   * @type {HeardOutcome[]}
   */
  #outcomes = [];
  /** @type {Rejection[]} */
  #rejected = [];
  /**
   * Pulled batches taken in without their data (see #plan).
   * @type {Quarantined[]}
   */
  #quarantined = [];
  /**
   * The batch ids this tab is dismissing, skipped when the stored queue is
   * taken in until the dismissal is stored (a take-in before it would list,
   * and announce, them again).
   * @type {Set<string>}
   */
  #dismissed = new Set();
  /** @type {Set<(r: Rejection) => void>} */
  #rejectedListeners = new Set();
  /** @type {Set<() => void>} see REJECTED_CHANGED */
  #rejectedChanged = new Set();
  /** @type {Set<(s: SyncStatus) => void>} */
  #statusListeners = new Set();
  /** @type {{ revision: number, resolve: () => void, reject: (e: unknown) => void }[]} */
  #confirmedWaiters = [];
  /** @type {SyncStatus} */
  #status = { state: "offline", confirmedRevision: 0, pendingBatches: 0, pendingEvents: 0, lastError: null };
  /** @type {(() => void) | null} */
  #wake = null;
  #kicked = false;
  #backoff = 0;
  /**
   * The loop sleeps out a backoff after a failure: a local write does not
   * cut it short (the server is tried again when it ends, SPEC §8.4); only
   * `online`, `flush` and `waitFor` do.
   */
  #backingOff = false;
  /** @type {AbortController | null} */
  #live = null;
  /** Whether the live stream is open (answered): its pages are then the news. */
  #liveReady = false;
  /** @type {(any[] | null)[]} the live stream's pages not yet taken in, oldest first (null: one that did not read) */
  #livePages = [];
  #liveBackoff = 0;
  /**
   * The requests in flight, aborted by `close`.
   * @type {Set<AbortController>}
   */
  #requests = new Set();
  /**
   * This device's batches that joined the prefix since the store opened, by
   * seq, while a pending batch's `own` may name them (`failing()` needs
   * their ids).
   * @type {Map<number, string>}
   */
  #joined = new Map();
  /** Requests numbered as they are sent (token() asked included). */
  #sent = 0;
  /** The number of the newest request whose answer set the status. */
  #answered = 0;
  /** @type {WeakMap<object, number>} a failed request's error → its number */
  #failedRequest = new WeakMap();
  #closed = false;
  /** Whether this tab runs the loop (always, in a memory store). */
  #leader = false;
  /** Whether another tab may have stored batches this tab (the leader) has not taken in. */
  #othersWrote = true;
  /** Gives up leading, or waiting to lead. */
  #resign = () => {};
  /**
   * Between the tabs of a persistent store: the leader's status, and kicks to it.
   * @type {BroadcastChannel | null}
   */
  #tabs = null;
  #onOnline = () => this.#kick(true);
  /** The platform says the network is gone: the live stream goes too (it would otherwise wait out its silence). */
  #onOffline = () => this.#live?.abort();
  clientId;

  /**
   * @param {{ url: string, token: (() => string | Promise<string>) | undefined }} options
   * @param {StoreHooks} store
   * @param {Durable | null} [durable] a persistent store's side; then call `start` once loaded
   */
  constructor(options, store, durable = null) {
    this.#url = options.url;
    this.#token = options.token;
    this.#store = store;
    this.#durable = durable;
    this.clientId = durable?.clientId ?? crypto.randomUUID();
    if (durable === null) this.start();
  }

  /** Starts talking to the server: at once in memory; in a persistent store, once this tab leads. */
  start() {
    if (this.#closed) return;
    globalThis.addEventListener?.("online", this.#onOnline);
    globalThis.addEventListener?.("offline", this.#onOffline);
    const durable = this.#durable;
    if (durable === null) {
      this.#leader = true;
      this.#run();
      return;
    }
    if (typeof BroadcastChannel === "function") {
      this.#tabs = new BroadcastChannel(`hindcast-sync:${durable.name}`);
      this.#tabs.onmessage = (m) => this.#heard(m.data);
      this.#tabs.postMessage({ hello: true });
    }
    this.#resign = durable.lead(() => {
      if (this.#closed) return;
      this.#leader = true;
      this.#run();
    });
  }

  /**
   * A message from another tab of this store.
   * @param {any} m
   */
  #heard(m) {
    if (this.#leader) {
      if (m?.kick) {
        this.#othersWrote = true;
        this.#kick(m.now === true);
      }
      if (m?.hello) this.#tabs?.postMessage({ status: { state: this.#status.state, lastError: this.#status.lastError } });
    } else if (m?.status) {
      this.#setStatus({ state: m.status.state, lastError: m.status.lastError });
    }
  }

  // --- the local side ---------------------------------------------------

  /**
   * A batch's events as the push sends them, and their size; an
   * InvalidInputError if they are past the server's push limit.
   * @param {readonly RecordedEvent[]} events
   * @returns {{ events: PushedEvent[], bytes: number }}
   */
  pushable(events) {
    const out = events.map(pushed);
    const bytes = encoder.encode(JSON.stringify(out)).length;
    if (bytes > PUSH_BYTES) {
      throw invalid("events", "a syncing store's batch holds at most 4 MiB of event JSON (the server's push limit); split it");
    }
    return { events: out, bytes };
  }

  /**
   * A new batch's `own` (SPEC §8.3) in the compact form: the seqs of the
   * batches pending before it, `from` … `to` less `except`. The pending
   * batches are in seq order, and the batches that left between them were
   * rejected (this device's batches join the prefix in seq order), so
   * `except` holds only rejections.
   * @param {number[]} staged the seqs of batches of the same commit group before it, not yet added
   * @returns {Own}
   */
  #ownBefore(staged) {
    const pending = this.#pending;
    const from = pending.length > 0 ? pending[0].body.seq : staged[0];
    if (from === undefined) return [];
    const to = staged.length > 0 ? staged[staged.length - 1] : pending[pending.length - 1].body.seq;
    /** @type {number[]} */
    const except = [];
    if (to - from + 1 !== pending.length + staged.length) {
      let next = from;
      const skip = (/** @type {number} */ s) => {
        while (next < s) except.push(next++);
        next = s + 1;
      };
      for (const p of pending) skip(p.body.seq);
      for (const s of staged) skip(s);
    }
    return { from, to, except };
  }

  /**
   * The pending entry of a batch just decided locally (not yet added).
   * @param {Commit} commit
   * @param {RecordedEvent[]} events
   * @param {Prepared} prepared
   * @param {{ events: PushedEvent[], bytes: number }} push what `pushable` made of them
   * @param {number} seq
   * @param {number[]} [staged] the seqs of batches of its commit group before it, not yet added
   * @returns {PendingEntry}
   */
  entry(commit, events, prepared, push, seq, staged = []) {
    const wire = JSON.parse(prepared.wire);
    /** @type {PushedBatch} */
    const body = { seq, id: commit.batchId, events: push.events, view: { base: this.confirmed, own: viewMatters(wire) ? this.#ownBefore(staged) : [] } };
    if (wire.expect !== undefined) body.expect = wire.expect;
    if (wire.constraints !== undefined) body.constraints = wire.constraints;
    if (prepared.correlationId !== undefined) body.correlationId = prepared.correlationId;
    return makeEntry(body, events, push.bytes, null, null);
  }

  /**
   * Adds entries (just stored, in a persistent store) to the pending part.
   * @param {PendingEntry[]} entries
   */
  adopt(entries) {
    if (entries.length === 0) return;
    if (this.#closed) {
      // Stored while the store closed: they wait for the next open, and
      // their `confirmed` rejects like every other outstanding one.
      for (const p of entries) p.settle.reject(closedError());
      return;
    }
    for (const p of entries) {
      this.#pending.push(p);
      this.#pendingEvents += p.events.length;
    }
    this.#store.pendingChanged();
    this.#statusChanged();
    this.#kick();
  }

  /**
   * A memory store's batch just committed locally: pending, to be pushed.
   * @param {Commit} commit
   * @param {RecordedEvent[]} events
   * @param {Prepared} prepared
   * @param {{ events: PushedEvent[], bytes: number }} push what `pushable` made of them
   */
  add(commit, events, prepared, push) {
    const p = this.entry(commit, events, prepared, push, this.#nextSeq++);
    this.adopt([p]);
    return this.commitOf(commit, p);
  }

  /**
   * The commit given for a pending entry.
   * @param {Commit} commit
   * @param {PendingEntry} p
   */
  commitOf(commit, p) {
    return { ...commit, pending: true, confirmed: p.confirmed };
  }

  /**
   * The commit of a replayed batch id: pending (its promise) or confirmed.
   * `staged`: the entries of a commit group not yet added, which a later
   * transact of the same group may replay (still pending, not confirmed).
   * @param {Commit} commit
   * @param {PendingEntry[]} [staged]
   */
  replayed(commit, staged = []) {
    const p = this.#pending.find((b) => b.id === commit.batchId) ?? staged.find((b) => b.id === commit.batchId);
    if (p !== undefined) return this.commitOf(commit, p);
    return { ...commit, pending: false, confirmed: Promise.resolve({ firstRevision: commit.firstRevision, revision: commit.revision, streams: commit.streams }) };
  }

  get status() {
    return { ...this.#status };
  }

  /**
   * The pending batches, not yet decided by the server, that it is certain
   * to refuse: one of their "nothing changed" conditions (SPEC §8.3) has in
   * its scope an event of the confirmed prefix that they did not see. The
   * server still decides; this changes when `confirmedRevision` does.
   * @returns {string[]}
   */
  failing() {
    // Worked out when asked (by the core: view.rs, certain_to_fail), not
    // after every page pulled: only undecided batches with conditions count.
    const { engine } = this.#store;
    /** @type {string[]} */
    const out = [];
    const bySeq = new Map(this.#pending.map((p) => [p.body.seq, p.id]));
    for (const p of this.#pending) {
      const { body } = p;
      if (p.decided || body.view.base >= this.confirmed || !viewMatters(body)) continue;
      const e = body.events[0];
      const request = JSON.stringify({ events: [{ stream: e.stream, type: e.type }], expect: body.expect, constraints: body.constraints });
      try {
        const own = this.#ownIds(body.view.own, bySeq);
        if (own !== null && engine.certainToFail(request, body.view.base, this.confirmed, JSON.stringify(own))) out.push(p.id);
      } catch {
        // Not a request the engine reads: the server decides it.
      }
    }
    return out;
  }

  /**
   * The batch ids an `own` names; null when one of its seqs is no longer
   * known here (it joined the prefix before this store was opened).
   * @param {Own} own
   * @param {Map<number, string>} bySeq the pending batches' ids by seq
   * @returns {string[] | null}
   */
  #ownIds(own, bySeq) {
    if (Array.isArray(own)) return own;
    const except = new Set(own.except);
    /** @type {string[]} */
    const ids = [];
    for (let s = own.from; s <= own.to; s++) {
      if (except.has(s)) continue;
      const id = bySeq.get(s) ?? this.#joined.get(s);
      if (id === undefined) return null;
      ids.push(id);
    }
    return ids;
  }

  /** @param {(status: SyncStatus) => void} listener */
  onStatus(listener) {
    if (typeof listener !== "function") throw invalid("listener", "expected a function (status) => void");
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  rejected() {
    return this.#rejected.slice();
  }

  /**
   * The batches pulled from the server that this device could not take in
   * as recorded (their events are in the log with `data: null` and no
   * `metadata`), since the store was opened.
   * @returns {Quarantined[]}
   */
  quarantined() {
    return this.#quarantined.slice();
  }

  /**
   * The package's own (hindcast/react's `useRejected`): `listener()` after
   * `rejected()` changed because this tab took in another tab's change (a
   * new rejection, or one another tab dismissed). → off
   * @param {() => void} listener
   */
  [REJECTED_CHANGED](listener) {
    this.#rejectedChanged.add(listener);
    return () => this.#rejectedChanged.delete(listener);
  }

  /** @param {(rejection: Rejection) => void} listener */
  onRejected(listener) {
    if (typeof listener !== "function") throw invalid("listener", "expected a function (rejection) => void");
    this.#rejectedListeners.add(listener);
    const now = this.#rejected.slice();
    queueMicrotask(() => {
      for (const r of now) if (this.#rejectedListeners.has(listener) && this.#rejected.includes(r)) call(listener, r);
    });
    return () => this.#rejectedListeners.delete(listener);
  }

  /**
   * Forgets a rejection, in every tab of a persistent store; resolves once
   * that is stored.
   * @param {string} batchId
   * @returns {Promise<void>}
   */
  dismiss(batchId) {
    if (typeof batchId !== "string") throw invalid("batchId", "expected the id of a rejected batch");
    const violations = this.#rejected.find((r) => r.batchId === batchId)?.violations ?? [];
    this.#rejected = this.#rejected.filter((r) => r.batchId !== batchId);
    const durable = this.#durable;
    if (durable === null) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedError());
    this.#dismissed.add(batchId);
    return durable
      .exclusive(async (state) => {
        await durable.write({ dismissed: [{ batchId, violations }] }, state);
      })
      .finally(() => this.#dismissed.delete(batchId));
  }

  /**
   * Resolves once the confirmed prefix reaches `revision`. Asking is a
   * reason to try the server now: a backoff in progress is cut short.
   * @param {number} revision
   * @returns {Promise<void>}
   */
  waitFor(revision) {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      return Promise.reject(invalid("revision", "expected a non-negative integer revision"));
    }
    if (this.confirmed >= revision) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedError());
    this.#kick(true);
    return new Promise((resolve, reject) => {
      this.#confirmedWaiters.push({ revision, resolve, reject });
    });
  }

  /**
   * Resolves when every batch pending now has its outcome (joined or
   * rejected); tries the server now, like `online`. Rejects with
   * StorageError "closed" if the store closes first.
   */
  flush() {
    if (this.#closed) return Promise.reject(closedError());
    this.#kick(true);
    // A persistent store's queue is every tab's: what they stored before
    // the call is taken in first (its notice may not have come yet).
    const taken = this.#durable === null ? Promise.resolve() : this.#durable.takeIn();
    return taken.then(() => {
      // An outcome is a join or a rejection by the server; a close is none.
      const all = this.#pending.map((p) =>
        p.confirmed.catch((e) => {
          if (e instanceof StorageError && e.reason === "closed") throw e;
        }),
      );
      return Promise.all(all).then(() => undefined);
    });
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    globalThis.removeEventListener?.("online", this.#onOnline);
    globalThis.removeEventListener?.("offline", this.#onOffline);
    this.#resign();
    this.#tabs?.close();
    this.#live?.abort();
    // A closed store hears nothing more (and its timers keep nothing alive).
    for (const abort of this.#requests) abort.abort();
    this.#wake?.();
    for (const p of this.#pending) p.settle.reject(closedError());
    for (const w of this.#confirmedWaiters) w.reject(closedError());
    this.#confirmedWaiters = [];
  }

  // --- the loop ---------------------------------------------------------

  #kick(now = false) {
    if (!this.#leader) {
      this.#tabs?.postMessage({ kick: true, now });
      return;
    }
    this.#kicked = true;
    if (now) this.#backoff = 0;
    else if (this.#backingOff) return;
    this.#wake?.();
  }

  async #run() {
    // Started from the constructor: the first round waits for the caller's first turn to end.
    await null;
    while (!this.#closed) {
      this.#kicked = false;
      try {
        // Other tabs' batches join the queue before it is pushed (once
        // another tab said it wrote: its kick follows its write).
        if (this.#durable !== null && this.#othersWrote) {
          this.#othersWrote = false;
          await this.#durable.takeIn();
        }
        // A push that fails (a 409, a 413, a proxy that refuses it) does not
        // keep the device from hearing the others: it pulls all the same.
        let pushFailed = null;
        try {
          await this.#pushUndecided();
        } catch (e) {
          if (this.#closed) return;
          pushFailed = { error: e };
        }
        // The live stream's pages move the prefix when they follow it;
        // without one (or after a gap), pull.
        if (!(await this.#takeLive())) await this.#pullToHead();
        if (pushFailed !== null) throw pushFailed.error;
        this.#openLive();
      } catch (e) {
        if (this.#closed) return;
        this.#failed(e);
        this.#backingOff = true;
        await this.#sleep(this.#nextBackoff());
        this.#backingOff = false;
        continue;
      }
      if (!this.#kicked) await this.#sleep(Infinity);
    }
  }

  /** @param {number} ms */
  #sleep(ms) {
    return new Promise((resolve) => {
      const timer = ms === Infinity ? null : setTimeout(done, ms);
      function done() {
        if (timer !== null) clearTimeout(timer);
        resolve(undefined);
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  #nextBackoff() {
    this.#backoff = this.#backoff === 0 ? BACKOFF_MIN_MS : Math.min(BACKOFF_MAX_MS, this.#backoff * 2);
    return Math.random() * this.#backoff;
  }

  /**
   * @param {string} path
   * @param {{ method?: string, headers?: Record<string, string>, body?: string }} [init]
   * @returns {Promise<any>}
   */
  async #request(path, init = {}) {
    const no = ++this.#sent;
    try {
      return await this.#send(no, path, init);
    } catch (e) {
      if (typeof e === "object" && e !== null) this.#failedRequest.set(e, no);
      throw e;
    }
  }

  /**
   * @param {number} no the request's number
   * @param {string} path
   * @param {{ method?: string, headers?: Record<string, string>, body?: string }} init
   * @returns {Promise<any>}
   */
  async #send(no, path, init) {
    let token;
    if (this.#token !== undefined) {
      try {
        token = await this.#token();
      } catch (e) {
        throw Object.assign(new Error(`token() failed: ${e instanceof Error ? e.message : String(e)}`), { status: 401 });
      }
    }
    /** @type {Record<string, string>} */
    const headers = { ...init.headers };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (this.#closed) throw closedError();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_MS);
    this.#requests.add(abort);
    try {
      const res = await fetch(this.#url + path, { ...init, headers, signal: abort.signal });
      const text = await res.text();
      if (this.#closed) throw closedError();
      let body = null;
      try {
        body = text === "" ? null : JSON.parse(text);
      } catch {
        body = null;
      }
      if (!res.ok) {
        const message = body?.message ?? body?.error ?? `HTTP ${res.status}`;
        throw Object.assign(new Error(`The server answered ${res.status}: ${message}`), { status: res.status, body });
      }
      this.#online(no); // an answer from the server: online, the backoff starts over
      return body;
    } finally {
      clearTimeout(timer);
      this.#requests.delete(abort);
    }
  }

  /** Pushes the undecided pending batches in seq order, within the push limits. */
  async #pushUndecided() {
    for (;;) {
      const undecided = this.#pending.filter((p) => !p.decided);
      if (undecided.length === 0) return;
      const batches = [];
      let events = 0;
      let bytes = 0;
      let body = 100; // the envelope around the batches
      for (const p of undecided) {
        const over =
          events + p.events.length > PUSH_EVENTS || bytes + p.eventBytes > PUSH_BYTES || body + p.bodyBytes > PUSH_BODY_BYTES;
        if (batches.length > 0 && over) break;
        batches.push(p.body);
        events += p.events.length;
        bytes += p.eventBytes;
        body += p.bodyBytes;
      }
      const answer = await this.#request("/push", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ protocol: 1, clientId: this.clientId, batches }),
      });
      let decided = 0;
      const byId = new Map(this.#pending.map((b) => [b.id, b]));
      for (const r of /** @type {any[]} */ (answer.results)) {
        const p = byId.get(r.id);
        if (p === undefined || p.decided) continue;
        p.decided = true;
        decided++;
        if (r.status === "committed") {
          p.committed = [r.firstRevision, r.revision];
          this.#outcomes.push({ id: r.id, committed: p.committed });
        } else {
          p.violations = r.violations;
          this.#outcomes.push({ id: r.id, rejected: true });
        }
      }
      // Rejections leave the local log now. A persistent store also keeps
      // the commits heard, unless the live stream is about to bring them
      // (a commit not kept is asked again after a reload: the server
      // answers a seq it decided with its outcome).
      const rejected = answer.results.some((/** @type {any} */ r) => r.status !== "committed");
      if (rejected || (this.#durable !== null && !this.#liveReady)) await this.#rebase([]);
      if (decided === 0) throw new Error("the server answered the push without deciding its batches");
    }
  }

  /** Pulls until the prefix reaches the server's head, rebasing after each page. */
  async #pullToHead() {
    for (;;) {
      const page = await this.#request(`/events?after=${this.confirmed}&limit=${PULL_LIMIT}`);
      await this.#rebase(page.events);
      if (page.events.length === 0 || this.confirmed >= page.head) {
        if (this.#outcomes.length > 0) await this.#rebase([]);
        return;
      }
    }
  }

  /**
   * Takes in the pages the live stream brought, in order, while they follow
   * the prefix. False when there is no live stream to rely on (not open
   * yet, or closed, or its pages do not follow: a gap): then the caller
   * pulls. While the stream is open, every commit after the revision it
   * was opened at arrives on it, so nothing else needs to be asked.
   */
  async #takeLive() {
    if (!this.#liveReady) return false;
    while (this.#livePages.length > 0) {
      const page = this.#livePages.shift();
      const fresh = page?.filter((e) => e?.revision > this.confirmed);
      if (fresh?.length === 0) continue;
      // A page that did not read, or does not follow the prefix: a gap.
      if (fresh === undefined || fresh[0].revision !== this.confirmed + 1) {
        this.#livePages = [];
        return false;
      }
      await this.#rebase(fresh);
    }
    if (this.#outcomes.length > 0) await this.#rebase([]);
    return true;
  }

  /**
   * Opens the live stream if it is not open. Its pages are queued for the
   * loop (`#takeLive`), which moves the prefix by them: the events a
   * device is told about live are not asked for again.
   */
  #openLive() {
    if (this.#live !== null || this.#closed) return;
    const abort = new AbortController();
    this.#live = abort;
    this.#livePages = [];
    const done = () => {
      if (this.#live === abort) {
        this.#live = null;
        this.#liveReady = false;
        this.#livePages = [];
      }
    };
    (async () => {
      /** @type {Record<string, string>} */
      const headers = { accept: "text/event-stream" };
      if (this.#token !== undefined) headers.authorization = `Bearer ${await this.#token()}`;
      const res = await fetch(`${this.#url}/events?after=${this.confirmed}`, { headers, signal: abort.signal });
      if (!res.ok || res.body === null) throw new Error(`live stream: HTTP ${res.status}`);
      if (this.#live !== abort) return;
      this.#liveReady = true;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let text = "";
      let silence = setTimeout(() => abort.abort(), LIVE_SILENCE_MS);
      try {
        for (;;) {
          const { done: end, value } = await reader.read();
          if (end) return;
          clearTimeout(silence);
          silence = setTimeout(() => abort.abort(), LIVE_SILENCE_MS);
          this.#liveBackoff = 0; // the stream works
          text += decoder.decode(value, { stream: true });
          // Messages end with a blank line; a page is the JSON of a data line.
          let cut = text.indexOf("\n\n");
          let pages = 0;
          while (cut !== -1) {
            const message = text.slice(0, cut);
            text = text.slice(cut + 2);
            cut = text.indexOf("\n\n");
            for (const line of message.split("\n")) {
              if (!line.startsWith("data:")) continue;
              let events = null;
              try {
                events = JSON.parse(line.slice(5)).events;
              } catch {
                events = null;
              }
              this.#livePages.push(Array.isArray(events) ? events : null);
              pages++;
            }
          }
          if (text.length > LIVE_BUFFER_CHARS) throw new Error("live stream: a message past the limit");
          if (pages > 0) this.#kick();
        }
      } finally {
        clearTimeout(silence);
      }
    })()
      .catch(() => {})
      .finally(() => {
        done();
        if (this.#closed) return;
        // Reconnect through the loop (which pulls first), after a backoff of
        // its own: a stream that keeps failing must not spin.
        this.#liveBackoff = this.#liveBackoff === 0 ? BACKOFF_MIN_MS : Math.min(BACKOFF_MAX_MS, this.#liveBackoff * 2);
        const timer = setTimeout(() => this.#kick(), Math.random() * this.#liveBackoff);
        /** @type {any} */ (timer).unref?.(); // in Node, no reason to stay alive
      });
  }

  /**
   * Moves the local log on by pulled events (recorded events of the shared
   * log from C + 1 on, whole batches) and the outcomes heard, through the
   * core's rebase; in a persistent store, once the move is stored.
   * @param {any[]} pulledEvents
   */
  async #rebase(pulledEvents) {
    const durable = this.#durable;
    if (durable === null) {
      const change = this.#plan(pulledEvents);
      if (change !== null) this.#apply(change);
      return;
    }
    await durable.exclusive(async (state) => {
      const change = this.#plan(pulledEvents);
      if (change === null) return;
      await durable.write({ change }, state);
      // Stored; a store closed meanwhile shows it at its next open.
      if (!this.#closed) this.#apply(change);
    });
  }

  /**
   * The move that pulled events and the outcomes heard make (see #rebase),
   * or null if nothing moves.
   * @param {any[]} pulledEvents
   * @returns {Change | null}
   */
  #plan(pulledEvents) {
    // Only what follows the prefix (a pull may overlap what was taken in meanwhile).
    const fresh = pulledEvents.filter((e) => !(e?.revision <= this.confirmed));
    if (fresh.length > 0 && fresh[0].revision !== this.confirmed + 1) fresh.length = 0;
    if (fresh.length === 0 && this.#outcomes.length === 0) return null;
    for (let i = 0; i < fresh.length; i++) {
      const e = fresh[i];
      const fault = decodeRecorded(e, { asIs: true }) ?? depthFault(e);
      if (fault === null) continue;
      // An event whose data or metadata this device cannot take in (a log
      // written before the server refused it, or by another server) must
      // not stop sync: it takes its place with its envelope (which every
      // check reads) and without its data, and its batch is listed.
      const standIn = withoutData(e);
      if (standIn === null) throw new Error(`the server sent a malformed event (${fault.field}: ${fault.why})`);
      fresh[i] = standIn;
      const last = this.#quarantined.at(-1);
      if (last?.batchId === e.batchId) continue;
      const q = Object.freeze({ batchId: e.batchId, revision: e.revision, field: fault.field, why: fault.why, at: Date.now() });
      this.#quarantined.push(q);
      console.warn(`hindcast: batch ${e.batchId} from the server was taken in without its data (revision ${e.revision}, ${fault.field}: ${fault.why}); see store.sync.quarantined()`);
    }
    const pulled = byBatch(fresh);
    /** @type {{ confirmed: number, joined: string[], rejected: string[], pending: { id: string, first: number, committed?: [number, number] }[] }} */
    const plan = JSON.parse(
      rebasePlan(
        JSON.stringify({
          confirmed: this.confirmed,
          pending: this.#pending.map((p) => ({ id: p.id, len: p.events.length, ...(p.committed ? { committed: p.committed } : {}) })),
          pulled: pulled.map((b) => ({ id: b.id, first: b.first, len: b.events.length })),
          outcomes: this.#outcomes,
        }),
      ),
    );
    const byId = new Map(this.#pending.map((p) => [p.id, p]));
    /** @param {string} id */
    const entryOf = (id) => /** @type {PendingEntry} */ (byId.get(id));
    const at = Date.now();
    return {
      pulled,
      confirmed: plan.confirmed,
      survivors: plan.pending.map(({ id, first, committed }) => ({ entry: entryOf(id), first, committed: committed ?? null })),
      joined: plan.joined.map((id) => ({ entry: entryOf(id), events: /** @type {{ events: RecordedEvent[] }} */ (pulled.find((b) => b.id === id)).events })),
      rejected: plan.rejected.map((id) => {
        const p = entryOf(id);
        return { entry: p, rejection: Object.freeze({ batchId: id, events: p.body.events, violations: p.violations ?? [], at }) };
      }),
    };
  }

  /**
   * Takes in a persistent store's queue as stored (other tabs changed it):
   * `events`, the confirmed events stored after C (decoded, in order);
   * `pending` and `rejected`, the stored records; `dismissed`, the
   * rejections dismissed lately (SyncState).
   * @param {RecordedEvent[]} events
   * @param {PendingRecord[]} pending
   * @param {RejectedRecord[]} rejected
   * @param {Dismissed[]} dismissed
   */
  absorb(events, pending, rejected, dismissed) {
    if (this.#closed) return; // a closed store's log and listeners no longer change
    const pulled = byBatch(events);
    const confirmed = this.confirmed + events.length;
    const byId = new Map(this.#pending.map((p) => [p.id, p]));
    const stored = new Set(pending.map((r) => r.id));
    /** @type {Change["survivors"]} */
    const survivors = [];
    let first = confirmed + 1;
    for (const r of pending.slice().sort((a, b) => a.seq - b.seq)) {
      const p = byId.get(r.id) ?? entryFromRecord(r);
      p.stored = r;
      // A commit heard by this tab and not yet stored is kept.
      survivors.push({ entry: p, first, committed: r.committed ?? p.committed });
      first += p.events.length;
    }
    const rejections = new Map(this.#rejected.map((x) => [x.batchId, x]));
    /** @type {Rejection[]} */
    const list = [];
    /** @type {Rejection[]} */
    const fresh = [];
    for (const r of rejected.slice().sort((a, b) => a.seq - b.seq)) {
      if (this.#dismissed.has(r.batchId)) continue;
      let x = rejections.get(r.batchId);
      if (x === undefined) {
        x = Object.freeze({ batchId: r.batchId, events: r.events, violations: r.violations, at: r.at });
        fresh.push(x);
      }
      list.push(x);
    }
    /** @type {Change["joined"]} */
    const joined = [];
    /** @type {Change["rejected"]} */
    const gone = [];
    for (const p of this.#pending) {
      if (stored.has(p.id)) continue;
      const mine = pulled.find((b) => b.id === p.id);
      if (mine !== undefined) joined.push({ entry: p, events: mine.events });
      else {
        const rejection = list.find((x) => x.batchId === p.id) ?? null;
        // Refused and dismissed by other tabs before this one heard: the violations are remembered.
        if (rejection === null) p.violations ??= dismissed.find((d) => d.batchId === p.id)?.violations;
        gone.push({ entry: p, rejection });
      }
    }
    this.#apply({ pulled, confirmed, survivors, joined, rejected: gone }, false);
    const before = this.#rejected;
    this.#rejected = list;
    this.#announce(fresh);
    if (list.length !== before.length || list.some((x, i) => x !== before[i])) {
      for (const l of this.#rejectedChanged) call(l, undefined);
    }
    // Batches another tab stored are this tab's to push when it leads.
    if (this.#leader && survivors.some((s) => !byId.has(s.entry.id) && !s.entry.decided)) this.#kick();
  }

  /**
   * Applies a move of the local log, synchronously: a read sees the log
   * before or after it, never a mix. `heard`: the move comes from the
   * outcomes heard (they are spent) and adds its rejections to
   * `rejected()` (taking in a stored queue sets that list itself).
   * @param {Change} change
   */
  #apply(change, heard = true) {
    const { engine, events, publish, truncate } = this.#store;
    // The local log's tail before: to find where the new one parts from it.
    const before = events.slice(this.confirmed).map((e) => e.id);
    const from = this.confirmed;
    // The pending tail goes; the prefix grows by the pulled batches.
    truncate(this.confirmed);
    if (change.pulled.length > 0) {
      const confirmedEvents = change.pulled.flatMap((b) => b.events);
      publish(confirmedEvents, restore(engine, joinArrays(change.pulled.map((b) => b.text))));
    }
    this.confirmed = change.confirmed;
    if (heard) this.#outcomes = [];
    // The surviving pending batches, numbered again after the prefix.
    /** @type {RecordedEvent[]} */
    const renumberedEvents = [];
    /** @type {Map<string, number>} */
    const nextVersion = new Map();
    const lastAt = events.length > 0 ? events[events.length - 1].recordedAt : 0;
    for (const { entry: p, first, committed } of change.survivors) {
      p.committed = committed;
      if (committed !== null) p.decided = true;
      const recordedAt = Math.max(lastAt, p.events[0].recordedAt);
      p.events = p.events.map((e, i) => {
        let version = nextVersion.get(e.stream);
        if (version === undefined) {
          const at = engine.stream(JSON.stringify(e.stream));
          version = at.length === 0 ? 0 : at[0] + 1;
        }
        nextVersion.set(e.stream, version + 1);
        return renumbered(e, first + i, version, recordedAt);
      });
      for (const e of p.events) renumberedEvents.push(e);
    }
    if (renumberedEvents.length > 0) publish(renumberedEvents, restore(engine, JSON.stringify(renumberedEvents)));
    this.#pending = change.survivors.map((s) => s.entry);
    this.#pendingEvents = this.#pending.reduce((n, p) => n + p.events.length, 0);
    // An event stands while the same event id is at the same revision.
    let stands = from;
    while (stands - from < before.length && stands < events.length && events[stands].id === before[stands - from]) stands++;
    this.#store.pendingChanged(stands < from + before.length ? stands : undefined);
    // Settle what joined and what was rejected.
    for (const { entry: p, events: mine } of change.joined) {
      this.#joined.set(p.body.seq, p.id);
      p.settle.resolve({ firstRevision: mine[0].revision, revision: mine[mine.length - 1].revision, streams: streamsOf(mine) });
    }
    // Joined batches are remembered while a pending batch's `own` may name them.
    let floor = Infinity;
    for (const p of this.#pending) if (!Array.isArray(p.body.view.own)) floor = Math.min(floor, p.body.view.own.from);
    for (const s of this.#joined.keys()) if (s < floor) this.#joined.delete(s);
    /** @type {Rejection[]} */
    const fresh = [];
    for (const { entry: p, rejection } of change.rejected) {
      const violations = rejection?.violations ?? p.violations ?? [];
      const invalidInput = violations.find((v) => v.kind === "invalid_input");
      const error = invalidInput
        ? new InvalidInputError(`The server refused batch ${p.id}: ${invalidInput.message ?? invalidInput.path}`, invalidInput.path)
        : new ConstraintViolationError(`The server refused batch ${p.id}: it was decided on a view that no longer holds.`, violations);
      Object.assign(error, { batchId: p.id });
      p.settle.reject(error);
      if (heard && rejection !== null) {
        this.#rejected.push(rejection);
        fresh.push(rejection);
      }
    }
    this.#announce(fresh);
    this.#confirmedWaiters = this.#confirmedWaiters.filter((w) => {
      if (w.revision > this.confirmed) return true;
      w.resolve();
      return false;
    });
    this.#statusChanged();
  }

  /**
   * Calls the onRejected listeners, soon, for new rejections.
   * @param {Rejection[]} fresh
   */
  #announce(fresh) {
    for (const r of fresh) for (const l of this.#rejectedListeners) queueMicrotask(() => call(l, r));
  }

  // --- status -------------------------------------------------------------

  /**
   * The status follows the newest answer (SPEC §8.4): an answer to a
   * request sent before one already answered never sets it back.
   * @param {number} no the request's number
   */
  #newest(no) {
    if (no < this.#answered) return false;
    this.#answered = no;
    return true;
  }

  /** @param {number} no the number of the request answered */
  #online(no) {
    if (!this.#newest(no)) return;
    this.#backoff = 0;
    this.#setStatus({ state: "online", lastError: null });
  }

  /** @param {any} e */
  #failed(e) {
    const no = typeof e === "object" && e !== null ? this.#failedRequest.get(e) : undefined;
    if (no !== undefined && !this.#newest(no)) return;
    const status = e?.status;
    /** @type {SyncStatus["state"]} */
    const state = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 409 || status === 413 ? this.#status.state : "offline";
    /** @type {SyncError} */
    const lastError = { message: e instanceof Error ? e.message : String(e), at: Date.now() };
    if (typeof status === "number" && e?.body !== undefined) lastError.status = status;
    this.#setStatus({ state, lastError });
  }

  #statusChanged() {
    this.#setStatus({});
  }

  /** @param {Partial<SyncStatus>} change */
  #setStatus(change) {
    const next = {
      ...this.#status,
      ...change,
      confirmedRevision: this.confirmed,
      pendingBatches: this.#pending.length,
      pendingEvents: this.#pendingEvents,
    };
    const before = this.#status;
    const same = /** @type {(keyof SyncStatus)[]} */ (Object.keys(next)).every((k) =>
      k === "lastError" ? sameError(before.lastError, next.lastError) : before[k] === next[k],
    );
    if (same) return;
    this.#status = next;
    // The leader's connection is every tab's.
    const connection = before.state !== next.state || !sameError(before.lastError, next.lastError);
    if (this.#leader && connection) this.#tabs?.postMessage({ status: { state: next.state, lastError: next.lastError } });
    for (const l of this.#statusListeners) call(l, { ...next });
  }
}

/**
 * The fault of a decoded event whose data or metadata nest deeper than
 * `transact` accepts (reads, exports and apps would recurse on them), or null.
 * @param {any} e
 * @returns {{ field: string, why: string } | null}
 */
function depthFault(e) {
  for (const field of ["data", "metadata"]) {
    if (deeperThan(e[field])) return { field, why: `nested more than ${MAX_DEPTH} levels deep` };
  }
  return null;
}

/** The fields of a recorded event other than its data and metadata. */
const ENVELOPE = ["revision", "stream", "version", "id", "type", "subject", "tags", "time", "correlationId", "schemaVersion", "batchId", "recordedAt"];

/**
 * A pulled event without its data and metadata (`data: null`), decoded and
 * frozen; null if its envelope is at fault too.
 * @param {any} e
 * @returns {any}
 */
function withoutData(e) {
  if (!isObject(e)) return null;
  /** @type {any} */
  const out = {};
  for (const k of ENVELOPE) {
    if (k === "subject") out.data = null;
    if (e[k] !== undefined) out[k] = e[k];
  }
  return decodeRecorded(out, { asIs: true }) === null && depthFault(out) === null ? out : null;
}

/**
 * Confirmed events (whole batches, in order) as their batches, each with
 * its JSON text, made once: the engine restores it and a persistent store
 * stores it.
 * @param {RecordedEvent[]} events
 * @returns {Change["pulled"]}
 */
function byBatch(events) {
  /** @type {Change["pulled"]} */
  const out = [];
  for (const e of events) {
    const last = out.at(-1);
    if (last !== undefined && last.id === e.batchId) last.events.push(e);
    else out.push({ id: e.batchId, first: e.revision, events: [e], text: "" });
  }
  for (const b of out) b.text = JSON.stringify(b.events);
  return out;
}

/**
 * @param {SyncError | null} a
 * @param {SyncError | null} b
 */
function sameError(a, b) {
  return a === b || (a !== null && b !== null && a.message === b.message && a.status === b.status && a.at === b.at);
}

/**
 * @template T
 * @param {(value: T) => void} listener
 * @param {T} value
 */
function call(listener, value) {
  try {
    listener(value);
  } catch (err) {
    console.error("hindcast: a sync listener threw", err);
  }
}
