//! `width`: mid/side width of a stereo signal (automatable per frame); mono passes through.
//!
//! With `mono_below_hz`, the side signal `S = (L - R) / 2` is high-passed there first by a
//! 2nd-order Butterworth section (the cookbook high-pass at Q = 1/sqrt(2): the bilinear
//! transform of the analog Butterworth, pre-warped at the corner), so the low end folds to
//! mono while the width above it is kept; the mid `M = (L + R) / 2` is untouched. The corner is
//! fixed for the render.

use crate::dsp::biquad::{Biquad, BiquadCoefficients, Omega};
use crate::dsp::grid;
use crate::dsp::{AudioBlock, Processor};
use crate::plan::{Lane, WidthParams};

pub struct Width {
    width: Lane,
    scratch: Vec<f64>,
    /// The side's high-pass corner, Hz, when set.
    mono_below_hz: Option<f64>,
    side_hpf: BiquadCoefficients,
    side_state: Biquad,
    side: Vec<f64>,
}

impl Width {
    #[must_use]
    pub fn new(p: &WidthParams) -> Self {
        Self {
            width: p.width.clone(),
            scratch: Vec::new(),
            mono_below_hz: p.mono_below_hz,
            side_hpf: BiquadCoefficients::IDENTITY,
            side_state: Biquad::default(),
            side: Vec::new(),
        }
    }
}

/// `M = (L + R) / 2`, `S = (L - R) / 2`, `L' = M + w S`, `R' = M - w S`.
#[inline]
pub fn apply(l: &mut f64, r: &mut f64, w: f64) {
    let m = (*l + *r) * 0.5;
    let s = (*l - *r) * 0.5;
    *l = m + w * s;
    *r = m - w * s;
}

impl Processor for Width {
    fn prepare(&mut self, sample_rate: f64, max_block: usize) {
        self.scratch = vec![0.0; max_block];
        if let Some(f) = self.mono_below_hz {
            self.side = vec![0.0; max_block];
            self.side_hpf = BiquadCoefficients::highpass(
                Omega::new(f, sample_rate),
                core::f64::consts::FRAC_1_SQRT_2,
            );
        }
    }

    fn reset(&mut self) {
        self.side_state.reset();
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        if block.channels != 2 {
            return;
        }
        let n = block.len();
        let w = &mut self.scratch[..n];
        let constant = self.width.fill(block.start, w);
        if self.mono_below_hz.is_some() {
            let side = &mut self.side[..n];
            for ((s, l), r) in side
                .iter_mut()
                .zip(block.left.iter())
                .zip(block.right.iter())
            {
                *s = (*l - *r) * 0.5;
            }
            // Flushed at fixed timeline frames (grid cells), never at block edges.
            for chunk in grid::chunks(block.start, n) {
                self.side_state
                    .process_slice(&self.side_hpf, &mut side[chunk.range()]);
                if chunk.ends_cell() {
                    self.side_state.flush();
                }
            }
            for i in 0..n {
                let g = constant.unwrap_or(w[i]);
                let m = (block.left[i] + block.right[i]) * 0.5;
                block.left[i] = m + g * side[i];
                block.right[i] = m - g * side[i];
            }
            return;
        }
        let pairs = block.left.iter_mut().zip(block.right.iter_mut());
        match constant {
            // Width 1 is the identity; skipping it keeps a unity strip bit-exact.
            Some(1.0) => {}
            Some(v) => pairs.for_each(|(l, r)| apply(l, r, v)),
            None => pairs
                .zip(w.iter())
                .filter(|&(_, &v)| v != 1.0)
                .for_each(|((l, r), &v)| apply(l, r, v)),
        }
    }
}
