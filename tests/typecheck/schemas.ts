// Event schemas' types (SPEC §9), as a user writes them: a schema typed by
// its data shapes must have every step, each returning the next shape.
// Lines marked @ts-expect-error must fail to compile (scripts/typecheck).

import type { EventStore, MemoryOptions, Recorded, Schema } from "../../pkg-template/index.js";

type DepositV1 = { amount: number };
type DepositV2 = { amount: number; currency: string };
type DepositV3 = { amount: number; currency: string; channel: string };

type BankEvent = { type: "account_opened"; data: { owner: string } } | { type: "money_deposited"; data: DepositV3 };

// Each step gets its version's data and returns the next version's.
export const deposited: Schema<[DepositV1, DepositV2, DepositV3]> = {
  version: 3,
  upcast: {
    1: (data) => ({ amount: data.amount, currency: "EUR" }),
    2: (data, event) => ({ ...data, channel: event.stream }),
  },
};

export const wrongReturn: Schema<[DepositV1, DepositV2]> = {
  version: 2,
  upcast: {
    // @ts-expect-error: step 1 must return version 2's shape (currency is missing)
    1: (data) => ({ amount: data.amount }),
  },
};

export const missingStep: Schema<[DepositV1, DepositV2, DepositV3]> = {
  version: 3,
  // @ts-expect-error: a schema of three shapes needs the step from 2
  upcast: { 1: (data) => ({ amount: data.amount, currency: "EUR" }) },
};

export const wrongVersion: Schema<[DepositV1, DepositV2]> = {
  // @ts-expect-error: the version is the number of shapes
  version: 3,
  upcast: { 1: (data) => ({ ...data, currency: "EUR" }) },
};

export const extraStep: Schema<[DepositV1, DepositV2]> = {
  version: 2,
  upcast: {
    1: (data) => ({ ...data, currency: "EUR" }),
    // @ts-expect-error: no step from the current version
    2: (data: DepositV2) => data,
  },
};

export const stepReadsTheOldShape: Schema<[DepositV1, DepositV2]> = {
  version: 2,
  upcast: {
    // @ts-expect-error: version 1 has no currency
    1: (data) => ({ amount: data.amount, currency: data.currency }),
  },
};

// A store's options take the declarations by type; reads are typed by the current shapes.
export const options: MemoryOptions<BankEvent> = {
  schemas: { money_deposited: deposited, account_opened: { version: 1 } },
  newerSchemas: "pause",
};

export const badOptions: MemoryOptions<BankEvent> = {
  // @ts-expect-error: not a type of the store
  schemas: { money_withdrawn: { version: 1 } },
};

export function currentShape(store: EventStore<BankEvent>): string[] {
  const deposits = store.read({ type: "money_deposited" }) as Recorded<Extract<BankEvent, { type: "money_deposited" }>>[];
  const newer = store.schemas.newer().map((n) => `${n.type}@${n.schemaVersion}>${n.known} from ${n.firstRevision}`);
  return [...deposits.map((e) => e.data.channel), ...newer];
}
