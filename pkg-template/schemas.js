// Event schemas (SPEC §9): a store's declaration of each type's current
// shape, applied to what reads, subscriptions and projections return.
//
// The log is never changed: an event keeps the `schemaVersion` it was
// written with (absent for 1). Reading one of a declared type recorded at
// an older version returns it upcast, by the app's steps `upcast[v]`,
// `upcast[v + 1]` … up to the current version; one recorded at a newer
// version (written by newer code) is returned as recorded, and may pause a
// subscription (subscription.js). Nothing that decides (expectations,
// constraints, selectors, the server's view rule) looks at `data`, so none
// of it depends on the declaration. The core checks the field itself
// wherever events come in (`src/schema.rs`).
//
// Invariants:
// - an event is upcast at most once per store: the result is kept, by
//   revision, next to the recorded event it came from (`#from[r - 1]` is
//   that event; a rebase's renumbered event is another one, so an entry
//   never outlives its event), and a failed step is tried again next time;
// - upcasting runs only while a read, subscription or projection returns
//   an event (user code, never inside a transact or a lock).

import { HindcastError, invalid } from "./errors.js";
import { MAX_DEPTH, isObject, joinPath } from "./json.js";

/**
 * @import { NewerSchema, RecordedEvent } from "./index.js"
 * @import { Kept } from "./request.js"
 * @typedef {{ version: number, steps: ((data: any, event: RecordedEvent) => unknown)[] }} Declared
 *   `steps[v]` turns version v's data into version v + 1's
 */

/** @extends {HindcastError<"SCHEMA">} */
export class SchemaError extends HindcastError {
  /**
   * @param {string} message
   * @param {unknown} cause
   * @param {RecordedEvent} event as recorded
   */
  constructor(message, cause, event) {
    super(message, "SCHEMA", { cause });
    /** @type {unknown} set by Error from `{ cause }`, an own property whatever its value */
    this.cause;
    this.event = event;
  }
}
Object.defineProperty(SchemaError.prototype, "name", { value: "SchemaError", writable: true, configurable: true });

/** @param {unknown} v */
const isVersion = (v) => Number.isSafeInteger(v) && /** @type {number} */ (v) >= 1;

/** The recorded version of an event: 1 when it has none. */
/** @param {RecordedEvent} e */
export const versionOf = (e) => e.schemaVersion ?? 1;

/**
 * The store's schemas: checked at open, consulted by writes, reads and
 * subscriptions. A store without a declaration has one with no types.
 */
export class Schemas {
  /** @type {Map<string, Declared>} */
  #types = new Map();
  /** Whether any type is declared: reads skip all of this when not. */
  active = false;
  /** Subscriptions stop before a newer event ("pause"), or get it as recorded ("deliver"). */
  pause = true;
  /**
   * The types seen with a newer version than declared, in the order seen.
   * @type {Map<string, NewerSchema>}
   */
  #newer = new Map();
  /** @type {Set<(entry: NewerSchema) => void>} */
  #listeners = new Set();
  /**
   * The upcast events by revision, each next to the recorded event it
   * was made from (`#from`): an entry counts only while that event stands.
   * @type {(RecordedEvent | undefined)[]}
   */
  #out = [];
  /** @type {(RecordedEvent | undefined)[]} */
  #from = [];
  /**
   * By revision, whether the event there was recorded at an older version
   * of a declared type (1) or not (0), set as each event enters the store
   * (`entered`, which sees every event the store takes in): a read skips
   * the others at the cost of one load.
   */
  #older = new Uint8Array(1024);

  /**
   * Checks `schemas` and `newerSchemas` as given to open or memory
   * (paths `schemas.T.version`, `schemas.T.upcast.n`, `newerSchemas`).
   * @param {unknown} schemas
   * @param {unknown} newerSchemas
   */
  constructor(schemas, newerSchemas) {
    if (newerSchemas !== undefined) {
      if (newerSchemas !== "pause" && newerSchemas !== "deliver") throw invalid("newerSchemas", 'expected "pause" or "deliver"');
      this.pause = newerSchemas === "pause";
    }
    if (schemas === undefined) return;
    if (!isObject(schemas)) {
      throw invalid("schemas", "expected an object by event type: { money_deposited: { version: 2, upcast: { 1: (data) => … } } }");
    }
    for (const type of Object.keys(schemas)) {
      const at = ["schemas", type];
      if (type === "") throw invalid(joinPath(at), "an event type must be a non-empty string");
      const decl = schemas[type];
      if (!isObject(decl)) throw invalid(joinPath(at), "expected { version, upcast? }");
      for (const k of Object.keys(decl)) {
        if (k !== "version" && k !== "upcast") throw invalid(joinPath([...at, k]), "unknown key; expected version or upcast");
      }
      const { version, upcast = {} } = decl;
      if (!isVersion(version)) throw invalid(joinPath([...at, "version"]), "expected the current version: a positive integer");
      if (!isObject(upcast)) throw invalid(joinPath([...at, "upcast"]), "expected an object of steps by version: { 1: (data, event) => data2 }");
      const steps = new Array(version);
      // A step's path as SPEC §9 writes it: `schemas.T.upcast.2`.
      const stepPath = (/** @type {string | number} */ k) => `${joinPath([...at, "upcast"])}.${k}`;
      for (const k of Object.keys(upcast)) {
        const n = Number(k);
        const path = stepPath(k);
        if (!isVersion(n) || String(n) !== k) throw invalid(path, "a step's key is the version it upcasts from: a positive integer");
        if (n >= version) {
          throw invalid(path, `a step from version ${n} cannot exist when the current version is ${version}; steps go from 1 to ${version - 1}`);
        }
        if (typeof upcast[k] !== "function") throw invalid(path, `expected a function (data, event) => the data of version ${n + 1}`);
        steps[n] = upcast[k];
      }
      for (let n = 1; n < version; n++) {
        if (steps[n] === undefined) {
          throw invalid(stepPath(n), `missing: a step from version ${n} to ${n + 1} is needed to read events written at version ${n}`);
        }
      }
      this.#types.set(type, { version, steps });
    }
    this.active = this.#types.size > 0;
  }

  /**
   * The version a new event of this type is recorded with, checking one given
   * explicitly (`kept.schemaVersion`, path `events[i].schemaVersion`); an
   * unusable value is left for the engine to report.
   * @param {Kept[]} kept
   */
  stamp(kept) {
    for (let i = 0; i < kept.length; i++) {
      const k = kept[i];
      const given = k.schemaVersion;
      const declared = this.#types.get(k.type);
      if (given === undefined) {
        if (declared !== undefined && declared.version > 1) k.schemaVersion = declared.version;
        continue;
      }
      if (!isVersion(given)) continue; // the engine names it
      if (declared !== undefined && given > declared.version) {
        throw invalid(
          `events[${i}].schemaVersion`,
          `${given} is above ${k.type}'s current version ${declared.version}; this code can only write versions 1 to ${declared.version}`,
        );
      }
      if (given === 1) delete k.schemaVersion; // version 1 is recorded as none
    }
  }

  /**
   * Whether the event was written by newer code than this declaration knows.
   * @param {RecordedEvent} e
   */
  isNewer(e) {
    const v = e.schemaVersion;
    if (v === undefined) return false;
    const declared = this.#types.get(e.type);
    return declared !== undefined && v > declared.version;
  }

  /**
   * Notes the newer events among those entering the store.
   * @param {readonly RecordedEvent[]} events
   */
  entered(events) {
    const last = events[events.length - 1].revision;
    if (last > this.#older.length) {
      const grown = new Uint8Array(Math.max(last, this.#older.length * 2));
      grown.set(this.#older);
      this.#older = grown;
    }
    const older = this.#older;
    const types = this.#types;
    for (const e of events) {
      const declared = types.get(e.type);
      older[e.revision - 1] = declared !== undefined && (e.schemaVersion ?? 1) < declared.version ? 1 : 0;
      if (e.schemaVersion === undefined || !this.isNewer(e)) continue;
      const seen = this.#newer.get(e.type);
      if (seen !== undefined) {
        if (e.schemaVersion > seen.schemaVersion) seen.schemaVersion = e.schemaVersion;
        if (e.revision < seen.firstRevision && e.pending !== true) seen.firstRevision = e.revision;
        continue;
      }
      const entry = {
        type: e.type,
        schemaVersion: e.schemaVersion,
        known: /** @type {Declared} */ (this.#types.get(e.type)).version,
        firstRevision: e.revision,
      };
      this.#newer.set(e.type, entry);
      // Listeners are user code: never inside the transact or pull that brought it.
      for (const listener of this.#listeners) queueMicrotask(() => this.#tell(listener, entry));
    }
  }

  /** Each type seen at a newer version than declared: `{ type, schemaVersion, known, firstRevision }`. */
  newer() {
    return [...this.#newer.values()].map((e) => ({ ...e }));
  }

  /**
   * Calls `listener(entry)` for each type seen at a newer version, those
   * already seen included (asynchronously); returns a function that stops that.
   * @param {(entry: NewerSchema) => void} listener
   * @returns {() => void}
   */
  onNewer(listener) {
    if (typeof listener !== "function") throw invalid("listener", "expected a function ({ type, schemaVersion, known, firstRevision }) => void");
    this.#listeners.add(listener);
    for (const entry of this.#newer.values()) queueMicrotask(() => this.#tell(listener, entry));
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * @param {(entry: NewerSchema) => void} listener
   * @param {NewerSchema} entry
   */
  #tell(listener, entry) {
    if (!this.#listeners.has(listener)) return;
    try {
      listener({ ...entry });
    } catch (err) {
      console.error("hindcast: an onNewer listener threw", err);
    }
  }

  /**
   * The event as this code reads it: upcast to its type's current version
   * (kept), else as recorded. Throws SchemaError when a step fails.
   * @param {RecordedEvent} e
   * @returns {RecordedEvent}
   */
  view(e) {
    const i = e.revision - 1;
    if (i < this.#from.length && this.#from[i] === e) return /** @type {RecordedEvent} */ (this.#out[i]);
    const declared = this.#types.get(e.type);
    if (declared === undefined || versionOf(e) >= declared.version) return e;
    return this.#upcast(e, declared, i);
  }

  /**
   * `view` of each event, in place, given their revisions (the loop of a
   * read: kept lean, reading no event's fields).
   * @param {RecordedEvent[]} events
   * @param {ArrayLike<number>} revisions
   */
  viewAll(events, revisions) {
    const from = this.#from;
    const out = this.#out;
    const older = this.#older;
    for (let i = 0; i < events.length; i++) {
      const r = revisions[i] - 1;
      if (older[r] === 0) continue; // (past its end: undefined, looked at below)
      const e = events[i];
      if (r < from.length && from[r] === e) {
        events[i] = /** @type {RecordedEvent} */ (out[r]);
        continue;
      }
      events[i] = this.view(e);
    }
  }

  /**
   * Upcasts the event at index `i` and keeps the result next to it.
   * @param {RecordedEvent} e
   * @param {Declared} declared
   * @param {number} i
   */
  #upcast(e, declared, i) {
    const out = upcast(e, declared);
    const from = this.#from;
    // Kept dense (filled up to i), so that lookups stay an array's.
    while (from.length <= i) {
      from.push(undefined);
      this.#out.push(undefined);
    }
    from[i] = e;
    this.#out[i] = out;
    return out;
  }
}

/**
 * The event with its data upcast from its recorded version to the declared one.
 * @param {RecordedEvent} e
 * @param {Declared} declared
 * @returns {RecordedEvent}
 */
function upcast(e, declared) {
  let data = e.data;
  for (let v = versionOf(e); v < declared.version; v++) {
    let next;
    try {
      next = declared.steps[v](data, e);
    } catch (cause) {
      throw failed(e, v, cause, `threw: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    jsonFreeze(next, 0, FAULT);
    data = next;
    if (FAULT[0] !== "") {
      const where = `data${FAULT[0]}`;
      FAULT[0] = "";
      throw failed(e, v, new TypeError(where), `returned a value that is not JSON (at ${where})`);
    }
  }
  // The recorded event's fields in the order reads return them (record.js), data and schemaVersion replaced.
  /** @type {any} */
  const out = { revision: e.revision, stream: e.stream, version: e.version, id: e.id, type: e.type, data };
  if (e.subject !== undefined) out.subject = e.subject;
  if (e.tags !== undefined) out.tags = e.tags;
  if (e.time !== undefined) out.time = e.time;
  if (e.metadata !== undefined) out.metadata = e.metadata;
  if (e.correlationId !== undefined) out.correlationId = e.correlationId;
  out.schemaVersion = declared.version;
  out.batchId = e.batchId;
  out.recordedAt = e.recordedAt;
  if (e.pending) out.pending = true;
  return Object.freeze(out);
}

const { getPrototypeOf, freeze, keys } = Object;
/** Where the last jsonFreeze found what is not JSON ("" when all is well); reset after each fault. */
const FAULT = [""];
const OBJECT = Object.prototype;
const ARRAY = Array.prototype;

/**
 * What a step returned, frozen in place (all the way down), if it is JSON:
 * plain objects and arrays of strings, finite numbers, booleans and null,
 * nested at most MAX_DEPTH deep (which also stops a cycle). Else
 * `fault[0]` names where it is not (`.a[2] (undefined)`). Leaner than
 * json.js's frozenJson (no copy): it runs once per step per event read,
 * and a step's result is the store's to keep (SPEC §9: kept and frozen).
 * `-0` is JSON's `0` already to every reader but `Object.is`.
 * @param {any} v
 * @param {number} depth
 * @param {string[]} fault
 */
function jsonFreeze(v, depth, fault) {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(v)) fault[0] = ` (${v})`;
      return;
    case "object":
      if (v === null) return;
      break;
    default:
      fault[0] = v === undefined ? " (undefined)" : ` (a ${typeof v})`;
      return;
  }
  if (depth >= MAX_DEPTH) {
    fault[0] = ` (nested more than ${MAX_DEPTH} levels, or a cycle)`;
    return;
  }
  const proto = getPrototypeOf(v);
  if (Array.isArray(v)) {
    if (proto !== ARRAY) {
      fault[0] = " (an array of a subclass)";
      return;
    }
    for (let i = 0; i < v.length; i++) {
      jsonFreeze(v[i], depth + 1, fault);
      if (fault[0] !== "") {
        fault[0] = `[${i}]${fault[0]}`;
        return;
      }
    }
  } else {
    if (proto !== OBJECT && proto !== null) {
      fault[0] = " (an object that is not plain)";
      return;
    }
    for (const k of keys(v)) {
      jsonFreeze(v[k], depth + 1, fault);
      if (fault[0] !== "") {
        fault[0] = `${/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}${fault[0]}`;
        return;
      }
    }
  }
  freeze(v);
}

/**
 * @param {RecordedEvent} e
 * @param {number} v the step's version
 * @param {unknown} cause
 * @param {string} what
 */
function failed(e, v, cause, what) {
  return new SchemaError(
    `The upcast step ${e.type} ${v} → ${v + 1} ${what}, on the event at revision ${e.revision}. Upcasters must return the next version's data as JSON; the event is unchanged in the log.`,
    cause,
    e,
  );
}
