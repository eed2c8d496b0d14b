//! Where a stream stands: its own module, so that errors (which report it)
//! and the log (which computes it) both use it without depending on each
//! other.

/// The position of a stream's last event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamPosition {
    pub version: u64,
    pub revision: u64,
}
