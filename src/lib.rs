//! Hindcast: an event store for offline-first web apps.
//!
//! The core (everything but [`wasm`]) knows nothing of JavaScript and is
//! tested natively. An append-only [`log::Log`] of events, indexed by stream,
//! type, subject and tag; [`constraint`] checks stream expectations and batch
//! constraints against it; [`store::Store`] turns a transact request into one
//! atomic batch. The [`wasm`] module is the thin `wasm-bindgen` layer the npm
//! package wraps.

pub mod constraint;
pub mod dispatch;
pub mod error;
pub mod id_index;
pub mod ids;
pub mod input;
pub mod json;
pub mod log;
pub mod selector;
pub mod store;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Violation};
pub use selector::Selector;
pub use store::{Commit, Store};
