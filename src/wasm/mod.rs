//! The `wasm-bindgen` layer: [`Engine`], that the hand-written JavaScript
//! wrapper (`pkg-template/`) drives; [`idb`], IndexedDB through web-sys;
//! [`storage`], the storage flow's machines that decide what `idb` does;
//! [`sync`], the rebase plan.
//!
//! Requests cross as one JSON text (without event data, which the wrapper
//! keeps); answers as numbers in a buffer the wrapper reads through a view of
//! wasm memory, or as arrays of revisions (see docs/ARCHITECTURE.md and the
//! measurements in BENCHMARKS.md). [`wire`] defines both and how errors
//! cross. The engine calls no JavaScript, so user code never runs while Rust
//! holds a borrow of it; [`idb`] calls JavaScript in one place, where that is
//! safe (docs/ARCHITECTURE.md, "When JavaScript runs").

mod engine;
pub mod idb;
pub mod storage;
pub mod sync;
pub mod wire;

pub use engine::Engine;
