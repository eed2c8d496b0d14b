// JSON values as Hindcast keeps them: checked, copied and frozen.
//
// Event data and metadata stay on the JavaScript side (the engine indexes
// and checks everything else). On the way in, a value is checked to be
// exactly a JSON value (what JSON.stringify would drop, change or reject is
// an error naming its path) and copied into frozen plain objects, so neither
// the caller's later changes nor a reader's can alter a stored event.
//
// Paths are kept as a stack of segments and joined only for an error: these
// functions run on every transact.

import { invalid } from "./errors.js";

/** @import { InvalidInputError } from "./errors.js" */

/**
 * A path as a stack of segments: keys and array indexes.
 * @typedef {(string | number)[]} Path
 */

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Whether `v` is an object that is not an array (nor null).
 * @type {(v: unknown) => v is Record<string, any>}
 */
export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `events[2].type`, `expect["acc-1"]`: the path as JavaScript reaches it.
 * @param {Path} segments
 */
export function joinPath(segments) {
  let path = "";
  for (const s of segments) {
    if (typeof s === "number") path += `[${s}]`;
    else if (IDENT.test(s)) path += path ? `.${s}` : s;
    else path += `[${JSON.stringify(s)}]`;
  }
  return path;
}

/** @param {unknown} v */
function describe(v) {
  if (typeof v === "number") return String(v);
  if (typeof v === "object") return `a ${Object.prototype.toString.call(v).slice(8, -1)} object`;
  return `a ${typeof v}`;
}

/** @type {(v: unknown, path: Path) => InvalidInputError} */
const notJson = (v, path) =>
  invalid(joinPath(path), `${describe(v)} is not JSON; use strings, numbers, booleans, null, arrays and plain objects`);

/**
 * How deep JSON values may nest. Deeper values are refused with their path
 * rather than failing later in a recursive copy or in JSON.stringify.
 */
export const MAX_DEPTH = 1000;

/**
 * Throws unless `v` is a plain object or plain array that is not among
 * `parents` and not nested deeper than MAX_DEPTH: exactly what survives a
 * JSON round trip unchanged.
 * @param {any} v an object, not null
 * @param {Path} path
 * @param {unknown[]} parents
 */
function checkContainer(v, path, parents) {
  if (parents.includes(v)) {
    throw invalid(joinPath(path), "refers back to an enclosing object (a cycle); JSON cannot hold cycles");
  }
  if (parents.length >= MAX_DEPTH) {
    throw invalid(joinPath(path), `is nested more than ${MAX_DEPTH} levels deep; flatten the value`);
  }
  // A Date, Map, Array subclass or class instance would not survive JSON unchanged.
  const proto = Object.getPrototypeOf(v);
  const array = Array.isArray(v);
  if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
    throw invalid(
      joinPath(path),
      `${describe(v)} would not survive JSON unchanged; convert it to a plain ${array ? "array" : "object, string or number"}`,
    );
  }
  if (typeof v.toJSON === "function") {
    throw invalid(joinPath(path), "has a toJSON method, so JSON would store what it returns instead; pass that plain value");
  }
  if (Object.getOwnPropertySymbols(v).length > 0) throw invalid(joinPath(path), "has symbol keys, which JSON drops");
  // An array's own keys are its indexes; anything else is dropped by JSON.
  if (array && Object.keys(v).length !== v.length) {
    const extra = Object.keys(v).find((/** @type {any} an index is a key k with String(k >>> 0) === k */ k) => !(String(k >>> 0) === k && k >>> 0 < v.length));
    if (extra !== undefined) {
      throw invalid(joinPath([...path, extra]), "is a property of an array, which JSON drops; use an object");
    }
  }
}

/**
 * Sets `obj[key]`, as an own property even for the key "__proto__".
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {unknown} value
 */
export function setOwn(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * A frozen copy of the JSON value `v` (`-0` becomes `0`, as JSON writes it),
 * or an InvalidInputError naming the path of what is not JSON.
 * @param {any} v
 * @param {Path} path
 * @param {unknown[]} [parents]
 * @returns {unknown}
 */
export function frozenJson(v, path, parents = []) {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (!Number.isFinite(v)) throw invalid(joinPath(path), `${v} is not a JSON number; use a finite number`);
      return v === 0 ? 0 : v;
    case "undefined":
      throw invalid(joinPath(path), "undefined does not survive JSON; use null or leave the key out");
    case "object":
      if (v === null) return null;
      break;
    default:
      throw notJson(v, path);
  }
  checkContainer(v, path, parents);
  parents.push(v);
  /** @type {unknown[] | Record<string, unknown>} */
  let copy;
  if (Array.isArray(v)) {
    copy = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      if (!(i in v)) throw invalid(joinPath(path), "is a hole in a sparse array; JSON has no holes");
      copy[i] = frozenJson(v[i], path, parents);
      path.pop();
    }
  } else {
    copy = {};
    for (const k of Object.keys(v)) {
      path.push(k);
      const x = frozenJson(v[k], path, parents);
      if (k === "__proto__") setOwn(copy, k, x);
      else copy[k] = x;
      path.pop();
    }
  }
  parents.pop();
  return Object.freeze(copy);
}

/**
 * Freezes, all the way down, a value that JSON.parse made (so JSON already,
 * nothing to check): stored, pulled and imported events. Iterative: a
 * value nested any number of levels deep freezes without growing the stack.
 * @param {any} v an object or array
 * @returns {any} `v`
 */
export function freezeParsed(v) {
  /** @type {any[]} */
  const todo = [v];
  while (todo.length > 0) {
    const o = todo.pop();
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) if (typeof o[i] === "object" && o[i] !== null) todo.push(o[i]);
    } else {
      for (const k of Object.keys(o)) if (typeof o[k] === "object" && o[k] !== null) todo.push(o[k]);
    }
    Object.freeze(o);
  }
  return v;
}

/**
 * Whether a value that JSON.parse made nests arrays and objects more than
 * `max` levels deep (`[]` is one level). Iterative, and stops at the first
 * container too deep.
 * @param {unknown} v
 * @param {number} [max]
 */
export function deeperThan(v, max = MAX_DEPTH) {
  if (typeof v !== "object" || v === null) return false;
  /** @type {[any, number][]} */
  const todo = [[v, 1]];
  while (todo.length > 0) {
    const [o, depth] = /** @type {[any, number]} */ (todo.pop());
    if (depth > max) return true;
    const values = Array.isArray(o) ? o : Object.values(o);
    for (const x of values) if (typeof x === "object" && x !== null) todo.push([x, depth + 1]);
  }
  return false;
}

const LENIENT = 0; // the request's own fields: undefined reads as absent
const SELECTOR = 1; // selectors: no key may be undefined

/**
 * Checks that `v` crosses to the engine as JSON unchanged, so the engine
 * sees what the caller wrote (it checks shapes and types itself).
 * @param {any} v
 * @param {Path} path
 * @param {number} [mode] LENIENT or SELECTOR
 * @param {unknown[]} [parents]
 */
export function checkJsonSafe(v, path, mode = LENIENT, parents = []) {
  switch (typeof v) {
    case "string":
    case "boolean":
    case "number": // a non-finite number arrives as null, which the engine rejects
      return;
    case "undefined":
      if (mode === LENIENT) return;
      throw invalid(joinPath(path), "is undefined; leave the key out to place no condition, or give a value");
    case "object":
      if (v === null) return;
      break;
    default:
      throw notJson(v, path);
  }
  checkContainer(v, path, parents);
  parents.push(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      // Inside arrays undefined is never "absent": JSON.stringify writes null.
      if (v[i] === undefined) throw invalid(joinPath(path), "is undefined; JSON would turn it into null");
      checkJsonSafe(v[i], path, mode, parents);
      path.pop();
    }
  } else {
    for (const k of Object.keys(v)) {
      path.push(k);
      checkJsonSafe(v[k], path, mode, parents);
      path.pop();
    }
  }
  parents.pop();
}

/**
 * Checks a selector, if given.
 * @param {unknown} selector
 * @param {Path} path
 */
export function checkSelector(selector, path) {
  if (selector !== undefined) checkJsonSafe(selector, path, SELECTOR);
}

/**
 * Whether two JSON values are equal, object keys in the same order.
 * @param {any} a
 * @param {any} b
 * @returns {boolean}
 */
export function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i] || !sameJson(a[ka[i]], b[kb[i]])) return false;
  }
  return true;
}
