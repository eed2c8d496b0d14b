// The public API: EventStore, the error classes, wasmMemoryBytes.
//
// A thin layer over the engine: it checks what only JavaScript can check
// (validate.js), sends each call across as JSON text, and turns the engine's
// answer or error back into objects. The engine never calls JavaScript, so
// no user code can run while it is busy.

import { Engine } from "./wasm/hindcast.js";
import { loadWasm, memoryF64 } from "./loader.js";
import { fromWire, invalid } from "./errors.js";
import { checkOptions, checkRequest, checkSelector } from "./validate.js";

export {
  HindcastError,
  ConstraintViolationError,
  InvalidInputError,
  StorageError,
  HandlerError,
} from "./errors.js";
export { wasmMemoryBytes } from "./loader.js";

const { stringify, parse } = JSON;
const PRIVATE = Symbol("EventStore");
/** JSON text of an optional argument; "" stands for undefined. */
const text = (v) => (v === undefined ? "" : stringify(v));
/** JSON text of a stream name, checked to be a string. */
function streamName(stream) {
  if (typeof stream !== "string") throw invalid("stream", "expected the stream's name, a non-empty string");
  return stringify(stream);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const hex32 = (w) => HEX[w >>> 24] + HEX[(w >>> 16) & 255] + HEX[(w >>> 8) & 255] + HEX[w & 255];

/** A UUID's text from its four 32-bit words, high first. */
function uuidText(a, b, c, d) {
  const x = hex32(b);
  const y = hex32(c);
  return `${hex32(a)}-${x.slice(0, 4)}-${x.slice(4)}-${y.slice(0, 4)}-${y.slice(4)}${hex32(d)}`;
}

/**
 * The commit object from the engine's words (see Engine.transact), found at
 * `words[at]`, and the request's events, whose streams it lists in order of
 * first appearance.
 */
function commitOf(words, at, events) {
  const streams = {};
  const put = (stream, j) => {
    const pos = { version: words[j], revision: words[j + 1] };
    // A stream named "__proto__" must become a key, not a prototype.
    if (stream === "__proto__") {
      Object.defineProperty(streams, stream, { value: pos, enumerable: true, writable: true, configurable: true });
    } else {
      streams[stream] = pos;
    }
  };
  if (events.length === 1) {
    put(events[0].stream, at + 7);
  } else {
    const seen = new Set();
    let j = at + 7;
    for (const { stream } of events) {
      if (seen.has(stream)) continue;
      seen.add(stream);
      put(stream, j);
      j += 2;
    }
  }
  return {
    batchId: uuidText(words[at + 3], words[at + 4], words[at + 5], words[at + 6]),
    firstRevision: words[at],
    revision: words[at + 1],
    streams,
    replayed: words[at + 2] === 1,
  };
}

export class EventStore {
  #engine;

  /** Use `EventStore.memory()`. */
  constructor(engine, key) {
    if (key !== PRIVATE) throw new TypeError("Use `await EventStore.memory()` to create a store.");
    this.#engine = engine;
  }

  /** A store that lives in memory only. */
  static async memory() {
    await loadWasm();
    return new EventStore(new Engine(), PRIVATE);
  }

  /** The head: the revision of the newest event, 0 when empty. */
  get revision() {
    return this.#engine.head();
  }

  /** Appends a batch atomically if every expectation and constraint holds. */
  async transact(request) {
    checkRequest(request);
    let at;
    try {
      at = this.#engine.transact(stringify(request), Date.now());
    } catch (e) {
      throw fromWire(e);
    }
    return commitOf(memoryF64(), at >>> 3, request.events);
  }

  /** The events matching `selector` (default: all), oldest first. */
  read(selector, options) {
    checkSelector(selector, "selector");
    checkOptions(options);
    try {
      return parse(this.#engine.read(text(selector), text(options)));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /** One stream's events, by version. */
  readStream(stream, options) {
    const name = streamName(stream);
    checkOptions(options);
    try {
      return parse(this.#engine.readStream(name, text(options)));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /** The revision of the newest event matching `selector`, 0 if none. */
  lastRevision(selector) {
    checkSelector(selector, "selector");
    try {
      return this.#engine.lastRevision(text(selector));
    } catch (e) {
      throw fromWire(e);
    }
  }

  /** The version and revision of a stream's last event, or null. */
  stream(stream) {
    const name = streamName(stream);
    let pos;
    try {
      pos = this.#engine.stream(name);
    } catch (e) {
      throw fromWire(e);
    }
    return pos.length === 0 ? null : { version: pos[0], revision: pos[1] };
  }
}
