// Type declarations for hindcast. See README.md for a tour and SPEC.md for
// the contract these shapes follow.

/** Any JSON value; event data round-trips exactly. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A UUID in the 36-character hyphenated form. */
export type Uuid = string;

/**
 * Picks events. Every given field must match (AND); `stream`, `subject` and
 * `type` match one of their values, `tags` all of them. `{}` matches every
 * event.
 */
export interface SelectorObject {
  stream?: string | string[];
  subject?: string | string[];
  type?: string | string[];
  /** The DCB spelling of `type` (an empty list places no condition). Not with `type`. */
  types?: string[];
  tags?: string[];
}

/** A selector, or an array of them matching any (OR; `[]` matches every event); a DCB query is such an array. */
export type Selector = SelectorObject | SelectorObject[];

/** An event to write. */
export interface EventInput {
  stream: string;
  type: string;
  /** Reads back as `null` when omitted. */
  data?: Json;
  subject?: string;
  /** Distinct, non-empty. */
  tags?: string[];
  /** The event's id; one is made (UUID v4) when omitted. */
  id?: Uuid;
  /** Effective time, RFC 3339; reads back exactly as given. */
  time?: string;
  metadata?: { [key: string]: Json };
  /**
   * The version of `data`'s shape (SPEC §9): by default the type's current
   * version in `schemas` (none for 1); an older one may be given (it is
   * upcast when read), never a newer one.
   */
  schemaVersion?: number;
}

/**
 * A committed event, as reads and subscriptions return it: `D` is the type
 * of its data, `T` of its type. A typed store's reads return `Recorded<E>`.
 */
export interface RecordedEvent<D = Json, T extends string = string> {
  /** Global, 1-based, gapless, in commit order. */
  revision: number;
  stream: string;
  /** 0-based within its stream. */
  version: number;
  id: Uuid;
  type: T;
  data: D;
  subject?: string;
  tags?: string[];
  time?: string;
  metadata?: { [key: string]: Json };
  correlationId?: string;
  /** The version of `data`'s shape (SPEC §9), present only above 1; reads give the current one for a type in `schemas`. */
  schemaVersion?: number;
  batchId: Uuid;
  /** Milliseconds since the epoch; non-decreasing with revision. */
  recordedAt: number;
  /** On a syncing store: a batch of this device the server has not confirmed (provisional numbers). */
  pending?: true;
}

/**
 * One kind of event, for typing a store: its `type` and the shape of its
 * `data` (a `data` left optional reads back as `null` when omitted). A store
 * is typed by a union of them, keyed by `type`; writes, reads, subscriptions
 * and projections are then checked against it:
 *
 *     type BankEvent =
 *       | { type: "account_opened"; data: { owner: string } }
 *       | { type: "money_deposited"; data: { amount: number } };
 *     const store = await EventStore.memory<BankEvent>();
 *
 * Declare `data` with type aliases or literals (interfaces are not JSON to
 * TypeScript). The types are not checked at run time.
 */
export interface EventShape {
  type: string;
  data?: unknown;
}

/** The default event shape: any type, any JSON data. */
export interface AnyEvent {
  type: string;
  data?: Json;
}

/** The shapes in the union `E` whose type is `T`. */
export type EventOfType<E extends EventShape, T extends string> = E extends EventShape
  ? T extends E["type"]
    ? E
    : never
  : never;

/** The recorded form of each shape in the union `E`, discriminated by `type`. */
export type Recorded<E extends EventShape = AnyEvent> = E extends EventShape
  ? RecordedEvent<E extends { data: infer D } ? D : E extends { data?: infer D } ? Exclude<D, undefined> | null : null, E["type"]>
  : never;

/** An event to write, of one of the shapes in the union `E`. */
export type EventInputOf<E extends EventShape = AnyEvent> = E extends EventShape
  ? Omit<EventInput, "type" | "data"> & { type: E["type"] } & Pick<E, Extract<keyof E, "data">>
  : never;

/** A stream expectation (Hindsight's ExpectedVersion). */
export type StreamExpectation =
  | "any"
  | "no_stream"
  | "stream_exists"
  /** The stream's last event has exactly this global revision (0: no events). */
  | { revision: number }
  /** The stream's last event has exactly this version. */
  | { version: number };

/** A batch constraint (EvidentSource), checked atomically with the write. */
export type Constraint =
  | { minRevision: number; selector?: Selector }
  | { maxRevision: number; selector?: Selector }
  | { revisionRange: [start: number, end: number]; selector?: Selector }
  /** DCB append condition: no event matching the query after `after` (default 0). */
  | { failIfEventsMatch: Selector; after?: number };

export interface TransactRequest<E extends EventShape = AnyEvent> {
  /** Batch id: a batch whose id was already committed is replayed, not written again. */
  id?: Uuid;
  events: EventInputOf<E>[];
  expect?: { [stream: string]: StreamExpectation };
  constraints?: Constraint[];
  correlationId?: string;
}

/**
 * The upcast steps of a type whose data shapes are `V` (version 1 first):
 * `upcast[n]` turns version n's data into version n + 1's.
 */
export type UpcastSteps<V extends readonly unknown[], N extends unknown[] = [unknown]> = V extends readonly [
  infer A,
  infer B,
  ...infer R,
]
  ? { [K in N["length"]]: (data: A, event: RecordedEvent) => B } & UpcastSteps<[B, ...R], [...N, unknown]>
  : unknown;

/**
 * One event type's schema, typed by its data shapes `V`, version 1 first and
 * the current one last, so that each step must return the next shape:
 *
 *     const deposited: Schema<[{ amount: number }, { amount: number; currency: string }]> = {
 *       version: 2,
 *       upcast: { 1: (data) => ({ amount: data.amount, currency: "EUR" }) },
 *     };
 */
export type Schema<V extends readonly [unknown, ...unknown[]]> = V extends readonly [unknown]
  ? { version: 1; upcast?: {} }
  : { version: V["length"]; upcast: UpcastSteps<V> };

/** A schema as `open` and `memory` take it (any `Schema<V>` is one). */
export interface SchemaDeclaration {
  /** The version this code writes and reads. */
  version: number;
  /** `upcast[n]` turns version n's data into version n + 1's; every step from 1 to version − 1. */
  upcast?: { [from: number]: (data: any, event: RecordedEvent) => unknown };
}

/** Event schemas by type (SPEC §9), for a store of the event shapes `E`. */
export type Schemas<E extends EventShape = AnyEvent> = { [T in E["type"]]?: SchemaDeclaration };

/** A type seen written by newer code than this store's `schemas` know. */
export interface NewerSchema {
  type: string;
  /** The highest version seen. */
  schemaVersion: number;
  /** This code's version of the type. */
  known: number;
  /** The revision of the first such event seen. */
  firstRevision: number;
}

/** Options of `open` and `memory` for event schemas (SPEC §9). */
export interface SchemaOptions<E extends EventShape = AnyEvent> {
  /** Per type, the current version and the upcast steps to it. */
  schemas?: Schemas<E>;
  /**
   * An event written by newer code: "pause" (default) stops a subscription
   * or projection just before it; "deliver" delivers it as recorded.
   */
  newerSchemas?: "pause" | "deliver";
}

export interface OpenOptions<E extends EventShape = AnyEvent> extends SchemaOptions<E> {
  /** Called as the log loads; `loaded` never decreases, the last call has `loaded === total`. */
  onProgress?: (progress: { loaded: number; total: number }) => void;
  /**
   * Sync with a Hindcast server: the pending batches, the sync state and the
   * rejections are kept in IndexedDB and shared by the device's tabs.
   */
  sync?: SyncOptions;
}

export interface MemoryOptions<E extends EventShape = AnyEvent> extends SchemaOptions<E> {
  /** Sync with a Hindcast server (pending batches live in memory only). */
  sync?: SyncOptions;
}

/** A store's `schemas` (SPEC §9). */
export interface StoreSchemas {
  /** Each type seen written by newer code than this store's declaration, once. */
  newer(): NewerSchema[];
  /** Calls `listener` for each such type, those already seen included; returns a function that stops that. */
  onNewer(listener: (entry: NewerSchema) => void): () => void;
}

export interface StreamPosition {
  version: number;
  revision: number;
}

export interface Commit {
  batchId: Uuid;
  firstRevision: number;
  /** The batch's last revision. */
  revision: number;
  /** For each stream written, its last event in this batch. */
  streams: { [stream: string]: StreamPosition };
  /** True when the batch id had already been committed: this is that commit. */
  replayed: boolean;
  /** On a syncing store: whether the batch is still pending (undefined without sync). */
  pending?: boolean;
  /**
   * On a syncing store: resolves with the batch's place in the shared log
   * once it joins the confirmed prefix, or rejects with
   * ConstraintViolationError / InvalidInputError (`.batchId`) if the server
   * refuses it (undefined without sync).
   */
  confirmed?: Promise<ConfirmedCommit>;
}

/** A batch's place in the shared log. */
export interface ConfirmedCommit {
  firstRevision: number;
  revision: number;
  streams: { [stream: string]: StreamPosition };
}

/** How a store syncs with a Hindcast server (SPEC §8.4). */
export interface SyncOptions {
  /** The log's URL, e.g. `https://host/v1/logs/bank`. */
  url: string;
  /** A bearer token (HS256 JWT), or a function giving one; asked again after a 401. */
  token?: string | (() => string | Promise<string>);
}

export interface SyncStatus {
  state: "online" | "offline" | "unauthorized" | "forbidden";
  confirmedRevision: number;
  pendingBatches: number;
  pendingEvents: number;
  /** Null while online and before the first attempt. */
  lastError: { message: string; status?: number; at: number } | null;
}

/** A batch the server refused, kept until dismissed. */
export interface SyncRejection {
  batchId: Uuid;
  /** The events as pushed (with ids, without revision or version). */
  events: unknown[];
  violations: Violation[];
  /** When this device learned the outcome (ms since the epoch). */
  at: number;
}

/** A syncing store's `sync`. */
export interface Sync {
  readonly status: SyncStatus;
  /** Calls `listener(status)` after every change; returns a function that stops that. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
  rejected(): SyncRejection[];
  /** Called for each rejection not dismissed, then for each new one; returns a function that stops that. */
  onRejected(listener: (rejection: SyncRejection) => void): () => void;
  /**
   * The pending batches not yet decided that the server is certain to refuse:
   * one of their "nothing changed" conditions has in its scope an event of the
   * confirmed prefix that they did not see. The server still decides; this
   * changes only when `status.confirmedRevision` does.
   */
  failing(): Uuid[];
  /** Forgets a rejection (in every tab); resolves once that is stored. */
  dismiss(batchId: Uuid): Promise<void>;
  /**
   * The batches pulled from the server since the store opened that this
   * device could not take in as recorded (data nested too deep, metadata
   * not an object, data missing): their events are in the log with
   * `data: null` and no `metadata`, and sync went on.
   */
  quarantined(): { batchId: Uuid; revision: number; field: string; why: string; at: number }[];
  /** Resolves once the confirmed prefix reaches `revision`. */
  waitFor(revision: number): Promise<void>;
  /** Resolves when every batch pending at the call has its outcome. */
  flush(): Promise<void>;
}

export interface ReadOptions {
  /** Inclusive lower bound (default 1). */
  from?: number;
  /** Inclusive upper bound (default the head). */
  to?: number;
  /** At most this many, counted from the end the read starts at. */
  limit?: number;
  /** Newest first. */
  backwards?: boolean;
}

export interface StreamReadOptions {
  /** Inclusive lower bound on the version (default 0). */
  fromVersion?: number;
  /** Inclusive upper bound on the version (default the stream's last). */
  toVersion?: number;
  limit?: number;
  backwards?: boolean;
}

/** What a handler may return: nothing, "stop", or a promise of either. */
export type HandlerResult = void | "stop" | Promise<void | "stop">;

/** Matchers by event type (Hindsight's `match`): only the listed types are delivered. */
export type Matchers<E extends EventShape = AnyEvent> = {
  [T in E["type"]]?: (event: Recorded<EventOfType<E, T>>) => HandlerResult;
};

export interface SubscribeOptions {
  /** Narrows the events delivered. */
  selector?: Selector;
  /** Deliver events with revision > after: 0 (default) from the beginning, "end" only new ones. */
  after?: number | "end";
  /** On a syncing store: deliver this device's pending events too (default: confirmed only). */
  pending?: boolean;
  /**
   * With `pending: true`: when the events after `revision` no longer stand (a
   * rebase moved or removed them), the position goes back to `revision` and
   * this is called (and awaited) before delivery goes on in the new order.
   */
  onRewind?: (revision: number) => void | Promise<void>;
}

/** A running subscription, as `subscribe` returns it (the package exports no such class). */
export interface Subscription {
  /** The last revision examined: delivered, or passed over as not matching. */
  readonly position: number;
  /** Resolves once position ≥ revision; rejects if the subscription stops first. */
  waitFor(revision: number): Promise<void>;
  /** Stops the subscription: no event is delivered after this returns. */
  cancel(): void;
  /** Resolves when the subscription stops ("stop" or cancel); rejects with a HandlerError, or a SchemaError if an upcast failed. */
  readonly done: Promise<void>;
}

export interface ProjectionSpec<S, E extends EventShape = AnyEvent> {
  initial: S;
  /** Folds by event type: return the new state, or undefined to keep the (mutated) state. */
  on: { [T in E["type"]]?: (state: S, event: Recorded<EventOfType<E, T>>) => S | void };
  selector?: Selector;
  /**
   * On a syncing store: fold this device's pending events on top of the
   * confirmed state (true, the default) or confirmed events only (false).
   */
  pending?: boolean;
  /**
   * On a persistent store, keep the state (structured-cloned) and position
   * in the database under `key`, at least every `every` events folded
   * (default 10,000) and when the projection or the store closes or the
   * page hides; a later `project` with the same key starts from it. Ignored
   * when the key or a folded type's schema version changed: change the key
   * when the fold's code changes. A syncing store keeps the confirmed state.
   * Accepted and ignored on a memory store.
   */
  snapshot?: { key: string; every?: number };
}

/** A live read model kept current by a subscription, as `project` returns it (the package exports no such class). */
export interface Projection<S> {
  readonly state: S;
  /** The last revision applied or examined (on a syncing store, pending ones included). */
  readonly position: number;
  /** The last confirmed revision applied or examined; it never decreases. */
  readonly confirmedPosition: number;
  waitFor(revision: number): Promise<void>;
  /** Calls the listener after each change; returns a function that removes it. */
  onChange(listener: (state: S, position: number) => void): () => void;
  /** Stops updating: state and position no longer change, no listener is called. */
  close(): void;
  /** Resolves when closed; rejects with a HandlerError if a fold threw, a SchemaError if an upcast failed. */
  readonly done: Promise<void>;
  /**
   * Resolves once the state reflects the log as of the `project` call (or
   * the projection paused before an event written by newer code).
   */
  readonly ready: Promise<void>;
}

/** What `EventStore.import` reads: NDJSON text, whole or in pieces. */
export type ImportSource =
  | string
  | Uint8Array
  | Iterable<string | Uint8Array>
  | AsyncIterable<string | Uint8Array>
  | ReadableStream<string | Uint8Array>;

export interface RetryOptions {
  /** Calls in all, at least 1 (default 5). */
  attempts?: number;
  /** The first backoff's upper bound in ms (default 10). */
  delay?: number;
  /** The largest backoff in ms (default 1000). */
  maxDelay?: number;
}

/** An event store; `E`, a union of event shapes keyed by `type`, types its events (default: any). */
export declare class EventStore<E extends EventShape = AnyEvent> {
  private constructor();
  /**
   * A store that lives in memory; with `sync`, it syncs with a Hindcast
   * server (its pending batches then live in memory only).
   */
  static memory<E extends EventShape = AnyEvent>(options?: MemoryOptions<E>): Promise<EventStore<E>>;
  /** The event schemas (SPEC §9): the types seen written by newer code. */
  readonly schemas: StoreSchemas;
  /** A syncing store's sync; undefined without sync. */
  readonly sync: Sync | undefined;
  /** The confirmed prefix's head on a syncing store; undefined without sync. */
  readonly confirmedRevision: number | undefined;
  /**
   * A store kept in the IndexedDB database `name` (created if need be) and
   * shared safely with other tabs: loads the log, reporting progress, then
   * serves reads from memory. Rejects with StorageError: "unavailable" (no
   * IndexedDB), "corrupt" (a stored record does not load; `.revision`).
   * The open that creates the database decides whether it syncs, and with
   * which `sync.url`, for good: opening it otherwise rejects with an
   * InvalidInputError naming `options.sync` or `options.sync.url`.
   */
  static open<E extends EventShape = AnyEvent>(name: string, options?: OpenOptions<E>): Promise<EventStore<E>>;
  /** Deletes the IndexedDB database `name`; stores open on it close. */
  static delete(name: string): Promise<void>;
  /**
   * Stops accepting writes and releases the IndexedDB connection: later
   * writes reject with StorageError "closed", reads keep answering,
   * subscriptions and projections stop; `closed` resolves with "closed".
   */
  close(): Promise<void>;
  /**
   * Resolves, with the reason, when the store stops accepting writes: its
   * own `close()`, `EventStore.delete` of its database from any tab, or a
   * newer version of the package opening the database.
   */
  readonly closed: Promise<"closed" | "deleted" | "upgraded">;
  /**
   * Resolves once `revision` (the head) ≥ the given revision: after another
   * tab reports a commit at r, reads after `await waitFor(r)` include it.
   * Rejects with StorageError "closed" if the store closes first,
   * InvalidInputError (path `revision`) for a non-integer or negative r.
   */
  waitFor(revision: number): Promise<void>;
  /**
   * The log as NDJSON text chunks ending at line ends: one recorded event
   * per line, exactly as reads return it, oldest first, whole batches, from
   * revision `after` + 1 (default 0) to the head at the call. Throws
   * InvalidInputError for an `after` past the head or inside a batch.
   */
  export(options?: { after?: number }): AsyncIterable<string>;
  /**
   * Appends an exported log to `store`, whose head must be the first line's
   * revision − 1; every field is kept. All or nothing: a malformed line, a
   * gap or repeat in revisions or stream versions, a batch cut in two or a
   * duplicate id rejects with InvalidInputError (`.path` "line N" or
   * "line N.field") and changes nothing.
   */
  static import(
    store: EventStore,
    source: ImportSource,
    options?: { onProgress?: (progress: { loaded: number; total?: number }) => void },
  ): Promise<void>;
  /**
   * Calls `fn(attempt)` (from 1) and again, after an exponential backoff
   * with full jitter (`delay` × 2^(attempt − 1) ms at most, capped by
   * `maxDelay`), when it rejects with ConstraintViolationError; at most
   * `attempts` calls. Defaults: 5, 10, 1000.
   */
  retry<T>(fn: (attempt: number) => Promise<T> | T, options?: RetryOptions): Promise<T>;
  /** The head: the revision of the newest event, 0 when empty. */
  readonly revision: number;
  /**
   * Appends a batch atomically if every expectation and constraint holds.
   * Rejects with ConstraintViolationError (listing every violation),
   * InvalidInputError, or, for a persistent store, StorageError; on
   * rejection nothing was written. A persistent store resolves once the
   * batch is durable.
   */
  transact(request: TransactRequest<E>): Promise<Commit>;
  /** Events matching the selector (default: all) within the options' range. Throws InvalidInputError. */
  read(selector?: Selector, options?: ReadOptions): Recorded<E>[];
  /** One stream's events by version. */
  readStream(stream: string, options?: StreamReadOptions): Recorded<E>[];
  /** The revision of the newest event matching the selector (default: the head), 0 if none. */
  lastRevision(selector?: Selector): number;
  /** The position of a stream's last event, or null if it has none. */
  stream(stream: string): StreamPosition | null;
  /**
   * Delivers each matching committed event, once, in revision order,
   * asynchronously (never inside the caller's transact or subscribe).
   */
  subscribe(handler: ((event: Recorded<E>) => HandlerResult) | Matchers<E>, options?: SubscribeOptions): Subscription;
  /** A live read model folded from the events. */
  project<S>(spec: ProjectionSpec<S, E>): Projection<S>;
}

export type Violation =
  | { kind: "version_mismatch"; stream: string; expected: StreamExpectation; actual: StreamPosition | null }
  | { kind: "min_revision_not_met"; constraint: Constraint; expected: number; actual: number }
  | { kind: "max_revision_exceeded"; constraint: Constraint; max: number; found: number }
  | { kind: "range_not_satisfied"; constraint: Constraint; start: number; end: number; actual: number }
  | { kind: "duplicate_event_id"; id: Uuid; revision: number };

/** STOPPED: a waitFor whose subscription stopped before reaching the revision. */
export type ErrorCode = "CONSTRAINT_VIOLATION" | "INVALID_INPUT" | "STORAGE" | "HANDLER" | "SCHEMA" | "STOPPED";

/** The base of every error Hindcast reports. */
export declare class HindcastError extends Error {
  constructor(message: string, code: ErrorCode, options?: ErrorOptions);
  readonly code: ErrorCode;
}

/** An expectation or constraint failed; nothing was written. */
export declare class ConstraintViolationError extends HindcastError {
  constructor(message: string, violations: Violation[]);
  readonly code: "CONSTRAINT_VIOLATION";
  readonly violations: Violation[];
}

/** The input is malformed; nothing was changed. */
export declare class InvalidInputError extends HindcastError {
  constructor(message: string, path: string);
  readonly code: "INVALID_INPUT";
  /** The bad field, e.g. `events[2].type`. */
  readonly path: string;
}

export type StorageErrorReason = "quota" | "aborted" | "closed" | "unavailable" | "corrupt";

/** Storage failed; no part of the batch is visible. */
export declare class StorageError extends HindcastError {
  constructor(message: string, reason: StorageErrorReason, options?: ErrorOptions);
  readonly code: "STORAGE";
  readonly reason: StorageErrorReason;
  /** For "corrupt": the revision of the record that did not load. */
  readonly revision?: number;
}

/** A subscription handler threw or rejected. */
export declare class HandlerError extends HindcastError {
  constructor(message: string, cause: unknown, event: RecordedEvent);
  readonly code: "HANDLER";
  readonly cause: unknown;
  readonly event: RecordedEvent;
}

/** An upcast step threw or returned a value that is not JSON (SPEC §9); the log is unchanged. */
export declare class SchemaError extends HindcastError {
  constructor(message: string, cause: unknown, event: RecordedEvent);
  readonly code: "SCHEMA";
  readonly cause: unknown;
  /** The event as recorded. */
  readonly event: RecordedEvent;
}

/** Bytes of WebAssembly memory in use (a diagnostic; grows, never shrinks). */
export declare function wasmMemoryBytes(): number;

/** A global class's instance type where the environment's types declare it (DOM, @types/node), else never. */
type GlobalInstance<K extends string> = typeof globalThis extends { [P in K]: { prototype: infer T } } ? T : never;
/** `WebAssembly.Module` where declared (the DOM's types; @types/node lacks it), else never. */
type WasmModule = typeof globalThis extends { WebAssembly: { Module: { prototype: infer M } } } ? M : never;

/** Where the WebAssembly module can come from: a URL, bytes, a Response (or a promise of one), a compiled module. */
export type WasmSource =
  | string
  | GlobalInstance<"URL">
  | ArrayBuffer
  | ArrayBufferView
  | GlobalInstance<"Response">
  | PromiseLike<GlobalInstance<"Response">>
  | WasmModule;

/**
 * Loads the WebAssembly module from `source` instead of the entry point's
 * default (`hindcast` has it inlined; `hindcast/slim` fetches it from next to
 * itself). Call it before the first store is made; once the module is loaded
 * it does nothing. A failed load rejects and is retried by the next call.
 */
export declare function initWasm(source: WasmSource): Promise<void>;
