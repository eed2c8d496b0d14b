// The recorded event: the one definition of its shape on this side, used to
// build events from requests, to decode stored records and to check the
// lines of an import. (The engine checks the fields it keeps, with the same
// rules, when it restores stored text: see `parse_stored` in input.rs.)
//
// The rule for `null`: in an optional field it means the same as leaving
// the field out, wherever input is taken (transact requests, stored records,
// imported lines). A recorded event never holds `null` in an optional field.

import { fromWire } from "./errors.js";
import { freezeParsed, isObject } from "./json.js";

/**
 * @import { Engine } from "./wasm/hindcast.js"
 * @import { RecordedEvent } from "./index.js"
 * @import { Kept } from "./request.js"
 */

/** A recorded event's fields, in the order reads return them. */
export const FIELDS = [
  "revision",
  "stream",
  "version",
  "id",
  "type",
  "data",
  "subject",
  "tags",
  "time",
  "metadata",
  "correlationId",
  "schemaVersion",
  "batchId",
  "recordedAt",
];
/** Each field's place in FIELDS. */
const ORDER = new Map(FIELDS.map((k, i) => [k, i]));

/**
 * A recorded event, frozen; optional fields only when given.
 * @param {number} revision
 * @param {Kept} k
 * @param {number} version
 * @param {string} id
 * @param {string | undefined} correlationId
 * @param {string} batchId
 * @param {number} recordedAt
 * @param {boolean} [pending] a syncing store's batch not yet confirmed
 * @returns {RecordedEvent}
 */
export function recorded(revision, k, version, id, correlationId, batchId, recordedAt, pending) {
  /** @type {any} built field by field, in the order reads return them */
  const e = { revision, stream: k.stream, version, id, type: k.type, data: k.data };
  if (k.subject !== undefined) e.subject = k.subject;
  if (k.tags !== undefined) e.tags = k.tags;
  if (k.time !== undefined) e.time = k.time;
  if (k.metadata !== undefined) e.metadata = k.metadata;
  if (correlationId !== undefined) e.correlationId = correlationId;
  if (k.schemaVersion !== undefined) e.schemaVersion = k.schemaVersion;
  e.batchId = batchId;
  e.recordedAt = recordedAt;
  if (pending) e.pending = true; // a syncing store's batch the server has not confirmed
  return Object.freeze(e);
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** @param {any} n */
const isRevision = (n) => Number.isSafeInteger(n) && n >= 0;
/** @param {unknown} s */
const isText = (s) => typeof s === "string" && s !== "";

/**
 * Checks a recorded event that JSON.parse made (so JSON already) and, if it
 * holds, drops `null` optional fields and freezes it in place. Returns the
 * fault, `{ field, why }`, or null. `strict` (imports) also checks the
 * fields the engine checks again on restore, to name them precisely, and
 * then says in `strict.asIs` whether the event is as reads return it (its
 * fields in order, no `null` dropped), so that its text can be kept.
 * @param {any} e what JSON.parse made
 * @param {{ asIs: boolean } | false} strict
 * @returns {{ field: string, why: string } | null}
 */
export function decodeRecorded(e, strict) {
  if (!isObject(e)) return { field: "", why: "not a recorded event (a JSON object)" };
  if (strict) {
    let last = -1;
    let asIs = true;
    for (const k of Object.keys(e)) {
      const i = ORDER.get(k);
      if (i === undefined) return { field: k, why: `unknown field; a recorded event has ${FIELDS.join(", ")}` };
      if (i < last || e[k] === null || (k === "schemaVersion" && e[k] === 1)) asIs = false;
      last = i;
    }
    strict.asIs = asIs;
    if (!isRevision(e.revision) || e.revision === 0) return { field: "revision", why: "expected a revision (a positive integer)" };
    if (!isRevision(e.version)) return { field: "version", why: "expected a stream version (a non-negative integer)" };
    for (const k of ["stream", "type"]) if (!isText(e[k])) return { field: k, why: "expected a non-empty string" };
    // Their form the engine checks on restore (see uuidFault).
    for (const k of ["id", "batchId"]) if (typeof e[k] !== "string") return { field: k, why: "expected a UUID" };
    if (typeof e.recordedAt !== "number" || !Number.isFinite(e.recordedAt)) {
      return { field: "recordedAt", why: "expected a time in ms since the epoch" };
    }
  }
  if (!("data" in e)) return { field: "data", why: "missing (a recorded event always has data, null if none)" };
  for (const k of ["subject", "time", "correlationId"]) {
    const v = e[k];
    if (v === null) delete e[k];
    else if (v !== undefined && !isText(v)) return { field: k, why: "expected a non-empty string" };
  }
  if (e.tags === null) delete e.tags;
  else if (e.tags !== undefined && !(Array.isArray(e.tags) && e.tags.every(isText))) {
    return { field: "tags", why: "expected a list of non-empty strings" };
  }
  // schemaVersion: a positive integer, and 1 is recorded as none (SPEC §9; src/schema.rs).
  const sv = e.schemaVersion;
  if (sv === null || sv === 1) delete e.schemaVersion;
  else if (sv !== undefined && !(Number.isSafeInteger(sv) && sv > 1)) {
    return { field: "schemaVersion", why: "expected a schema version (a positive integer)" };
  }
  if (e.metadata === null) delete e.metadata;
  else if (e.metadata !== undefined && !isObject(e.metadata)) return { field: "metadata", why: "expected a JSON object" };
  freezeParsed(e);
  return null;
}

/**
 * The fault of a recorded event's `id` or `batchId` that is not a UUID, or null.
 * @param {any} e
 * @param {"id" | "batchId"} field
 */
export function uuidFault(e, field) {
  return UUID.test(e?.[field]) ? null : { field, why: "expected a UUID" };
}

/**
 * Whether a decoded event's fields are in the order reads return them.
 * @param {object} e
 */
export function inOrder(e) {
  let last = -1;
  for (const k of Object.keys(e)) {
    const i = /** @type {number} every key is known: decodeRecorded checked them */ (ORDER.get(k));
    if (i < last) return false;
    last = i;
  }
  return true;
}

/**
 * A decoded event with its fields in the order reads return them: itself, or a frozen copy.
 * @param {any} e decoded by decodeRecorded
 * @returns {RecordedEvent}
 */
export function canonical(e) {
  if (inOrder(e)) return e;
  /** @type {any} */
  const out = {};
  for (const k of FIELDS) if (e[k] !== undefined) out[k] = e[k];
  return Object.freeze(out);
}

/**
 * The JSON text of one array holding, in order, the elements of the arrays
 * whose JSON texts (non-empty arrays) are given: the texts joined, never
 * made again.
 * @param {string[]} texts
 */
export function joinArrays(texts) {
  return texts.length === 1 ? texts[0] : `[${texts.map((t) => t.slice(1, -1)).join(",")}]`;
}

const encoder = new TextEncoder();
/** Texts longer than this cross to the engine as bytes. */
const LONG = 512;

/**
 * Restores recorded events, given as the JSON text of an array of them,
 * into the engine (all or nothing: a StorageError "corrupt" naming the
 * revision and field); returns the subscriptions they concern.
 * @param {Engine} engine
 * @param {string} text
 * @returns {number[]}
 */
export function restore(engine, text) {
  try {
    return Array.from(text.length > LONG ? engine.restoreBytes(encoder.encode(text)) : engine.restore(text));
  } catch (e) {
    throw fromWire(e);
  }
}
