// A transact request, split for its two keepers: the wire text the engine
// checks and indexes (everything but the events' data and metadata, as JSON)
// and what this layer keeps for the recorded events (frozen copies of data,
// metadata and tags, the time and the correlation id).
//
// Everything is read from the request once, at the call: a caller may reuse
// or change the request object afterwards. `null` in an optional field means
// the same as leaving it out (see record.js), here and in stored records.

import { invalid } from "./errors.js";
import { checkJsonSafe, checkSelector, frozenJson, joinPath, setOwn, isObject } from "./json.js";

/** @import { Path } from "./json.js" */

/**
 * What this layer keeps of an event for its recorded form (record.js): the
 * checked fields the engine does not keep, frozen.
 * @typedef {{ stream: string, type: string, data: unknown, subject?: string, tags?: unknown,
 *   time?: string, metadata?: unknown, schemaVersion?: number }} Kept
 *   (`schemaVersion`: as given, checked by the engine; schemas.js stamps and checks it against the declaration)
 */

const { stringify } = JSON;
/**
 * The JSON text of the keys an event usually has (no prototype: the type
 * sees `__proto__: null` as a key).
 * @type {{ [key: string]: string | null | undefined }}
 */
const KEY = { __proto__: null, stream: '"stream"', type: '"type"', subject: '"subject"', tags: '"tags"', id: '"id"', time: '"time"' };

/**
 * @returns {{ wire: string, kept: Kept[], correlationId: string | undefined }}
 *   `kept` holds one entry per event when `events` is an array of objects;
 *   the engine reports any other shape (and checks the correlation id's).
 * @param {unknown} req
 */
export function prepare(req) {
  if (!isObject(req)) {
    throw invalid("", "transact expects a request object such as { events: [{ stream, type, data }] }");
  }
  const path = [];
  let wire = "{";
  /** @type {Kept[]} */
  let kept = [];
  let correlationId;
  // The last common event's stream, type and text, within this request.
  const last = { stream: undefined, type: undefined, text: "" };
  for (const key of Object.keys(req)) {
    const v = req[key];
    if (v === undefined || v === null) continue; // absent (see record.js)
    if (key === "correlationId") correlationId = v;
    path.push(key);
    let text;
    if (key === "events" && Array.isArray(v)) {
      text = "[";
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        if (i > 0) text += ",";
        text += prepareEvent(v[i], path, kept, last);
        path.pop();
      }
      text += "]";
    } else {
      if (key === "constraints" && Array.isArray(v)) checkConstraints(v, path);
      else checkJsonSafe(v, path);
      text = stringify(v);
    }
    path.pop();
    if (wire.length > 1) wire += ",";
    wire += stringify(key) + ":" + text;
  }
  return { wire: wire + "}", kept, correlationId };
}

/**
 * One event's wire text; its kept parts go to `kept`. Reads each field once.
 * @param {unknown} e
 * @param {Path} path
 * @param {Kept[]} kept
 * @param {{ stream: string | undefined, type: string | undefined, text: string }} last
 * @returns {string}
 */
function prepareEvent(e, path, kept, last) {
  if (!isObject(e)) {
    checkJsonSafe(e, path);
    return stringify(e);
  }
  const keys = Object.keys(e);
  // The common event { stream, type, data? }: its text, once per stream and type.
  if (keys.length <= 3 && keys.every(isCommon)) {
    const stream = e.stream;
    const type = e.type;
    const data = e.data;
    if (typeof stream === "string" && typeof type === "string") {
      /** @type {Kept} */
      const keep = { stream, type, data: null };
      if (data !== undefined && data !== null) {
        path.push("data");
        keep.data = frozenJson(data, path);
        path.pop();
      }
      kept.push(keep);
      if (stream !== last.stream || type !== last.type) {
        last.stream = stream;
        last.type = type;
        last.text = `{"stream":${stringify(stream)},"type":${stringify(type)}}`;
      }
      return last.text;
    }
    return eventText(keys, { stream, type, data }, path, kept);
  }
  /** @type {Record<string, unknown>} */
  const values = {};
  for (const k of keys) setOwn(values, k, e[k]);
  return eventText(keys, values, path, kept);
}

/**
 * An event's wire text from its fields, each read once into `values`.
 * @param {string[]} keys
 * @param {Record<string, any>} values
 * @param {Path} path
 * @param {Kept[]} kept
 * @returns {string}
 */
function eventText(keys, values, path, kept) {
  /** @type {Kept} */
  const keep = { stream: values.stream, type: values.type, data: null };
  let text = "{";
  for (const k of keys) {
    const x = values[k];
    if (x === undefined || x === null) continue; // absent (see record.js)
    path.push(k);
    if (k === "data") {
      keep.data = frozenJson(x, path);
    } else if (k === "metadata") {
      if (!isObject(x)) throw invalid(joinPath(path), "expected a JSON object");
      keep.metadata = frozenJson(x, path);
    } else {
      // Tags are copied first and the copy sent: what is kept is what was checked.
      const v = k === "tags" && Array.isArray(x) ? (keep.tags = frozenJson(x, path)) : x;
      checkJsonSafe(v, path);
      if (text.length > 1) text += ",";
      text += (KEY[k] ?? stringify(k)) + ":" + stringify(v);
      if (k === "subject" || k === "time" || k === "schemaVersion") keep[k] = v;
    }
    path.pop();
  }
  kept.push(keep);
  return text + "}";
}

/** @param {string} k */
const isCommon = (k) => k === "stream" || k === "type" || k === "data";

/**
 * @param {unknown[]} list
 * @param {Path} path
 */
function checkConstraints(list, path) {
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    path.push(i);
    if (isObject(c)) {
      for (const k of Object.keys(c)) {
        path.push(k);
        if (k === "selector" || k === "failIfEventsMatch") checkSelector(c[k], path);
        else checkJsonSafe(c[k], path);
        path.pop();
      }
    } else {
      checkJsonSafe(c, path);
    }
    path.pop();
  }
}
