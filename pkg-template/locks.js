// Locks shared by the tabs of a device: the Web Locks API where there is
// one; elsewhere (Node, a browser without it) locks within this JavaScript
// realm, which is then the only one that opens the database.
//
// A lock is released when its holder's work settles, or when its tab
// closes or crashes: a tab that dies holding one stops no other.

/** @type {Map<string, Promise<unknown>>} the last work queued per name, in this realm */
const chains = new Map();

/**
 * Runs `work` holding the lock `name`, after every holder before it.
 * @template T
 * @param {string} name
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
export function exclusive(name, work) {
  /** @type {{ request: (name: string, work: () => Promise<T>) => Promise<T> } | undefined} */
  const locks = /** @type {any} */ (globalThis.navigator)?.locks;
  if (locks !== undefined && typeof locks.request === "function") return locks.request(name, work);
  const run = (chains.get(name) ?? Promise.resolve()).then(work);
  const tail = run.catch(() => {});
  chains.set(name, tail);
  tail.then(() => {
    if (chains.get(name) === tail) chains.delete(name);
  });
  return run;
}

/**
 * Holds the lock `name` once it is granted, calling `granted()` then, until
 * the returned function is called (which also stops waiting for it).
 * @param {string} name
 * @param {() => void} granted
 * @returns {() => void}
 */
export function hold(name, granted) {
  /** @type {() => void} */
  let release = () => {};
  const released = new Promise((resolve) => {
    release = () => resolve(undefined);
  });
  let givenUp = false;
  exclusive(name, async () => {
    if (givenUp) return;
    granted();
    await released;
  }).catch(() => {});
  return () => {
    givenUp = true;
    release();
  };
}
