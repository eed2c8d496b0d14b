// The components the tests render, in the browser (main.jsx) and on the
// server (ssr.jsx). Each counts its renders in `renders[name]`.
import { Component, Suspense } from "react";
import { useProjection, useRead, useRejected, useRevision, useStore, useSyncStatus } from "hindcast/react";

/** Renders by component name. */
export const renders = {};
const rendered = (name) => {
  renders[name] = (renders[name] ?? 0) + 1;
};

/** The bank's balances: `{ [account]: balance }`. */
export const BALANCES = {
  initial: {},
  on: {
    account_opened: (s, e) => ({ ...s, [e.stream]: 0 }),
    money_deposited: (s, e) => ({ ...s, [e.stream]: s[e.stream] + e.data.amount }),
    money_withdrawn: (s, e) => ({ ...s, [e.stream]: s[e.stream] - e.data.amount }),
  },
};

export function Balance({ store, account, definition = BALANCES, name }) {
  rendered(name);
  const balances = useProjection(store, definition);
  return <p id={name}>{`${account}: ${balances[account] ?? "none"}`}</p>;
}

/** A mistake: a new definition object every render. */
export function InlineBalance({ store, account, name }) {
  rendered(name);
  const balances = useProjection(store, { ...BALANCES });
  return <p id={name}>{`${account}: ${balances[account] ?? "none"}`}</p>;
}

export function Revision({ store, name }) {
  rendered(name);
  return <p id={name}>{`revision ${useRevision(store)}`}</p>;
}

/** The revisions of the events a selector reads (an inline literal each render). */
export function Events({ store, stream, name }) {
  rendered(name);
  const events = useRead(store, stream === undefined ? undefined : { stream });
  return <p id={name}>{`events ${events.map((e) => e.revision + (e.pending ? "p" : "")).join(",")}`}</p>;
}

export function Status({ store, name = "status" }) {
  rendered(name);
  const s = useSyncStatus(store);
  return <p id={name}>{s === undefined ? "no sync" : `${s.state}, confirmed ${s.confirmedRevision}, pending ${s.pendingBatches}`}</p>;
}

export function Rejections({ store, name = "rejected" }) {
  rendered(name);
  const { rejected, dismiss } = useRejected(store);
  return (
    <ul id={name} data-count={rejected.length}>
      {rejected.map((r) => (
        <li key={r.batchId}>
          {`${r.batchId} ${r.violations.map((v) => v.kind).join(",")} `}
          <button onClick={() => dismiss(r.batchId)}>dismiss</button>
        </li>
      ))}
    </ul>
  );
}

/** Shows an error a child threw. */
export class Boundary extends Component {
  state = { error: null };
  static getDerivedStateFromError(error) {
    return { error };
  }
  render() {
    const { error } = this.state;
    return error ? <p className="failed">{`${error.name}: ${error.message}`}</p> : this.props.children;
  }
}

/** A store opened by useStore(name, open), with its balance, revision and events. */
export function Opened({ name, open, account, id }) {
  const store = useStore(name, open);
  return (
    <div id={id}>
      <Balance store={store} account={account} name={`${id}-balance`} />
      <Revision store={store} name={`${id}-revision`} />
      <Events store={store} name={`${id}-events`} />
    </div>
  );
}

export function Opening({ name, open, account, id }) {
  return (
    <Boundary>
      <Suspense fallback={<p className="opening">opening</p>}>
        <Opened name={name} open={open} account={account} id={id} />
      </Suspense>
    </Boundary>
  );
}

/**
 * Counts a store's live subscriptions, projections and sync listeners by
 * wrapping `subscribe`, `project`, `sync.onStatus` and `sync.onRejected`.
 */
export function counted(store) {
  const live = { subscribe: 0, project: 0, onStatus: 0, onRejected: 0 };
  const made = { subscribe: 0, project: 0, onStatus: 0, onRejected: 0 };
  const track = (kind, stop) => {
    made[kind]++;
    live[kind]++;
    let on = true;
    return (...args) => {
      if (on) live[kind]--;
      on = false;
      return stop(...args);
    };
  };
  const subscribe = store.subscribe.bind(store);
  store.subscribe = (handler, options) => {
    const sub = subscribe(handler, options);
    sub.cancel = track("subscribe", sub.cancel.bind(sub));
    return sub;
  };
  const project = store.project.bind(store);
  store.project = (spec) => {
    const projection = project(spec);
    projection.close = track("project", projection.close.bind(projection));
    return projection;
  };
  const sync = store.sync;
  if (sync !== undefined) {
    const onStatus = sync.onStatus.bind(sync);
    sync.onStatus = (listener) => track("onStatus", onStatus(listener));
    const onRejected = sync.onRejected.bind(sync);
    sync.onRejected = (listener) => track("onRejected", onRejected(listener));
  }
  return { live, made, total: () => Object.values(live).reduce((a, b) => a + b, 0) };
}
