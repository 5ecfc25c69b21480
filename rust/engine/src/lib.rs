//! mixrender's engine: a resolved render plan in, stereo blocks out.
//!
//! Pure Rust, no Python: the binding crate (`rust/py`) converts numpy blocks and the
//! plan's bytes and calls [`Engine`]. Every sample is float64; every transcendental
//! function goes through [`math`] (libm); the same plan and source bytes give the same
//! output bits for any block size and thread count.

#![forbid(unsafe_code)]

pub mod automation;
pub mod block;
mod chain;
pub mod delay;
pub mod dither;
pub mod dsp;
pub mod error;
pub mod graph;
mod master;
pub mod math;
pub mod meter;
pub mod pan;
pub mod plan;
pub mod render;
pub mod resample;
mod schedule;
pub mod staging;
mod strip;
pub mod wav;

pub use block::{OutputBlock, OutputSource, SourceBlock};
pub use error::{EngineError, Result};
pub use master::Stats;
pub use plan::{PLAN_VERSION, Plan};
pub use render::{Engine, EngineConfig, ImpulseResponse};
