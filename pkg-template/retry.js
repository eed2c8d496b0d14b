// Retrying a decision: EvidentSource's retry strategy. A decision refused
// because the state moved on (a ConstraintViolationError) is made again on a
// fresh view after an exponential backoff with full jitter; any other error
// is final.

import { ConstraintViolationError, invalid } from "./errors.js";

/** @import { RetryOptions } from "./index.js" */

const DEFAULTS = { attempts: 5, delay: 10, maxDelay: 1000 };

/**
 * @param {any} options as given
 * @returns {typeof DEFAULTS}
 */
function optionsOf(options) {
  if (options === undefined) return DEFAULTS;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw invalid("options", "expected { attempts?, delay?, maxDelay? }");
  }
  const out = { ...DEFAULTS };
  for (const k of Object.keys(options)) {
    const v = options[k];
    if (!(k in DEFAULTS)) throw invalid(`options.${k}`, "unknown option; expected attempts, delay or maxDelay");
    if (v === undefined) continue;
    if (k === "attempts" ? !(Number.isSafeInteger(v) && v >= 1) : !(Number.isFinite(v) && v >= 0)) {
      throw invalid(`options.${k}`, k === "attempts" ? "expected a positive integer" : "expected a non-negative number of ms");
    }
    out[/** @type {keyof typeof DEFAULTS} */ (k)] = v;
  }
  return out;
}

/**
 * Calls `fn(attempt)` (attempt from 1) until it resolves, and again after a
 * ConstraintViolationError, waiting a random time in [0, min(maxDelay,
 * delay × 2^(attempt − 1))) ms in between, at most `attempts` times in all.
 * @template T
 * @param {(attempt: number) => Promise<T> | T} fn
 * @param {RetryOptions} [options]
 * @returns {Promise<T>}
 */
export async function retry(fn, options) {
  if (typeof fn !== "function") throw invalid("fn", "expected a function (attempt) => Promise");
  const { attempts, delay, maxDelay } = optionsOf(options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof ConstraintViolationError) || attempt >= attempts) throw e;
      const cap = Math.min(maxDelay, delay * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
    }
  }
}
