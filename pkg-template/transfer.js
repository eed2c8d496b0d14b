// Export and import: the log as NDJSON, one recorded event per line,
// exactly as reads return it, oldest first, whole batches only.
//
// Import is all or nothing. Every line is parsed and checked by the one
// definition of a recorded event (record.js) while the source streams in;
// the engine then checks that the log follows the store (revisions,
// versions, ids, batch ids: the same check as loading stored records) and
// only then is anything applied, in one step (memory) or one IndexedDB
// transaction (persistent.js).

import { InvalidInputError, fromWire, invalid } from "./errors.js";
import { canonical, decodeRecorded, uuidFault } from "./record.js";

/** @import { Engine } from "./wasm/hindcast.js" */
/** @import { ImportSource, RecordedEvent } from "./index.js" */

const { stringify } = JSON;
/** Export chunks end at the first line end past this many characters. */
const CHUNK_CHARS = 1 << 16;
/** Imported batches are checked and stored in runs of about this many events. */
const RUN_EVENTS = 1_000;
/** Lines between two progress reports of an import. */
const PROGRESS_LINES = 10_000;

/**
 * `store.export(options)`: checks the options now, yields lazily, up to
 * `head` (a syncing store's confirmed prefix; else the last event).
 * @param {readonly RecordedEvent[]} events
 * @param {unknown} options
 * @param {number} head
 * @returns {AsyncIterable<string>}
 */
export function exportLog(events, options, head) {
  const after = exportAfter(events, options, head);
  return chunks(events, after, head);
}

/**
 * @param {readonly RecordedEvent[]} events
 * @param {any} options as given
 * @param {number} head
 * @returns {number}
 */
function exportAfter(events, options, head) {
  if (options === undefined) return 0;
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalid("options", "expected { after? }");
  for (const k of Object.keys(options)) {
    if (k !== "after") throw invalid(`options.${k}`, "unknown option; expected after");
  }
  const after = options.after ?? 0;
  if (!Number.isSafeInteger(after) || after < 0) throw invalid("options.after", "expected a revision (a non-negative integer)");
  if (after > head) throw invalid("options.after", `is past the head (${head})`);
  if (after > 0 && after < head && events[after - 1].batchId === events[after].batchId) {
    throw invalid("options.after", `falls inside the batch ${events[after].batchId}; an export holds whole batches`);
  }
  return after;
}

/**
 * @param {readonly RecordedEvent[]} events
 * @param {number} after
 * @param {number} end
 */
async function* chunks(events, after, end) {
  /** @type {string[]} */
  let lines = [];
  let chars = 0;
  for (let r = after + 1; r <= end; r++) {
    const line = stringify(events[r - 1]);
    lines.push(line);
    chars += line.length;
    if (chars >= CHUNK_CHARS) {
      lines.push("");
      yield lines.join("\n");
      lines = [];
      chars = 0;
    }
  }
  if (lines.length > 0) {
    lines.push("");
    yield lines.join("\n");
  }
}

/**
 * An InvalidInputError at `line N` or `line N.field`.
 * @type {(line: number, field: string, why: string) => InvalidInputError}
 */
const bad = (line, field, why) => invalid(field ? `line ${line}.${field}` : `line ${line}`, why);

/**
 * What the engine's check of a field means for a line of an import.
 * @type {{ [field: string]: string | undefined }}
 */
const FOLLOW = {
  revision: "does not follow the store's head",
  version: "this stream version does not follow the stream's last one",
  id: "this event id is already in the store or earlier in the log",
  batchId: "this batch id is already in the store or earlier in the log (a batch cut in two, or repeated)",
  recordedAt: "recordedAt differs within its batch",
};

/**
 * @param {any} options as given
 * @returns {((progress: { loaded: number, total?: number }) => void) | undefined}
 */
function importOptions(options) {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw invalid("options", "expected { onProgress? }");
  for (const k of Object.keys(options)) {
    if (k !== "onProgress") throw invalid(`options.${k}`, "unknown option; expected onProgress");
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw invalid("options.onProgress", "expected a function ({ loaded, total }) => void");
  }
  return options.onProgress;
}

/**
 * Reads and checks an exported log. Returns its runs of whole batches,
 * `{ events, text }` (frozen recorded events and their JSON), and `check`:
 * `validate(start, keep)` has the engine check the runs against a store
 * whose head is `start` (then truncates back, unless `keep`; returns the
 * subscriptions each run wakes), `moved(start)` is the error when the
 * store's head moved, `done()` reports the end.
 * @param {ImportSource} source
 * @param {unknown} options
 * @param {{ engine: Engine, at: (revision: number) => RecordedEvent }} store
 */
export async function importLog(source, options, { engine, at }) {
  const onProgress = importOptions(options);
  /** @type {{ events: RecordedEvent[], text: string }[]} */
  const runs = [];
  /** @type {RecordedEvent[]} */
  let run = [];
  /**
   * The JSON text of each event of `run`: its line, when that is already canonical.
   * @type {string[]}
   */
  let runTexts = [];
  /** @type {RecordedEvent[]} */
  let batch = []; // the batch being read
  /** @type {string[]} */
  let batchTexts = [];
  let first = 0;
  let line = 0;
  /**
   * The event of the line before: a RecordedEvent, there while `batch` is
   * not empty (which the type checker cannot follow).
   * @type {any}
   */
  let prev;
  const endBatch = () => {
    if (run.length > 0 && run.length + batch.length > RUN_EVENTS) endRun();
    for (let i = 0; i < batch.length; i++) {
      run.push(batch[i]);
      runTexts.push(batchTexts[i]);
    }
    batch = [];
    batchTexts = [];
  };
  const endRun = () => {
    runs.push({ events: run, text: `[${runTexts.join(",")}]` });
    run = [];
    runTexts = [];
  };
  /** What decoding a line finds of its shape. */
  const shape = { asIs: true };
  for await (const text of linesOf(source, () => line + 1)) {
    line++;
    if (text === "") throw bad(line, "", "is empty; every line holds one recorded event");
    let e;
    try {
      e = JSON.parse(text);
    } catch (err) {
      throw bad(line, "", `is not JSON (${/** @type {SyntaxError} */ (err).message})`);
    }
    const fault = decodeRecorded(e, shape);
    if (fault !== null) throw bad(line, fault.field, fault.why);
    if (line === 1) first = e.revision;
    else if (e.revision !== first + line - 1) throw bad(line, "revision", `expected ${first + line - 1}: revisions go up by one from line to line`);
    // The line is the event's text as stored unless it had nulls or another key order.
    const same = shape.asIs;
    const event = same ? e : canonical(e);
    if (batch.length > 0 && prev.batchId === event.batchId) {
      if (event.correlationId !== prev.correlationId) throw bad(line, "correlationId", "differs within its batch");
      if (event.recordedAt !== prev.recordedAt) throw bad(line, "recordedAt", "differs within its batch");
    } else {
      if (prev !== undefined && event.recordedAt < prev.recordedAt) {
        throw bad(line, "recordedAt", "goes back in time: recordedAt never decreases with revision");
      }
      endBatch();
    }
    prev = event;
    batch.push(event);
    batchTexts.push(same ? text : stringify(event));
    if (line % PROGRESS_LINES === 0) onProgress?.({ loaded: line });
  }
  endBatch();
  if (run.length > 0) endRun();
  const total = line;
  const check = {
    /**
     * @param {number} start
     * @param {boolean} [keep]
     * @returns {number[][]}
     */
    validate(start, keep = false) {
      if (first !== start + 1) {
        throw bad(1, "revision", `the store's head is ${start}: this log starts at ${first} and can be imported only where the head is ${first - 1}`);
      }
      const last = start > 0 ? at(start) : undefined;
      if (last !== undefined && runs[0].events[0].recordedAt < last.recordedAt) {
        throw bad(1, "recordedAt", "goes back in time: it is before the store's last event's");
      }
      /** @type {number[][]} */
      const woken = [];
      let ok = false;
      try {
        // Staged: a persistent store applies the parsed runs again once stored.
        for (const r of runs) woken.push(stage(engine, r.text));
        ok = true;
      } catch (/** @type {any} a StorageError "corrupt" naming the revision and field, or any other fault */ e) {
        if (!Number.isSafeInteger(e.revision)) throw e;
        const field = e.field ?? "";
        const line = e.revision - first + 1;
        const event = runs.flatMap((r) => r.events)[line - 1];
        const form = field === "id" || field === "batchId" ? uuidFault(event, field) : null;
        throw bad(line, field, form?.why ?? FOLLOW[field] ?? e.message);
      } finally {
        if (!ok || !keep) engine.truncate(start);
        if (!ok || keep) engine.discardStaged();
      }
      return woken;
    },
    /** @param {number} start */
    moved: (start) =>
      invalid("line 1.revision", `the store's head moved past ${start} while importing (another tab wrote); nothing was imported.`),
    done: () => onProgress?.({ loaded: total, total }),
  };
  return { runs, check };
}

/**
 * The lines of `source`: a string, a Uint8Array, an iterable or async
 * iterable of either, or a ReadableStream of either. Bytes are UTF-8.
 * `lineNo()` names the line being read, for a decoding error.
 * @param {ImportSource} source
 * @param {() => number} lineNo
 */
async function* linesOf(source, lineNo) {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  /** @type {(bytes: Uint8Array, stream: boolean) => string} */
  const decode = (bytes, stream) => {
    try {
      return decoder.decode(bytes, { stream });
    } catch {
      throw bad(lineNo(), "", "is not valid UTF-8");
    }
  };
  let rest = "";
  for await (const piece of piecesOf(source)) {
    let text;
    if (typeof piece === "string") text = piece;
    else if (piece instanceof Uint8Array) text = decode(piece, true);
    else throw invalid("source", "expected its pieces to be strings or Uint8Arrays");
    let from = 0;
    let to;
    text = rest + text;
    while ((to = text.indexOf("\n", from)) !== -1) {
      yield text.charCodeAt(to - 1) === 13 && to > from ? text.slice(from, to - 1) : text.slice(from, to);
      from = to + 1;
    }
    rest = text.slice(from);
  }
  rest += decode(new Uint8Array(0), false);
  if (rest !== "") yield rest;
}

/** @param {any} source as given */
async function* piecesOf(source) {
  if (typeof source === "string" || source instanceof Uint8Array) {
    yield source;
  } else if (source !== null && typeof source === "object" && typeof source.getReader === "function") {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  } else if (source != null && (typeof source[Symbol.asyncIterator] === "function" || typeof source[Symbol.iterator] === "function")) {
    yield* source;
  } else {
    throw invalid("source", "expected a string, an iterable or async iterable of strings or Uint8Arrays, or a ReadableStream");
  }
}

const encoder = new TextEncoder();

/**
 * Restores stored text into the engine and keeps its parsed batches there
 * (Engine.stageBytes); a StorageError "corrupt" naming the revision and
 * field if it does not follow.
 * @param {Engine} engine
 * @param {string} text
 * @returns {number[]} the subscriptions it concerns
 */
function stage(engine, text) {
  try {
    return Array.from(engine.stageBytes(encoder.encode(text)));
  } catch (e) {
    throw fromWire(e);
  }
}
