//! Hindcast: an event store for offline-first web apps.
//!
//! The core (everything but [`wasm`]) knows nothing of JavaScript and is
//! tested natively; the server (`server/`) uses it too. An append-only
//! [`log::Log`] of events, indexed by stream, type, subject and tag;
//! [`request`] parses a transact request, [`condition`] its expectations and
//! constraints, which [`constraint`] checks against the log;
//! [`store::Store`] turns a request into one atomic batch and restores
//! [`stored`] batches; [`schema`] holds the rules of
//! `schemaVersion`; [`storage`] decides a persistent store's reads and
//! writes, leaving the IO to the binding; [`sync`] holds what a syncing
//! device and the server decide alike (the protocol's rules, the view rule,
//! the rebase). The [`wasm`] module is the thin `wasm-bindgen`
//! layer the npm package wraps.

pub mod condition;
pub mod constraint;
pub mod dispatch;
pub mod error;
pub mod id_index;
pub mod json;
pub mod log;
pub mod position;
pub mod random_ids;
pub mod read_options;
pub mod request;
pub mod schema;
pub mod selector;
pub mod storage;
pub mod store;
pub mod stored;
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Violation};
pub use selector::Selector;
pub use store::{Commit, Store};
