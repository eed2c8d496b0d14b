//! The `wasm-bindgen` layer: one class, [`Engine`], that the hand-written
//! JavaScript wrapper (`pkg-template/`) drives.
//!
//! Values cross the boundary as JSON text in one string per call, both ways:
//! measured faster than building or reading JS objects field by field (see
//! BENCHMARKS.md). Errors cross as a thrown string holding the error's JSON
//! form ([`crate::Error::to_json`]); the wrapper turns it into the matching
//! `HindcastError` subclass. No JavaScript is ever called from here, so user
//! code never runs while Rust holds a borrow of the engine.

mod engine;

pub use engine::Engine;
