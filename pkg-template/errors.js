// Error classes. Every error Hindcast reports is a HindcastError with a
// stable `code`; the engine sends its errors as JSON text (see fromWire).

/** @import { ErrorCode, RecordedEvent, StorageErrorReason, Violation } from "./index.js" */

/** @template {ErrorCode} [C=ErrorCode] */
export class HindcastError extends Error {
  /**
   * @param {string} message
   * @param {C} code
   * @param {ErrorOptions} [options]
   */
  constructor(message, code, options) {
    super(message, options);
    this.code = code;
  }
}

/** @extends {HindcastError<"CONSTRAINT_VIOLATION">} */
export class ConstraintViolationError extends HindcastError {
  /**
   * @param {string} message
   * @param {Violation[]} violations
   */
  constructor(message, violations) {
    super(message, "CONSTRAINT_VIOLATION");
    this.violations = violations;
  }
}

/** @extends {HindcastError<"INVALID_INPUT">} */
export class InvalidInputError extends HindcastError {
  /**
   * @param {string} message
   * @param {string} path
   */
  constructor(message, path) {
    super(message, "INVALID_INPUT");
    this.path = path;
  }
}

/** @extends {HindcastError<"STORAGE">} */
export class StorageError extends HindcastError {
  /**
   * @param {string} message
   * @param {StorageErrorReason} reason
   * @param {ErrorOptions} [options]
   */
  constructor(message, reason, options) {
    super(message, "STORAGE", options);
    this.reason = reason;
  }
}

/** @extends {HindcastError<"HANDLER">} */
export class HandlerError extends HindcastError {
  /**
   * @param {string} message
   * @param {unknown} cause
   * @param {RecordedEvent} event
   */
  constructor(message, cause, event) {
    super(message, "HANDLER", { cause });
    /** @type {unknown} set by Error from `{ cause }`, an own property whatever its value */
    this.cause;
    this.event = event;
  }
}

for (const E of [HindcastError, ConstraintViolationError, InvalidInputError, StorageError, HandlerError]) {
  Object.defineProperty(E.prototype, "name", { value: E.name, writable: true, configurable: true });
}

/**
 * An InvalidInputError whose message names the path, as the engine's do.
 * @param {string} path
 * @param {string} message
 */
export function invalid(path, message) {
  return new InvalidInputError(path ? `Invalid input at ${path}: ${message}` : `Invalid input: ${message}`, path);
}

/**
 * Turns what the engine threw (src/wasm/wire.rs) into the matching error
 * class; `prefix` goes before a reported path (a selector checked as part
 * of options).
 * @param {unknown} thrown
 * @param {string} [prefix]
 * @returns {unknown} an error to throw
 */
export function fromWire(thrown, prefix = "") {
  if (typeof thrown !== "string") return thrown; // a fault of the runtime itself
  const e = JSON.parse(thrown);
  switch (e.code) {
    case "CONSTRAINT_VIOLATION":
      return new ConstraintViolationError(e.message, e.violations);
    case "INVALID_INPUT":
      return prefix && e.path ? invalid(prefix + e.path, e.detail) : new InvalidInputError(e.message, e.path);
    case "STORAGE": {
      const error = /** @type {StorageError & { revision?: number, field?: string }} */ (new StorageError(e.message, e.reason));
      if (e.revision !== undefined) error.revision = e.revision; // "corrupt": where
      if (e.field !== undefined) error.field = e.field; // and which field, if one
      return error;
    }
    default:
      return new HindcastError(e.message, e.code);
  }
}
