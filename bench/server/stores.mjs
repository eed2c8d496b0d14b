// The stores of run.mjs's interleaved workloads (appends, race), each run
// by a worker thread of its own (store-worker.mjs): a store's clients, their
// JIT state and their garbage stay in its own V8 isolate, so no store's
// round pays for what another store's round left behind in the client.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import { STREAM_DOES_NOT_EXIST, isExpectedVersionConflictError } from "@event-driven-io/emmett";
import { TOKEN, appender, connect, racer } from "./client.mjs";

export const CLIENTS = 16;
/** Appends: each client's appends. Race: the successful commits wanted. */
export const EACH = 500, TARGET = 600;

/** FOR UPDATE + INSERT in one transaction; false when the version differs. */
async function rawConditional(client, stream, expected, data) {
  await client.query("BEGIN");
  try {
    const r = await client.query("SELECT version FROM raw_streams WHERE id = $1 FOR UPDATE", [stream]);
    const current = r.rows.length ? Number(r.rows[0].version) : -1;
    if (current !== expected) {
      await client.query("ROLLBACK");
      return { ok: false, current };
    }
    if (current === -1) await client.query("INSERT INTO raw_streams (id, version) VALUES ($1, 0)", [stream]);
    else await client.query("UPDATE raw_streams SET version = $2 WHERE id = $1", [stream, current + 1]);
    await client.query("INSERT INTO raw_events (stream, version, data) VALUES ($1, $2, $3)", [stream, current + 1, data]);
    await client.query("COMMIT");
    return { ok: true };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    // Two first appends race on the insert of the stream row.
    if (e.code === "23505") return { ok: false, current: 0 };
    throw e;
  }
}

/** The raw stores' tables (created once, by the main process). */
export async function rawSchema(pgurl) {
  const c = new pg.Client({ connectionString: pgurl });
  await c.connect();
  await c.query(`CREATE TABLE IF NOT EXISTS raw_streams (id text PRIMARY KEY, version bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS raw_events (stream text NOT NULL, version bigint NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream, version));
    CREATE TABLE IF NOT EXISTS raw_only (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL);`);
  await c.end();
}

/** The appends workload: each store's client `i` of a round tagged `tag`. */
const appends = {
  hindcast: ({ pool }) => (i, tag) => appender(pool, `appends-${tag}`, `s-${i}`, EACH),
  emmett: ({ emmett }) => async (i, tag) => {
    const stream = `appends_${tag}-${i}`;
    let version = STREAM_DOES_NOT_EXIST;
    for (let k = 0; k < EACH; k++) {
      const r = await emmett.appendToStream(stream, [{ type: "e", data: { k } }], { expectedStreamVersion: version });
      version = r.nextExpectedStreamVersion;
    }
  },
  "raw FOR UPDATE": ({ raw }) => async (i, tag) => {
    const c = await raw.connect();
    try {
      for (let k = 0; k < EACH; k++) {
        const r = await rawConditional(c, `appends-${tag}-${i}`, k - 1, { k });
        if (!r.ok) throw new Error("conflict without contention");
      }
    } finally { c.release(); }
  },
  "raw INSERT-only": ({ raw }) => async (i, tag) => {
    const c = await raw.connect();
    try {
      for (let k = 0; k < EACH; k++) await c.query("INSERT INTO raw_only (stream, data) VALUES ($1, $2)", [`appends-${tag}-${i}`, { k }]);
    } finally { c.release(); }
  },
};

/** The race: each store's round, returning its wins and attempts. */
const race = {
  hindcast: ({ pool, url }) => async (tag) => {
    const log = `race-${tag}`, stream = "hot";
    const counts = { wins: 0, attempts: 0 };
    await Promise.all(Array.from({ length: CLIENTS }, () => racer(pool, log, stream, counts, TARGET)));
    const { wins, attempts } = counts;
    // No lost update: the stream's versions are 0 … wins - 1, in order.
    const page = await (await fetch(`${url}/v1/logs/${log}/events?after=0&limit=10000`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    const versions = page.events.filter((e) => e.stream === stream).map((e) => e.version);
    if (versions.length !== wins || versions.some((v, i) => v !== i)) throw new Error("hindcast lost an update");
    return { wins, attempts };
  },
  emmett: ({ emmett }) => async (tag) => {
    const stream = `race_${tag}-hot`;
    let wins = 0, attempts = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      let version = STREAM_DOES_NOT_EXIST;
      while (wins < TARGET) {
        attempts++;
        try {
          const r = await emmett.appendToStream(stream, [{ type: "e", data: {} }], { expectedStreamVersion: version });
          wins++;
          version = r.nextExpectedStreamVersion;
        } catch (e) {
          if (!isExpectedVersionConflictError(e)) throw e;
          const from = typeof version === "bigint" ? version : 0n;
          version = (await emmett.readStream(stream, { from })).currentStreamVersion;
        }
      }
    }));
    const all = await emmett.readStream(stream);
    if (all.events.length !== wins) throw new Error(`emmett lost an update: ${all.events.length} events, ${wins} wins`);
    return { wins, attempts };
  },
  "raw FOR UPDATE": ({ raw }) => async (tag) => {
    const stream = `race-${tag}`;
    let wins = 0, attempts = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const c = await raw.connect();
      try {
        let expected = -1;
        while (wins < TARGET) {
          attempts++;
          const r = await rawConditional(c, stream, expected, {});
          if (r.ok) { wins++; expected++; } else expected = r.current;
        }
      } finally { c.release(); }
    }));
    const n = Number((await raw.query("SELECT count(*) FROM raw_events WHERE stream = $1", [stream])).rows[0].count);
    if (n !== wins) throw new Error("raw lost an update");
    return { wins, attempts };
  },
};

/** The stores of each interleaved workload, by name. */
export const STORES = { appends: Object.keys(appends), race: Object.keys(race) };

/**
 * Opens `store`'s clients for `workload` (the hindcast server at `url`,
 * PostgreSQL at `pgurl`): `round(tag)` runs one round and returns the
 * race's { wins, attempts } (nothing for the appends); `close()` ends it.
 */
export async function open(workload, store, { url, pgurl }) {
  const ctx = { url };
  if (store === "hindcast") ctx.pool = connect(url);
  if (store === "emmett") {
    ctx.emmett = getPostgreSQLEventStore(pgurl);
    await ctx.emmett.appendToStream(`warm-${randomUUID()}`, [{ type: "warm", data: {} }]);
  }
  if (store.startsWith("raw")) ctx.raw = new pg.Pool({ connectionString: pgurl, max: 20 });
  const close = async () => {
    await ctx.pool?.destroy();
    await ctx.emmett?.close();
    await ctx.raw?.end();
  };
  if (workload === "appends") {
    const client = appends[store](ctx);
    return { round: (tag) => Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, tag))).then(() => ({})), close };
  }
  return { round: race[store](ctx), close };
}
