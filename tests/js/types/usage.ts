// Type-checks the declarations as a TypeScript user writes against them
// (`tsc --noEmit`, strict). Lines marked @ts-expect-error must fail to compile.
import {
  EventStore,
  ConstraintViolationError,
  InvalidInputError,
  HindcastError,
  type Commit,
  type RecordedEvent,
  type Selector,
  Subscription, // a type only, imported as a name to show it is no value
  type Projection,
  type TransactRequest,
} from "hindcast";

export async function tour(): Promise<number> {
  const store: EventStore = await EventStore.memory();
  const request: TransactRequest = {
    events: [{ stream: "acc-1", type: "account_opened", data: { owner: "Ann" }, tags: ["account:acc-1"] }],
    expect: { "acc-1": "no_stream" },
    constraints: [
      { maxRevision: 0, selector: { subject: "acc-1" } },
      { revisionRange: [0, 5] },
      { failIfEventsMatch: [{ types: ["account_opened"], tags: ["account:acc-1"] }], after: 0 },
    ],
  };
  const commit: Commit = await store.transact(request);
  const selector: Selector = [{ stream: ["acc-1", "acc-2"] }, { type: "x" }];
  const events: RecordedEvent[] = store.read(selector, { from: 1, backwards: true, limit: 2 });
  const position = store.stream("acc-1");
  const version: number | undefined = position?.version;
  try {
    await store.transact({ events: [{ stream: "acc-1", type: "x" }], expect: { "acc-1": { version: 7 } } });
  } catch (e) {
    if (e instanceof ConstraintViolationError) {
      for (const v of e.violations) if (v.kind === "version_mismatch") console.log(v.stream, v.actual?.revision);
    } else if (e instanceof InvalidInputError) {
      console.log(e.path satisfies string);
    } else if (e instanceof HindcastError) {
      console.log(e.code);
    }
  }
  // @ts-expect-error: an event needs a type
  await store.transact({ events: [{ stream: "acc-1" }] });
  // @ts-expect-error: unknown expectation
  await store.transact({ events: [{ stream: "a", type: "t" }], expect: { a: "nostream" } });
  // @ts-expect-error: data must be JSON
  await store.transact({ events: [{ stream: "a", type: "t", data: () => 1 }] });
  return commit.revision + events.length + (version ?? 0) + store.lastRevision({ tags: ["account:acc-1"] });
}

export async function live(store: EventStore): Promise<number> {
  const sub = store.subscribe({ money_deposited: (e) => console.log(e.revision), account_closed: () => "stop" }, { after: "end" });
  const all = store.subscribe(async (e) => (e.type === "x" ? "stop" : undefined), { selector: { stream: "acc-1" }, after: 0 });
  const balances = store.project({
    initial: {} as Record<string, number>,
    on: {
      account_opened: (s, e) => ({ ...s, [e.stream]: 0 }),
      money_deposited: (s, e) => {
        s[e.stream] += (e.data as { amount: number }).amount;
      },
    },
  });
  const off = balances.onChange((state, position) => console.log(Object.keys(state).length, position));
  await balances.waitFor(store.revision);
  off();
  const total: number = Object.values(balances.state).reduce((a, b) => a + b, 0);
  sub.cancel();
  await all.done;
  balances.close();
  // @ts-expect-error: "after" takes a revision or "end"
  store.subscribe(() => {}, { after: "start" });
  return total + balances.position + sub.position;
}

export async function persistent(): Promise<void> {
  const store = await EventStore.open("bank", { onProgress: ({ loaded, total }) => console.log(loaded / total) });
  await store.transact({ events: [{ stream: "a", type: "t" }] });
  await store.close();
  await EventStore.delete("bank");
  // @ts-expect-error: open takes a name
  await EventStore.open();
}

export function declaredAsTheyAre(sub: Subscription, projection: Projection<number>): void {
  sub.cancel();
  projection.close();
  // @ts-expect-error: Subscription is a type only; the package exports no such class
  const noClass: unknown = Subscription;
  console.log(noClass);
  // Errors are made as the package makes them: a code, violations, a path.
  const e = new ConstraintViolationError("refused", [{ kind: "duplicate_event_id", id: "x", revision: 1 }]);
  console.log(e.code satisfies "CONSTRAINT_VIOLATION", new InvalidInputError("bad", "events[0]").path);
  // @ts-expect-error: a HindcastError needs its code
  new HindcastError("no code");
}
