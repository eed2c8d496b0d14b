// Type declarations for hindcast/react: React hooks over a store, all on
// useSyncExternalStore. See README.md ("React").

import type { AnyEvent, EventShape, EventStore, ProjectionSpec, ReadOptions, Recorded, Selector, SyncRejection, SyncStatus } from "./index.js";

/** A projection's state and the revision it was folded up to, as one snapshot. */
export interface ProjectionView<S> {
  readonly state: S;
  /** The last revision applied or examined when the state last changed (0 before the first). */
  readonly position: number;
}

/**
 * The state of `store.project(definition)`, kept current: the component
 * re-renders once per change. One projection per store and definition
 * object is open while components show it, closed when the last unmounts:
 * keep the definition's identity stable, a module-level constant (typed
 * `ProjectionSpec<State, YourEvent>`) or `useMemo` when it depends on props
 * (a new object every render would make a new projection every render:
 * after 10 such renders in a row the hook keeps the last and logs an error).
 * Folds must not mutate `initial` (return new state). The server renders
 * `initial`.
 */
export declare function useProjection<E extends EventShape, S>(store: EventStore<E>, definition: ProjectionSpec<S, E>): S;

/**
 * Like useProjection, with the position the state was folded up to: what a
 * decision records (`constraints: [{ maxRevision: position, selector }]`).
 * The same object until the projection changes.
 */
export declare function useProjectionView<E extends EventShape, S>(store: EventStore<E>, definition: ProjectionSpec<S, E>): ProjectionView<S>;

/**
 * `store.read(selector, options)`, kept current: read again, and the
 * component re-rendered, only when a commit touches the selector (a syncing
 * store's confirmations and rebases too). The same (frozen) array until
 * then. Selector and options may be inline literals. The server renders `[]`.
 */
export declare function useRead<E extends EventShape>(store: EventStore<E>, selector?: Selector, options?: ReadOptions): readonly Recorded<E>[];

/** `store.revision`, kept current. The server renders 0. */
export declare function useRevision<E extends EventShape>(store: EventStore<E>): number;

/**
 * A syncing store's `sync.status`, kept current; undefined for a store that
 * does not sync. The server renders a syncing store offline.
 */
export declare function useSyncStatus<E extends EventShape>(store: EventStore<E>): SyncStatus | undefined;

/** What useRejected returns. */
export interface Rejected {
  /** `store.sync.rejected()`: the batches the server refused, until dismissed (none without sync). */
  readonly rejected: readonly SyncRejection[];
  /** Forgets a rejection in every tab (`sync.dismiss`); resolves once that is stored. */
  dismiss(batchId: string): Promise<void>;
}

/**
 * A syncing store's rejected batches, kept current (a dismissal made in
 * another tab too, once this tab takes it in), and `dismiss`. The server
 * renders none.
 */
export declare function useRejected<E extends EventShape>(store: EventStore<E>): Rejected;

/**
 * The store `open()` resolves to, opened once per `key` for every component
 * that uses it and closed when the last of them unmounts. The component
 * suspends while it opens (wrap it in `<Suspense>`); a failed open is thrown
 * to the nearest error boundary (resetting it opens again). On the server it
 * throws, so that inside `<Suspense>` the fallback is sent and the browser
 * renders the rest.
 *
 *     const store = useStore("bank", () => EventStore.open<BankEvent>("bank"));
 */
export declare function useStore<E extends EventShape = AnyEvent>(key: string, open: () => Promise<EventStore<E>>): EventStore<E>;
