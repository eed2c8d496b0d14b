// The bench's hindcast client, shared by run.mjs and ab.mjs: a token for
// the server's secret, and a push through undici's Pool (keep-alive, one
// request at a time per connection: the leanest of Node's HTTP clients;
// with Node's own http the client used a third more CPU per push, on the
// 2 cores that the server and PostgreSQL share).
import { createHmac, randomUUID } from "node:crypto";
import { Pool } from "undici";

/** The secret the bench's servers are started with. */
export const SECRET = "bench-secret-of-at-least-32-bytes-long";

/** An HS256 token for every log, valid for ten hours. */
function jwt() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "bench", exp: Math.floor(Date.now() / 1000) + 36000, logs: ["*"] })}`;
  return `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
}
/** The bench's bearer token. */
export const TOKEN = jwt();

/** A pool of connections to the server at `url`. */
export const connect = (url) => new Pool(url, { connections: 64, pipelining: 1 });

/** Pushes `batches` as `client` to `log`; the answer, or an Error for any status but 200. */
export async function pushWith(pool, log, client, batches) {
  const { statusCode, body } = await pool.request({
    method: "POST", path: `/v1/logs/${log}/push`,
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ protocol: 1, clientId: client, batches }),
  });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`push: ${statusCode} ${text}`);
  return JSON.parse(text);
}

/**
 * One client of the appends: `each` single-event appends to `stream` of
 * `log`, each with an exact expectation and awaited; throws unless every
 * one commits.
 */
export async function appender(pool, log, stream, each) {
  const client = randomUUID();
  let base = 0;
  for (let k = 0; k < each; k++) {
    const out = await pushWith(pool, log, client, [{
      seq: k + 1, id: randomUUID(), events: [{ stream, type: "e", data: { k } }],
      expect: { [stream]: k === 0 ? "no_stream" : { version: k - 1 } }, view: { base, own: [] },
    }]);
    const r = out.results[0];
    if (r.status !== "committed") throw new Error(JSON.stringify(r));
    base = r.revision;
  }
}

/**
 * One client of the race: appends to `stream` of `log` with an exact
 * expectation until `counts.wins` reaches `target`; a refusal says where
 * the stream is, so the next attempt expects that (a re-read for free).
 * Counts into the shared `counts` ({ wins, attempts }).
 */
export async function racer(pool, log, stream, counts, target) {
  const client = randomUUID();
  let seq = 0, expect = "no_stream", base = 0;
  while (counts.wins < target) {
    counts.attempts++;
    const r = (await pushWith(pool, log, client, [{
      seq: ++seq, id: randomUUID(), events: [{ stream, type: "e" }], expect: { [stream]: expect }, view: { base, own: [] },
    }])).results[0];
    const at = r.status === "committed" ? { version: r.streams[stream].version, revision: r.revision } : r.violations[0].actual;
    if (r.status === "committed") counts.wins++;
    expect = { version: at.version };
    base = at.revision;
  }
}
