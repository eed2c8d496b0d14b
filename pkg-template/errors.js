// Error classes. Every error Hindcast reports is a HindcastError with a
// stable `code`; the engine sends its errors as JSON text (see fromWire).

export class HindcastError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.code = code;
  }
}

export class ConstraintViolationError extends HindcastError {
  constructor(message, violations) {
    super(message, "CONSTRAINT_VIOLATION");
    this.violations = violations;
  }
}

export class InvalidInputError extends HindcastError {
  constructor(message, path) {
    super(message, "INVALID_INPUT");
    this.path = path;
  }
}

export class StorageError extends HindcastError {
  constructor(message, reason, options) {
    super(message, "STORAGE", options);
    this.reason = reason;
  }
}

export class HandlerError extends HindcastError {
  constructor(message, cause, event) {
    super(message, "HANDLER", { cause });
    this.event = event;
  }
}

for (const E of [HindcastError, ConstraintViolationError, InvalidInputError, StorageError, HandlerError]) {
  Object.defineProperty(E.prototype, "name", { value: E.name, writable: true, configurable: true });
}

/** An InvalidInputError whose message names the path, as the engine's do. */
export function invalid(path, message) {
  return new InvalidInputError(path ? `Invalid input at ${path}: ${message}` : `Invalid input: ${message}`, path);
}

/**
 * Turns what the engine threw (src/wasm/wire.rs) into the matching error
 * class; `prefix` goes before a reported path (a selector checked as part
 * of options).
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
      const error = new StorageError(e.message, e.reason);
      if (e.revision !== undefined) error.revision = e.revision; // "corrupt": where
      if (e.field !== undefined) error.field = e.field; // and which field, if one
      return error;
    }
    default:
      return new HindcastError(e.message, e.code);
  }
}
