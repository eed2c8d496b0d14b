// A syncing store's pending batch (sync.js): the push it makes (its events
// less what the server stamps, and its view), its entry in the pending
// part (with the `confirmed` promise it settles), the record a persistent
// store keeps of it, and its events renumbered when the prefix moves.

/**
 * @import { ConfirmedCommit, RecordedEvent } from "./index.js"
 * @import { prepare } from "./request.js"
 * @typedef {ReturnType<typeof prepare>} Prepared
 * @typedef {ConfirmedCommit} Confirmed
 * @typedef {{ id: string, stream: string, type: string, data: unknown, subject?: string,
 *   tags?: readonly string[], time?: string, metadata?: unknown, schemaVersion?: number }} PushedEvent
 * @typedef {string[] | { from: number, to: number, except: number[] }} Own
 *   a view's `own` (SPEC §8.3): batch ids (as stored before the compact form), or this client's seqs
 *   `from` … `to` less `except`
 * @typedef {{ seq: number, id: string, events: PushedEvent[], expect?: unknown, constraints?: unknown,
 *   correlationId?: string, view: { base: number, own: Own } }} PushedBatch
 * @typedef {{ id: string, events: RecordedEvent[], body: PushedBatch, committed: [number, number] | null,
 *   confirmed: Promise<Confirmed>, settle: { resolve: (c: Confirmed) => void, reject: (e: unknown) => void },
 *   decided: boolean, violations?: any[], eventBytes: number, bodyBytes: number,
 *   stored: PendingRecord | null }} PendingEntry
 *   (`eventBytes`: its events' UTF-8 JSON as pushed; `bodyBytes`: the whole batch's, with its view;
 *   `stored`: its record, in a persistent store)
 * @typedef {{ seq: number, id: string, events: string, push: string, committed?: [number, number] }} PendingRecord
 *   a pending batch as IndexedDB keeps it: its recorded events' JSON as at its transact (numbers are
 *   given again on load, so renumbering rewrites nothing) and the rest of its push (`expect`,
 *   `constraints`, `correlationId`, `view`)
 */

import { StorageError, invalid } from "./errors.js";
import { decodeRecorded } from "./record.js";

/** The server's push limits (SPEC §8.1). */
export const PUSH_EVENTS = 1_000;
export const PUSH_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Refuses a syncing store's batch past the server's event limit, before it is checked.
 * @param {Prepared} prepared
 */
export function checkBatchSize(prepared) {
  if (prepared.kept.length > PUSH_EVENTS) {
    throw invalid("events", `a syncing store's batch holds at most ${PUSH_EVENTS} events (the server's push limit); split it`);
  }
}

/**
 * A recorded event as pushed: what the device recorded, less what the server stamps.
 * @param {RecordedEvent} e
 * @returns {PushedEvent}
 */
export function pushed(e) {
  /** @type {PushedEvent} */
  const out = { id: e.id, stream: e.stream, type: e.type, data: e.data };
  if (e.subject !== undefined) out.subject = e.subject;
  if (e.tags !== undefined) out.tags = e.tags;
  if (e.time !== undefined) out.time = e.time;
  if (e.metadata !== undefined) out.metadata = e.metadata;
  if (e.schemaVersion !== undefined) out.schemaVersion = e.schemaVersion;
  return out;
}

/**
 * A recorded event renumbered in the local log, pending.
 * @param {RecordedEvent} e
 * @param {number} revision
 * @param {number} version
 * @param {number} recordedAt
 * @returns {RecordedEvent}
 */
export function renumbered(e, revision, version, recordedAt) {
  const out = { ...e, revision, version, recordedAt, pending: /** @type {true} */ (true) };
  return Object.freeze(out);
}

/**
 * `streams` of a commit, from its recorded events.
 * @param {readonly RecordedEvent[]} events
 */
export function streamsOf(events) {
  /** @type {Record<string, { version: number, revision: number }>} */
  const streams = {};
  for (const e of events) {
    Object.defineProperty(streams, e.stream, {
      value: { version: e.version, revision: e.revision },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return streams;
}

/**
 * Whether a batch has conditions whose check depends on its view: without
 * any (no constraints, every expectation "any"), the server commits it
 * whatever the view (SPEC §8.3), so its `own` is sent empty. (A device that
 * writes many batches offline would otherwise send views that grow with the
 * square of its queue.)
 * @param {{ expect?: unknown, constraints?: unknown }} wire
 */
export function viewMatters(wire) {
  if (Array.isArray(wire.constraints) && wire.constraints.length > 0) return true;
  return wire.expect !== undefined && wire.expect !== null && Object.values(wire.expect).some((x) => x !== "any");
}

/**
 * A pending batch's record, as a persistent store keeps it.
 * @param {PendingEntry} p
 * @returns {PendingRecord}
 */
export function pendingRecord(p) {
  if (p.stored !== null && (p.committed === null || p.stored.committed !== undefined)) return p.stored;
  const { seq, id, events, ...push } = p.body;
  /** @type {PendingRecord} */
  const record = p.stored ?? { seq, id, events: JSON.stringify(p.events), push: JSON.stringify(push) };
  if (p.committed !== null) return { ...record, committed: p.committed };
  return record;
}

/**
 * A pending entry, its `confirmed` unsettled.
 * @param {PushedBatch} body
 * @param {RecordedEvent[]} events
 * @param {number} eventBytes
 * @param {[number, number] | null} committed
 * @param {PendingRecord | null} stored
 * @returns {PendingEntry}
 */
export function makeEntry(body, events, eventBytes, committed, stored) {
  /** @type {PendingEntry["settle"]} */
  let settle = { resolve: () => {}, reject: () => {} };
  /** @type {Promise<Confirmed>} */
  const confirmed = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  confirmed.catch(() => {}); // reported through onRejected too: never unhandled
  const bodyBytes = encoder.encode(JSON.stringify(body)).length + 1;
  return { id: body.id, events, body, committed, confirmed, settle, decided: committed !== null, eventBytes, bodyBytes, stored };
}

/**
 * The entry of a stored pending record (another tab's batch, or one from
 * before a reload); a StorageError "corrupt" if it does not decode.
 * @param {PendingRecord} r
 * @returns {PendingEntry}
 */
export function entryFromRecord(r) {
  /** @param {string} why */
  const corrupt = (why) =>
    new StorageError(`The stored pending batch ${r?.id} (seq ${r?.seq}) is corrupt (${why}); the store cannot be loaded as it is.`, "corrupt");
  let events;
  let push;
  try {
    events = JSON.parse(r.events);
    push = JSON.parse(r.push);
  } catch (e) {
    throw corrupt(`not JSON: ${e instanceof Error ? e.message : e}`);
  }
  if (!Array.isArray(events) || events.length === 0 || push === null || typeof push !== "object") throw corrupt("not a pending batch");
  for (const e of events) {
    const fault = decodeRecorded(e, false);
    if (fault !== null) throw corrupt(`${fault.field}: ${fault.why}`);
  }
  const out = events.map(pushed);
  const body = { seq: r.seq, id: r.id, events: out, ...push };
  return makeEntry(body, events, encoder.encode(JSON.stringify(out)).length, r.committed ?? null, r);
}
