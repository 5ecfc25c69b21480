//! Meters run on the render's output: BS.1770-4 / EBU R 128 loudness (Tech 3341, 3342),
//! BS.1770 Annex 2 true peak, and sample-level statistics.

pub mod true_peak;

pub use true_peak::{TruePeak, true_peak_of};
