// index.d.ts held to the JavaScript it describes, by the compiler
// (scripts/typecheck; types only, nothing here runs):
//   - index.js exports exactly the values index.d.ts declares, and slim.js
//     the same ones;
//   - each is implemented with a type assignable to its declaration: a
//     method declared but missing, a parameter the JavaScript needs but the
//     declaration does not pass, a return value of another shape, an error
//     class constructed differently all fail here.
// The JavaScript's public methods name index.d.ts's types in JSDoc, so
// their bodies are checked against those types too (checkJs).

import type * as index from "#index.js";
import type * as slim from "#slim.js";
import type * as declared from "../../pkg-template/index.js";

/** `true` when `T` is empty; otherwise the names left over, which the error shows. */
type None<T> = [T] extends [never] ? true : { names: T };
/** Compiles only when `I`, the implementation, is assignable to `D`, its declaration. */
type Implements<D, I extends D> = I;
/** A class's static side, without its constructor. */
type Statics<C> = { [K in keyof C as K extends "prototype" ? never : K]: C[K] };

type Exported = typeof index;
type Declared = typeof declared;

export const declaredButNotExported: None<Exclude<keyof Declared, keyof Exported>> = true;
export const exportedButNotDeclared: None<Exclude<keyof Exported, keyof Declared>> = true;
export const slimDiffers: None<Exclude<keyof typeof slim, keyof Exported> | Exclude<keyof Exported, keyof typeof slim>> = true;

// Every exported value but the store: the error classes (constructors,
// statics and instances) and the functions.
export type Values = Implements<Omit<Declared, "EventStore">, Omit<Exported, "EventStore">>;

// The store, whose constructor is private: its static side and its
// instances, and through their methods what they return (commits, events,
// subscriptions, projections).
export type StoreStatics = Implements<Statics<typeof declared.EventStore>, Statics<typeof index.EventStore>>;
export type Store = Implements<declared.EventStore, index.EventStore>;
// And a typed store: the JavaScript's JSDoc names the declared generics.
type Bank = { type: "account_opened"; data: { owner: string } } | { type: "account_closed" };
export type TypedStore = Implements<declared.EventStore<Bank>, index.EventStore<Bank>>;
