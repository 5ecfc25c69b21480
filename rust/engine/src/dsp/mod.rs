//! Inserts: small state structs behind one trait.
//!
//! A processor allocates in `prepare`, clears in `reset` without allocating, reports its
//! latency, and processes planar f64 blocks in place. Parameters come from automation
//! lanes evaluated at timeline frames, so a block's size is never audible.

mod allpass;
pub mod biquad;
mod compressor;
pub mod convolution;
mod deesser;
mod delay;
pub mod envelope;
mod eq;
pub mod fft;
mod gain;
mod gate;
mod grid;
mod limiter;
pub mod oversample;
mod reverb;
mod ring;
mod saturation;
pub mod tilt;
mod width;

pub use compressor::Compressor;
pub use convolution::{Convolution, Convolver, ImpulseResponse};
pub use deesser::Deesser;
pub use delay::Delay;
pub use eq::Eq;
pub use gain::Gain;
pub use gate::Gate;
pub use limiter::{Limiter, TRUE_PEAK_DELAY};
pub use reverb::Reverb;
pub use saturation::Saturation;
pub use tilt::Tilt;
pub use width::{Width, apply as apply_width};

use std::sync::Arc;

use crate::plan::{ConvolutionParams, Insert};

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
    /// Builds the processor for a planned insert.
    ///
    /// # Panics
    /// For a `convolution` insert, whose impulse response is data beside the plan: the
    /// engine builds those slots with [`Slot::convolution`].
    #[must_use]
    pub fn from_plan(insert: &Insert) -> Self {
        let (name, bypass, processor): (&String, bool, Box<dyn Processor>) = match insert {
            Insert::Gain {
                name,
                bypass,
                gain_db,
                polarity,
            } => (
                name,
                *bypass,
                Box::new(Gain::new(gain_db.clone(), *polarity)),
            ),
            Insert::Width {
                name,
                bypass,
                width,
                mono_below_hz,
            } => (
                name,
                *bypass,
                Box::new(Width::new(width.clone(), *mono_below_hz)),
            ),
            Insert::Tilt(p) => (&p.name, p.bypass, Box::new(Tilt::new(p))),
            Insert::Eq(p) => (&p.name, p.bypass, Box::new(Eq::new(p))),
            Insert::Compressor(p) => (&p.name, p.bypass, Box::new(Compressor::new(p))),
            Insert::Gate(p) => (&p.name, p.bypass, Box::new(Gate::new(p))),
            Insert::Limiter(p) => (&p.name, p.bypass, Box::new(Limiter::new(p))),
            Insert::Deesser(p) => (&p.name, p.bypass, Box::new(Deesser::new(p))),
            Insert::Saturation(p) => (&p.name, p.bypass, Box::new(Saturation::new(p))),
            Insert::Delay(p) => (&p.name, p.bypass, Box::new(Delay::new(p))),
            Insert::Reverb(p) => (&p.name, p.bypass, Box::new(Reverb::new(p))),
            Insert::Convolution(p) => panic!(
                "convolution insert \"{}\" needs its impulse response: use Slot::convolution",
                p.name
            ),
        };
        Self {
            name: name.clone(),
            bypass,
            sidechain: insert.sidechain(),
            processor,
        }
    }

    /// A `convolution` insert with its impulse response (at the session's rate).
    #[must_use]
    pub fn convolution(p: &ConvolutionParams, ir: Arc<ImpulseResponse>) -> Self {
        Self {
            name: p.name.clone(),
            bypass: p.bypass,
            sidechain: None,
            processor: Box::new(Convolution::new(p, ir)),
        }
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
