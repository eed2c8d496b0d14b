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
// - `#shown[r - 1]` is what reads return for the event at revision r, or
//   undefined while it is yet to be upcast: every event the store takes in
//   passes `entered` (EventStore's one publish), which sets its entry, so
//   an entry never outlives its event (a rebase's renumbered events enter
//   again); an event is upcast at most once per store, and a failed step
//   is tried again on the next read;
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

/**
 * The recorded version of an event: 1 when it has none.
 * @param {RecordedEvent} e
 */
const versionOf = (e) => e.schemaVersion ?? 1;

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
   * By revision, the event as reads return it: the recorded one, its upcast,
   * or undefined until it is upcast (see the invariants above). One load
   * per event read, as a store without schemas has.
   * @type {(RecordedEvent | undefined)[]}
   */
  #shown = [];

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
   * The version this code reads events of `type` at: declared, or 1.
   * @param {string} type
   */
  declaredVersion(type) {
    return this.#types.get(type)?.version ?? 1;
  }

  /**
   * The version a new event of this type is recorded with, checking one given
   * explicitly (`kept.schemaVersion`, path `events[i].schemaVersion`); an
   * unusable value is left for the engine to report.
   * @param {Kept[]} kept
   */
  stamp(kept) {
    if (!this.active) {
      // Nothing declared: only a given 1 changes (recorded as none).
      for (const k of kept) if (k.schemaVersion === 1) delete k.schemaVersion;
      return;
    }
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
   * Whether the event was written by newer code than this declaration
   * knows. (None is while `newer()` is empty: every event the store holds
   * went through `entered`.)
   * @param {RecordedEvent} e
   */
  isNewer(e) {
    const v = e.schemaVersion;
    if (v === undefined || this.#newer.size === 0) return false;
    const declared = this.#types.get(e.type);
    return declared !== undefined && v > declared.version;
  }

  /**
   * Takes note of events entering the store (every one does, through
   * EventStore's publish): their entries in `#shown`, and those written by
   * newer code.
   * @param {readonly RecordedEvent[]} events
   */
  entered(events) {
    const shown = this.#shown;
    const types = this.#types;
    for (const e of events) {
      const declared = types.get(e.type);
      const r = e.revision - 1;
      const as = declared !== undefined && versionOf(e) < declared.version ? undefined : e;
      if (r < shown.length) shown[r] = as;
      else {
        while (shown.length < r) shown.push(undefined); // kept dense: an array's loads
        shown.push(as);
      }
      if (e.schemaVersion === undefined || declared === undefined || e.schemaVersion <= declared.version) continue;
      const seen = this.#newer.get(e.type);
      if (seen !== undefined) {
        if (e.schemaVersion > seen.schemaVersion) seen.schemaVersion = e.schemaVersion;
        if (e.revision < seen.firstRevision) seen.firstRevision = e.revision;
        continue;
      }
      const entry = {
        type: e.type,
        schemaVersion: e.schemaVersion,
        known: declared.version,
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
    const r = e.revision - 1;
    const shown = this.#shown[r];
    if (shown !== undefined) return shown;
    const declared = this.#types.get(e.type);
    if (declared === undefined || versionOf(e) >= declared.version) return e;
    const out = upcast(e, declared);
    if (r < this.#shown.length) this.#shown[r] = out;
    return out;
  }

  /**
   * The events at `revisions` of the log `all` (index r - 1 holds revision
   * r) as this code reads them: a read's loop, kept lean.
   * @param {readonly RecordedEvent[]} all
   * @param {ArrayLike<number>} revisions
   * @returns {RecordedEvent[]}
   */
  readAt(all, revisions) {
    const shown = this.#shown;
    const n = revisions.length;
    const events = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = revisions[i] - 1;
      events[i] = shown[r] ?? this.view(all[r]);
    }
    return events;
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
    data = /** @type {RecordedEvent["data"]} checked just below */ (next);
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

const { getPrototypeOf, freeze } = Object;
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
    // for-in: no array made; a plain object's prototype has no enumerable keys.
    for (const k in v) {
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
