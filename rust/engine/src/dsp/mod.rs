//! Inserts: small state structs behind one trait.
//!
//! A processor allocates in `prepare`, clears in `reset` without allocating, reports its
//! latency, and processes planar f64 blocks in place. Parameters come from automation
//! lanes evaluated at timeline frames, so a block's size is never audible.

// The processors' building blocks.
mod allpass;
pub mod biquad;
pub mod envelope;
pub mod fft;
mod grid;
pub mod oversample;
mod ring;

/// The registry of the inserts: one line per insert type, `module => Processor`, where
/// `module` is the type as the mix format declares it (`python/mixrender/schema.py`) and
/// `dsp/<module>.rs` holds `Processor` with `Processor::new(&ProcessorParams)`, built from the
/// plan's `Insert::Processor(ProcessorParams)` (generated from the declaration). The types
/// after `beside the plan:` take data that is handed beside the plan (an impulse response):
/// `Processor::<by>(&ProcessorParams, irs)` finds it, or fails with an error. The macro
/// declares each module, re-exports its processor, lists the types in [`REGISTERED`] and
/// writes [`Slot::build`], which builds every type and never panics; a type declared but not registered (or registered but not
/// declared) does not compile, and `tests/test_declaration.py` names it.
macro_rules! inserts {
    (
        $($module:ident => $processor:ident),+ ;
        beside the plan: $($beside:ident => $beside_processor:ident by $constructor:ident),+ $(,)?
    ) => {
        $(pub mod $module; pub use $module::$processor;)+
        $(pub mod $beside; pub use $beside::$beside_processor;)+

        /// Every registered insert type, as the mix format names it, in registry order.
        pub const REGISTERED: &[&str] = &[$(stringify!($module),)+ $(stringify!($beside),)+];

        impl Slot {
            /// Builds the processor for a planned insert; an insert that takes data beside
            /// the plan (registered after `beside the plan:`) finds it in `irs` by the plan's
            /// index.
            ///
            /// # Errors
            /// [`crate::EngineError::NoImpulseResponse`] when the plan indexes a response `irs` does
            /// not hold.
            pub fn build(insert: &Insert, irs: &[Arc<ImpulseResponse>]) -> Result<Self> {
                let processor: Box<dyn Processor> = match insert {
                    $(Insert::$processor(p) => Box::new($processor::new(p)),)+
                    $(Insert::$beside_processor(p) => Box::new($beside_processor::$constructor(p, irs)?),)+
                };
                Ok(Self {
                    name: insert.name().to_owned(),
                    bypass: insert.bypass(),
                    sidechain: insert.sidechain(),
                    processor,
                })
            }
        }
    };
}

inserts! {
    gain => Gain,
    eq => Eq,
    compressor => Compressor,
    gate => Gate,
    limiter => Limiter,
    deesser => Deesser,
    saturation => Saturation,
    delay => Delay,
    reverb => Reverb,
    width => Width,
    tilt => Tilt;
    beside the plan:
    convolution => Convolution by from_plan,
}

pub use convolution::{Convolver, ImpulseResponse};
pub use limiter::TRUE_PEAK_DELAY;
pub use width::apply as apply_width;

use std::sync::Arc;

use crate::error::Result;
use crate::plan::Insert;

/// One block of a strip's signal, planar, processed in place.
pub struct AudioBlock<'a> {
    /// Timeline frame of the first sample, as the source sees it: lanes are read at this
    /// frame. Negative while audio is still in a latency pre-roll (lanes then hold their
    /// first value).
    pub start: i64,
    /// 1 (mono) or 2; a processor that makes stereo from mono sets it to 2.
    pub channels: usize,
    pub left: &'a mut [f64],
    /// Unused while `channels == 1`.
    pub right: &'a mut [f64],
    /// The key signal of an external sidechain (compressor, gate), aligned with this block.
    pub sidechain: Option<Sidechain<'a>>,
}

/// A key signal: another strip's pre-fader signal, block-aligned with the keyed insert's input.
#[derive(Clone, Copy)]
pub struct Sidechain<'a> {
    /// 1 or 2; `right` equals `left` for a mono key.
    pub channels: usize,
    pub left: &'a [f64],
    pub right: &'a [f64],
}

impl AudioBlock<'_> {
    #[must_use]
    pub fn len(&self) -> usize {
        self.left.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }
}

/// The contract every insert keeps.
pub trait Processor: Send + Sync {
    /// Allocates everything the processor needs for blocks of up to `max_block` frames.
    fn prepare(&mut self, sample_rate: f64, max_block: usize);
    /// Clears all state (delay lines, envelopes) without allocating.
    fn reset(&mut self);
    /// Frames of delay the processor adds, compensated by the engine.
    fn latency(&self) -> usize {
        0
    }
    /// Processes one block in place; never allocates.
    fn process(&mut self, block: &mut AudioBlock<'_>);
    /// Processes one block while the insert is bypassed: the signal passes unchanged but
    /// still delayed by [`Processor::latency`], so bypassing never shifts time. The
    /// default (no latency) leaves the block as it is; never allocates.
    fn process_bypassed(&mut self, _block: &mut AudioBlock<'_>) {}
}

/// An insert as the strip runs it: the processor and whether it is bypassed.
pub struct Slot {
    pub name: String,
    pub bypass: bool,
    /// The strip whose pre-fader signal keys this insert, if any.
    pub sidechain: Option<usize>,
    pub processor: Box<dyn Processor>,
}

impl Slot {
    /// Builds the processor for a planned insert that takes nothing beside the plan.
    ///
    /// # Panics
    /// For an insert that needs data beside the plan (a convolution's impulse response): use
    /// [`Slot::build`].
    #[must_use]
    pub fn from_plan(insert: &Insert) -> Self {
        Self::build(insert, &[]).unwrap_or_else(|e| panic!("{e}: use Slot::build"))
    }

    /// Runs the insert, or, when bypassed, only its latency (bypass never shifts time).
    pub fn process(&mut self, block: &mut AudioBlock<'_>) {
        if self.bypass {
            self.processor.process_bypassed(block);
        } else {
            self.processor.process(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::REGISTERED;
    use crate::plan::INSERTS;

    /// The registry and the declaration name the same insert types (the generated `Insert`
    /// enum makes a missing line a compile error; this names it).
    #[test]
    fn the_registry_is_the_declared_inserts() {
        let mut registered = REGISTERED.to_vec();
        let mut declared: Vec<&str> = INSERTS.iter().map(|t| t.name).collect();
        registered.sort_unstable();
        declared.sort_unstable();
        assert_eq!(registered, declared);
    }
}
