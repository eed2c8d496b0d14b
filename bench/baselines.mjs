// Baselines that hindcast's write path is measured against.
//
// 1. Emmett's in-memory event store (@event-driven-io/emmett), used exactly as
//    its users call it: `appendToStream(streamName, events, { expectedStreamVersion })`.
//    Emmett's stream versions are bigint *counts* of events (0n for a stream
//    that does not exist, n after n events), and a new stream is expected
//    with `STREAM_DOES_NOT_EXIST`. The check is `current === expected`, so the
//    expected version must be a bigint.
//
// 2. A plain-JS store: a Map of stream → array of recorded events plus one
//    global array, taking the same input shape as hindcast's `transact` and
//    doing the work a minimal event store must do: validate stream and type,
//    check every exact-version expectation against one snapshot (collecting
//    all violations, nothing written on failure), assign global revisions and
//    stream versions, a `crypto.randomUUID()` per event and per batch, and a
//    recordedAt. It keeps the caller's `data` object by reference (no clone,
//    no JSON check): it is the fastest a JS store can reasonably be, so it is
//    the ceiling, not a competitor.
//
// All three stores are exposed through one adapter shape used by run.mjs:
//   makeEvent(stream, type, data) → an event in the store's own input shape
//   append(stream, events, lastVersion) → Promise
// where `lastVersion` is the 0-based version of the stream's last event, or
// -1 for a stream with no events. Adapters return the store's own promise
// (they are not `async` themselves), so the only await per call is the
// store's, and they add no per-event work beyond building the event object.

import { randomUUID } from "node:crypto";
import { getInMemoryEventStore, STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett";

// ---------------------------------------------------------------- Emmett ----

export function emmettAdapter() {
  const store = getInMemoryEventStore();
  return {
    name: "emmett",
    store,
    // Emmett events carry no stream name: { type, data }.
    makeEvent(stream, type, data) {
      return { type, data };
    },
    append(stream, events, lastVersion) {
      return store.appendToStream(stream, events, {
        expectedStreamVersion:
          lastVersion < 0 ? STREAM_DOES_NOT_EXIST : BigInt(lastVersion + 1),
      });
    },
    /** Number of events in `stream` (for the sanity check after a run). */
    async streamLength(stream) {
      const { currentStreamVersion } = await store.readStream(stream);
      return Number(currentStreamVersion);
    },
  };
}

// -------------------------------------------------------------- plain JS ----

export class VersionConflictError extends Error {
  constructor(violations) {
    super(`${violations.length} expectation(s) failed`);
    this.name = "VersionConflictError";
    this.violations = violations;
  }
}

/**
 * The smallest honest event store in JavaScript. Accepts hindcast's
 * `transact` input for `events` and `expect` (`"any"`, `"no_stream"`,
 * `"stream_exists"`, `{ version: n }`, `{ revision: r }`); constraints are not
 * implemented and are rejected rather than ignored.
 */
export class PlainStore {
  constructor() {
    /** @type {Map<string, object[]>} */
    this.streams = new Map();
    /** @type {object[]} */
    this.log = [];
  }

  get revision() {
    return this.log.length;
  }

  stream(name) {
    const s = this.streams.get(name);
    if (s === undefined) return null;
    const last = s[s.length - 1];
    return { version: last.version, revision: last.revision };
  }

  async transact({ id, events, expect, constraints, correlationId }) {
    if (constraints !== undefined) {
      throw new TypeError("PlainStore does not implement constraints");
    }
    if (!Array.isArray(events) || events.length === 0) {
      throw new TypeError("events must be a non-empty array");
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (typeof e.stream !== "string" || e.stream === "") {
        throw new TypeError(`events[${i}].stream must be a non-empty string`);
      }
      if (typeof e.type !== "string" || e.type === "") {
        throw new TypeError(`events[${i}].type must be a non-empty string`);
      }
    }

    // Check every expectation against the same snapshot; collect all failures.
    if (expect !== undefined) {
      let violations = null;
      for (const stream in expect) {
        const expected = expect[stream];
        const s = this.streams.get(stream);
        const last = s === undefined ? undefined : s[s.length - 1];
        let ok;
        if (expected === "any") ok = true;
        else if (expected === "no_stream") ok = last === undefined;
        else if (expected === "stream_exists") ok = last !== undefined;
        else if (typeof expected.version === "number") {
          ok = last !== undefined && last.version === expected.version;
        } else if (typeof expected.revision === "number") {
          ok = expected.revision === 0 ? last === undefined : last !== undefined && last.revision === expected.revision;
        } else {
          throw new TypeError(`expect[${JSON.stringify(stream)}] has an unknown shape`);
        }
        if (!ok) {
          (violations ??= []).push({
            kind: "version_mismatch",
            stream,
            expected,
            actual: last === undefined ? null : { version: last.version, revision: last.revision },
          });
        }
      }
      if (violations !== null) throw new VersionConflictError(violations);
    }

    // Commit.
    const batchId = id ?? randomUUID();
    const recordedAt = Date.now();
    const firstRevision = this.log.length + 1;
    const streamsOut = {};
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      let s = this.streams.get(e.stream);
      if (s === undefined) {
        s = [];
        this.streams.set(e.stream, s);
      }
      const rec = {
        revision: this.log.length + 1,
        stream: e.stream,
        version: s.length,
        id: e.id ?? randomUUID(),
        type: e.type,
        data: e.data === undefined ? null : e.data,
        batchId,
        recordedAt,
      };
      if (e.subject !== undefined) rec.subject = e.subject;
      if (e.tags !== undefined) rec.tags = e.tags;
      if (correlationId !== undefined) rec.correlationId = correlationId;
      s.push(rec);
      this.log.push(rec);
      streamsOut[e.stream] = { version: rec.version, revision: rec.revision };
    }
    return {
      batchId,
      firstRevision,
      revision: this.log.length,
      streams: streamsOut,
      replayed: false,
    };
  }
}

export function plainAdapter() {
  return transactAdapter("plain JS", new PlainStore());
}

/** The adapter over a store with hindcast's `transact` and `stream`. */
function transactAdapter(name, store) {
  return {
    name,
    store,
    makeEvent(stream, type, data) {
      return { stream, type, data };
    },
    append(stream, events, lastVersion) {
      return store.transact({
        events,
        expect: { [stream]: lastVersion < 0 ? "no_stream" : { version: lastVersion } },
      });
    },
    async streamLength(stream) {
      const s = store.stream(stream);
      return s === null ? 0 : s.version + 1;
    },
  };
}

// -------------------------------------------------------------- hindcast ----

/** Same adapter shape over a hindcast store (`EventStore` passed in, since
 *  the package may not be installed while the baselines are checked; `name`
 *  tells two builds apart when both are measured). */
export async function hindcastAdapter(EventStore, name = "hindcast") {
  return transactAdapter(name, await EventStore.memory());
}
