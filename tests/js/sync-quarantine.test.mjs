// A pulled batch this device cannot take in as recorded (data nested deeper
// than transact accepts, metadata that is not an object: a log written by
// another server, or before the server refused them) never stops sync: its
// events take their place without their data, the batch is listed by
// sync.quarantined(), and sync goes on. Through a real hindcast-server
// process, the pulls rewritten by the device's proxy.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { EventStore } from "hindcast";
import { startServer, proxy, token } from "./sync-server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

test("a pulled batch that cannot be taken in is quarantined, visibly, and sync goes on", { timeout: 30_000 }, async () => {
  const log = `quarantine-${process.pid}`;
  const url = (p) => `${p.url}/v1/logs/${log}`;
  const pa = await proxy(server.url);
  const a = await EventStore.memory({ sync: { url: url(pa), token: () => token("alice") } });
  const ids = [];
  for (const n of [1, 2, 3, 4]) {
    const commit = await a.transact({ events: [{ stream: "s", type: "t", data: { n } }] });
    ids.push(commit.batchId);
  }
  await a.sync.flush();
  await a.sync.waitFor(4);

  // Device b's pulls hold, as another server could serve them, event 2's
  // data nested 100,000 levels deep and event 3's metadata a list.
  const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  const pb = await proxy(server.url);
  pb.rewritePulls((text) => text.replace('"data":{"n":2}', `"data":${deep}`).replace('"data":{"n":3}', '"data":{"n":3},"metadata":[1]'));
  const b = await EventStore.memory({ sync: { url: url(pb), token: () => token("bob") } });
  await b.sync.waitFor(4);
  assert.deepEqual(
    b.read().map((e) => [e.revision, e.batchId, e.data, "metadata" in e]),
    [
      [1, ids[0], { n: 1 }, false],
      [2, ids[1], null, false],
      [3, ids[2], null, false],
      [4, ids[3], { n: 4 }, false],
    ],
  );
  assert.deepEqual(
    b.sync.quarantined().map(({ at, ...q }) => q),
    [
      { batchId: ids[1], revision: 2, field: "data", why: "nested more than 1000 levels deep" },
      { batchId: ids[2], revision: 3, field: "metadata", why: "expected a JSON object" },
    ],
  );
  assert.equal(b.sync.status.state, "online");
  // Sync goes on: b's own writes are pushed and confirmed, a's reach b.
  const mine = await b.transact({ events: [{ stream: "s", type: "t", data: { n: 5 } }], expect: { s: { version: 3 } } });
  assert.equal((await mine.confirmed).revision, 5);
  await a.transact({ events: [{ stream: "s", type: "t", data: { n: 6 } }] });
  await a.sync.flush();
  await b.sync.waitFor(6);
  assert.deepEqual(b.read(undefined, { from: 5 }).map((e) => e.data), [{ n: 5 }, { n: 6 }]);
  await a.close();
  await b.close();
  await pa.close();
  await pb.close();
});
