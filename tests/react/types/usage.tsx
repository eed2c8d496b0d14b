// What hindcast/react's hooks accept and refuse for a typed store (each line
// marked @ts-expect-error must fail to compile).
import { EventStore, type ProjectionSpec, type SyncStatus } from "hindcast";
import { useProjection, useProjectionView, useRead, useRejected, useRevision, useStore, useSyncStatus, type ProjectionView } from "hindcast/react";

type BankEvent =
  | { type: "account_opened"; data: { owner: string } }
  | { type: "money_deposited"; data: { amount: number } }
  | { type: "account_closed" };
type Balances = Record<string, number>;

const BALANCES: ProjectionSpec<Balances, BankEvent> = {
  initial: {},
  on: {
    account_opened: (s, e) => ({ ...s, [e.stream]: e.data.owner.length * 0 }),
    money_deposited: (s, e) => ({ ...s, [e.stream]: (s[e.stream] ?? 0) + e.data.amount }),
  },
};

export function Bank({ store }: { store: EventStore<BankEvent> }) {
  const balances: Balances = useProjection(store, BALANCES);
  const view: ProjectionView<Balances> = useProjectionView(store, BALANCES);
  // An inline definition's folds are typed by the store's events.
  const deposited = useProjection(store, { initial: 0, on: { money_deposited: (n, e) => n + e.data.amount } });
  deposited satisfies number;
  // @ts-expect-error: no fold for a type the store does not have
  useProjection(store, { initial: 0, on: { renamed: (n: number) => n } });
  // @ts-expect-error: a fold's state is the initial state's type
  useProjection(store, { initial: 0, on: { money_deposited: () => "none" } });

  const events = useRead(store, { stream: "acc-1" }, { backwards: true, limit: 10 });
  const e = events[0];
  if (e?.type === "money_deposited") e.data.amount satisfies number;
  if (e?.type === "account_closed") e.data satisfies null;
  // @ts-expect-error: data is narrowed by type
  if (e?.type === "account_opened") e.data.amount;
  // @ts-expect-error: the array is the hook's, read-only
  events.push(events[0]);
  // @ts-expect-error: a selector's fields are strings
  useRead(store, { stream: 1 });

  const revision: number = useRevision(store);
  const status: SyncStatus | undefined = useSyncStatus(store);
  // @ts-expect-error: undefined for a store that does not sync
  status.state;
  const { rejected, dismiss } = useRejected(store);
  const dismissed: Promise<void> = dismiss(rejected[0]?.batchId ?? "");
  void dismissed;
  return <p>{`${balances["acc-1"] ?? 0} ${view.position} ${revision} ${status?.state ?? "local"}`}</p>;
}

export function Opened() {
  const store = useStore("bank", () => EventStore.open<BankEvent>("bank"));
  store satisfies EventStore<BankEvent>;
  // @ts-expect-error: the opener resolves to a store
  useStore("x", () => Promise.resolve(1));
  // @ts-expect-error: a store of other events is not this one
  const other: EventStore<{ type: "other"; data: { n: number } }> = useStore("bank", () => EventStore.open<BankEvent>("bank"));
  void other;
  return <Bank store={store} />;
}
