// What only JavaScript can check: that values survive JSON.stringify.
//
// The engine receives each request as JSON text. JSON.stringify silently
// drops or changes some values (undefined, functions, NaN, Dates, holes) and
// throws on others (BigInt, cycles); these checks catch them first, with the
// path of the bad value, so nothing is lost or altered on the way in. All
// other validation (shapes, names, revisions) happens in the engine.
//
// Paths are kept as a stack of segments and joined only for an error: the
// walk runs on every transact.

import { invalid } from "./errors.js";

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `events[2].type`, `expect["acc-1"]`: the path as JavaScript reaches it. */
export function joinPath(segments) {
  let path = "";
  for (const s of segments) {
    if (typeof s === "number") path += `[${s}]`;
    else if (IDENT.test(s)) path += path ? `.${s}` : s;
    else path += `[${JSON.stringify(s)}]`;
  }
  return path;
}

const STRICT = 0; // data, metadata: exactly a JSON value
const SELECTOR = 1; // selectors: JSON, and no key left undefined
const LENIENT = 2; // the request's own fields: undefined reads as absent

function describe(v) {
  if (typeof v === "number") return String(v);
  if (typeof v === "object") return `a ${Object.prototype.toString.call(v).slice(8, -1)} object`;
  return `a ${typeof v}`;
}

/** Walks `v`, whose path is `path` (a stack of segments, restored on return). */
function walk(v, path, mode, parents) {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (mode === LENIENT || Number.isFinite(v)) return; // the engine rejects a non-finite field
      throw invalid(joinPath(path), `${v} is not a JSON number; use a finite number`);
    case "undefined":
      if (mode === LENIENT) return;
      throw invalid(
        joinPath(path),
        mode === SELECTOR
          ? "is undefined; leave the key out to place no condition, or give a value"
          : "undefined does not survive JSON; use null or leave the key out",
      );
    case "object":
      if (v === null) return;
      break;
    default:
      throw invalid(
        joinPath(path),
        `${describe(v)} is not JSON; use strings, numbers, booleans, null, arrays and plain objects`,
      );
  }
  if (parents.includes(v)) {
    throw invalid(joinPath(path), "refers back to an enclosing object (a cycle); JSON cannot hold cycles");
  }
  parents.push(v);
  if (Array.isArray(v)) {
    // Inside arrays undefined is never "absent": JSON.stringify writes null.
    const inner = mode === LENIENT ? STRICT : mode;
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      if (!(i in v)) throw invalid(joinPath(path), "is a hole in a sparse array; JSON has no holes");
      walk(v[i], path, inner, parents);
      path.pop();
    }
  } else {
    // A Date, Map or class instance would reach the engine changed (or as
    // a string via toJSON): only plain objects are accepted anywhere.
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw invalid(
        joinPath(path),
        `${describe(v)} would not survive JSON unchanged; convert it to a plain object, string or number`,
      );
    }
    if (mode !== LENIENT) {
      if (Object.getOwnPropertySymbols(v).length > 0) {
        throw invalid(joinPath(path), "has symbol keys, which JSON drops");
      }
    }
    for (const k of Object.keys(v)) {
      path.push(k);
      walk(v[k], path, mode, parents);
      path.pop();
    }
  }
  parents.pop();
}

/** Checks a selector, if given. */
export function checkSelector(selector, name) {
  if (selector !== undefined) walk(selector, [name], SELECTOR, []);
}

/** Checks read options: their fields, undefined meaning absent. */
export function checkOptions(options) {
  if (options !== undefined) walk(options, ["options"], LENIENT, []);
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** Checks each entry of `obj`, walking those named in `special` in their mode. */
function walkEntries(obj, path, special) {
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    path.push(k);
    const mode = special[k];
    if (mode === undefined) walk(v, path, LENIENT, []);
    else if (v !== undefined || mode === SELECTOR) walk(v, path, mode, []);
    path.pop();
  }
}

const EVENT_FIELDS = { __proto__: null, data: STRICT, metadata: STRICT };
const CONSTRAINT_FIELDS = { __proto__: null, selector: SELECTOR, failIfEventsMatch: SELECTOR };

/** Checks a transact request as far as JSON is concerned. */
export function checkRequest(req) {
  if (!isObject(req)) {
    throw invalid("", "transact expects a request object such as { events: [{ stream, type, data }] }");
  }
  const path = [];
  for (const key of Object.keys(req)) {
    const v = req[key];
    path.push(key);
    if ((key === "events" || key === "constraints") && Array.isArray(v)) {
      const fields = key === "events" ? EVENT_FIELDS : CONSTRAINT_FIELDS;
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        if (isObject(v[i])) walkEntries(v[i], path, fields);
        else walk(v[i], path, STRICT, []);
        path.pop();
      }
    } else {
      walk(v, path, LENIENT, []);
    }
    path.pop();
  }
}
