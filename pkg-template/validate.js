// What only JavaScript can check: that values survive JSON.stringify.
//
// The engine receives each request as JSON text. JSON.stringify silently
// drops or changes some values (undefined, functions, NaN, Dates, holes) and
// throws on others (BigInt, cycles); these checks catch them first, with the
// path of the bad value, so nothing is lost or altered on the way in. All
// other validation (shapes, names, revisions) happens in the engine.

import { invalid } from "./errors.js";

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const keyPath = (parent, key) =>
  IDENT.test(key) ? (parent ? `${parent}.${key}` : key) : `${parent}[${JSON.stringify(key)}]`;

const STRICT = 0; // data, metadata: exactly a JSON value
const SELECTOR = 1; // selectors: JSON, and no key left undefined
const LENIENT = 2; // the request's own fields: undefined reads as absent

function describe(v) {
  if (typeof v === "number") return String(v);
  if (typeof v === "object") return `a ${Object.prototype.toString.call(v).slice(8, -1)} object`;
  return `a ${typeof v}`;
}

function walk(v, path, mode, parents) {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(v) || mode === LENIENT) return; // the engine rejects a non-finite field
      throw invalid(path, `${v} is not a JSON number; use a finite number`);
    case "undefined":
      if (mode === LENIENT) return;
      throw invalid(
        path,
        mode === SELECTOR
          ? "is undefined; leave the key out to place no condition, or give a value"
          : "undefined does not survive JSON; use null or leave the key out",
      );
    case "object":
      break;
    default:
      throw invalid(path, `${describe(v)} is not JSON; use strings, numbers, booleans, null, arrays and plain objects`);
  }
  if (v === null) return;
  if (parents.includes(v)) throw invalid(path, "refers back to an enclosing object (a cycle); JSON cannot hold cycles");
  parents.push(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (mode !== LENIENT && !(i in v)) throw invalid(`${path}[${i}]`, "is a hole in a sparse array; JSON has no holes");
      walk(v[i], `${path}[${i}]`, mode === LENIENT ? STRICT : mode, parents);
    }
  } else {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null && mode !== LENIENT) {
      throw invalid(path, `${describe(v)} would not survive JSON unchanged; convert it to a plain object, string or number`);
    }
    if (mode !== LENIENT && Object.getOwnPropertySymbols(v).length > 0) {
      throw invalid(path, "has symbol keys, which JSON drops");
    }
    for (const k of Object.keys(v)) walk(v[k], keyPath(path, k), mode, parents);
  }
  parents.pop();
}

/** Checks a JSON value (data, metadata). */
export function checkJson(v, path) {
  walk(v, path, STRICT, []);
}

/** Checks a selector, if given. */
export function checkSelector(selector, path) {
  if (selector !== undefined) walk(selector, path, SELECTOR, []);
}

/** Checks read options: only their fields, undefined meaning absent. */
export function checkOptions(options) {
  if (options !== undefined) walk(options, "options", LENIENT, []);
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** Checks a transact request as far as JSON is concerned. */
export function checkRequest(req) {
  if (!isObject(req)) throw invalid("", "transact expects a request object such as { events: [{ stream, type, data }] }");
  for (const key of Object.keys(req)) {
    const v = req[key];
    if (key === "events" && Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        const path = `events[${i}]`;
        if (!isObject(e)) {
          walk(e, path, LENIENT, []);
          continue;
        }
        for (const k of Object.keys(e)) {
          const x = e[k];
          if ((k === "data" || k === "metadata") && x !== undefined) checkJson(x, `${path}.${k}`);
          else walk(x, keyPath(path, k), LENIENT, []);
        }
      }
    } else if (key === "constraints" && Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c = v[i];
        const path = `constraints[${i}]`;
        if (!isObject(c)) {
          walk(c, path, LENIENT, []);
          continue;
        }
        for (const k of Object.keys(c)) {
          const x = c[k];
          if (k === "selector" || k === "failIfEventsMatch") checkSelector(x, `${path}.${k}`);
          else walk(x, keyPath(path, k), LENIENT, []);
        }
      }
    } else {
      walk(v, keyPath("", key), LENIENT, []);
    }
  }
}
