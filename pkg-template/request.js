// A transact request, split for its two keepers: the wire text the engine
// checks and indexes (everything but the events' data and metadata, as JSON)
// and what this layer keeps for the recorded events (frozen copies of data,
// metadata and tags, and the time).

import { invalid } from "./errors.js";
import { checkJsonSafe, checkSelector, frozenJson, joinPath } from "./json.js";

const { stringify } = JSON;
/** The JSON text of the keys an event usually has. */
const KEY = { __proto__: null, stream: '"stream"', type: '"type"', subject: '"subject"', tags: '"tags"', id: '"id"', time: '"time"' };
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * @returns {{ wire: string, kept: Array<{ stream, type, data, subject?, tags?, time?, metadata? }> }}
 *   `kept` holds one entry per event when `events` is an array of objects;
 *   the engine reports any other shape.
 */
export function prepare(req) {
  if (!isObject(req)) {
    throw invalid("", "transact expects a request object such as { events: [{ stream, type, data }] }");
  }
  const path = [];
  let wire = "{";
  let kept = [];
  for (const key of Object.keys(req)) {
    const v = req[key];
    if (v === undefined) continue; // an optional field left undefined is absent
    path.push(key);
    let text;
    if (key === "events" && Array.isArray(v)) {
      text = "[";
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        if (i > 0) text += ",";
        text += prepareEvent(v[i], path, kept);
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
  return { wire: wire + "}", kept };
}

/** One event's wire text; its kept parts go to `kept`. */
function prepareEvent(e, path, kept) {
  if (!isObject(e)) {
    checkJsonSafe(e, path);
    return stringify(e);
  }
  const keep = { stream: e.stream, type: e.type, data: null };
  const keys = Object.keys(e);
  // The common event { stream, type, data? }: its text, once per stream and type.
  if (keys.length <= 3 && typeof e.stream === "string" && typeof e.type === "string" && keys.every(isCommon)) {
    if (e.data !== undefined) {
      path.push("data");
      keep.data = frozenJson(e.data, path);
      path.pop();
    }
    kept.push(keep);
    if (e.stream !== last.stream || e.type !== last.type) {
      last.stream = e.stream;
      last.type = e.type;
      last.text = `{"stream":${stringify(e.stream)},"type":${stringify(e.type)}}`;
    }
    return last.text;
  }
  let text = "{";
  for (const k of keys) {
    const x = e[k];
    if (x === undefined) continue;
    path.push(k);
    if (k === "data") {
      keep.data = frozenJson(x, path);
    } else if (k === "metadata") {
      if (!isObject(x)) throw invalid(joinPath(path), "expected a JSON object");
      keep.metadata = frozenJson(x, path);
    } else {
      checkJsonSafe(x, path);
      if (text.length > 1) text += ",";
      text += (KEY[k] ?? stringify(k)) + ":" + stringify(x);
      if (k === "tags" && Array.isArray(x)) keep.tags = Object.freeze(x.slice());
      else if (k === "subject" || k === "time") keep[k] = x;
    }
    path.pop();
  }
  kept.push(keep);
  return text + "}";
}

const isCommon = (k) => k === "stream" || k === "type" || k === "data";
/** The last common event's stream, type and text. */
const last = { stream: undefined, type: undefined, text: "" };

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
