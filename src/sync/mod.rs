//! Sync (SPEC §8): what the device and the server decide alike, with no IO.
//! [`protocol`] holds the wire's rules (limits, stamped fields, the null
//! rule, the recorded event's JSON, a view's `own`); [`view`] checks a
//! batch decided on a device's view against the shared log; [`rebase`]
//! moves a syncing device's local log on after a pull.

pub mod protocol;
pub mod rebase;
pub mod view;
