//! `width`: mid/side width of a stereo signal (automatable per frame); mono passes through.

use crate::dsp::{AudioBlock, Processor};
use crate::plan::Lane;

pub struct Width {
    width: Lane,
    scratch: Vec<f64>,
}

impl Width {
    #[must_use]
    pub fn new(width: Lane) -> Self {
        Self {
            width,
            scratch: Vec::new(),
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
    fn prepare(&mut self, _sample_rate: f64, max_block: usize) {
        self.scratch = vec![0.0; max_block];
    }

    fn reset(&mut self) {}

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        if block.channels != 2 {
            return;
        }
        let n = block.len();
        let w = &mut self.scratch[..n];
        let pairs = block.left.iter_mut().zip(block.right.iter_mut());
        match self.width.fill(block.start, w) {
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
