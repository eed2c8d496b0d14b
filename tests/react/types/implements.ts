// react.js held to react.d.ts: it exports exactly the declared hooks, each
// with a type assignable to its declaration (types only, nothing runs).
import type * as impl from "#react.js";
import type * as declared from "hindcast/react";

/** `true` when `T` is empty; otherwise the names left over, which the error shows. */
type None<T> = [T] extends [never] ? true : { names: T };
/** Compiles only when `I`, the implementation, is assignable to `D`, its declaration. */
type Implements<D, I extends D> = I;

export const declaredButNotExported: None<Exclude<keyof typeof declared, keyof typeof impl>> = true;
export const exportedButNotDeclared: None<Exclude<keyof typeof impl, keyof typeof declared>> = true;

export type Checked = [
  Implements<typeof declared.useProjection, typeof impl.useProjection>,
  Implements<typeof declared.useProjectionView, typeof impl.useProjectionView>,
  Implements<typeof declared.useRead, typeof impl.useRead>,
  Implements<typeof declared.useRevision, typeof impl.useRevision>,
  Implements<typeof declared.useSyncStatus, typeof impl.useSyncStatus>,
  Implements<typeof declared.useRejected, typeof impl.useRejected>,
  Implements<typeof declared.useStore, typeof impl.useStore>,
];
