// The bank as a React app. The store lives in IndexedDB ("bank-react");
// with ?sync=<log URL>&token=<JWT> in the page's address it syncs with a
// Hindcast server (a real app gets its token from its sign-in).
import { Component, StrictMode, Suspense, useState } from "react";
import { createRoot } from "react-dom/client";
import { EventStore } from "hindcast";
import { useProjection, useProjectionView, useStore, useSyncStatus } from "hindcast/react";
import { BALANCES, TOTAL, deposit, openAccount, withdraw } from "./bank.js";

const params = new URLSearchParams(location.search);
const sync = params.has("sync") ? { url: params.get("sync"), token: params.get("token") ?? undefined } : undefined;
const openBank = () => EventStore.open("bank-react", sync && { sync });

function SyncStatus({ store }) {
  const status = useSyncStatus(store);
  const text = status === undefined ? "local only" : `${status.state}, ${status.confirmedRevision} confirmed, ${status.pendingBatches} pending`;
  return <p id="sync">{text}</p>;
}

function Total({ store }) {
  return <p id="total">{`The bank holds ${useProjection(store, TOTAL)}`}</p>;
}

/** The accounts; a withdrawal is decided on the view shown (state and position). */
function Accounts({ store }) {
  const view = useProjectionView(store, BALANCES);
  const [message, setMessage] = useState("");
  const [amount, setAmount] = useState(10);
  const run = (action) => action().then(() => setMessage(""), (e) => setMessage(e.message));
  const accounts = Object.entries(view.state);
  return (
    <>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const owner = new FormData(e.currentTarget).get("owner");
          run(() => openAccount(store, `acc-${accounts.length + 1}`, owner));
        }}
      >
        <input id="owner" name="owner" placeholder="owner" required />
        <button id="open">Open an account</button>
      </form>
      <label>
        Amount <input id="amount" type="number" min="1" value={amount} onChange={(e) => setAmount(Number(e.target.value))} />
      </label>
      <ul>
        {accounts.map(([account, { owner, balance }]) => (
          <li key={account} id={account}>
            <span className="who">{`${account} ${owner}: ${balance}`}</span>
            <button className="deposit" onClick={() => run(() => deposit(store, account, amount))}>Deposit</button>
            <button className="withdraw" onClick={() => run(() => withdraw(store, account, amount, view))}>Withdraw</button>
          </li>
        ))}
      </ul>
      <p id="message">{message}</p>
    </>
  );
}

function Bank() {
  const store = useStore("bank-react", openBank);
  return (
    <>
      <SyncStatus store={store} />
      <Accounts store={store} />
      <Total store={store} />
    </>
  );
}

/** What useStore throws when the bank does not open (no IndexedDB, a sync URL of another database). */
class Failed extends Component {
  state = { error: null };
  static getDerivedStateFromError(error) {
    return { error };
  }
  render() {
    return this.state.error ? <p id="failed">{`The bank did not open: ${this.state.error.message}`}</p> : this.props.children;
  }
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <h1>Bank</h1>
    <Failed>
      <Suspense fallback={<p>Opening the bank…</p>}>
        <Bank />
      </Suspense>
    </Failed>
  </StrictMode>,
);
