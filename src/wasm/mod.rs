//! The `wasm-bindgen` layer: one class, [`Engine`], that the hand-written
//! JavaScript wrapper (`pkg-template/`) drives.
//!
//! Requests cross as one JSON text (without event data, which the wrapper
//! keeps); answers as numbers in a buffer the wrapper reads through a view of
//! wasm memory, or as arrays of revisions (see docs/ARCHITECTURE.md and the
//! measurements in BENCHMARKS.md). Errors cross as a thrown string holding
//! the error's JSON form ([`crate::Error::to_json`]); the wrapper turns it
//! into the matching `HindcastError` subclass. No JavaScript is ever called
//! from here, so user code never runs while Rust holds a borrow of the engine.

mod engine;
pub mod idb;

pub use engine::Engine;
