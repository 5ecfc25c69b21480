//! `gain`: a level change (automatable per frame) and an optional polarity flip.

use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::{GainParams, Lane};

pub struct Gain {
    gain_db: Lane,
    sign: f64,
    scratch: Vec<f64>,
}

impl Gain {
    #[must_use]
    pub fn new(p: &GainParams) -> Self {
        Self {
            gain_db: p.gain_db.clone(),
            sign: if p.polarity { -1.0 } else { 1.0 },
            scratch: Vec::new(),
        }
    }
}

impl Processor for Gain {
    fn prepare(&mut self, _sample_rate: f64, max_block: usize) {
        self.scratch = vec![0.0; max_block];
    }

    fn reset(&mut self) {}

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let n = block.len();
        let channels = block.channels;
        let g = &mut self.scratch[..n];
        if let Some(db) = self.gain_db.fill(block.start, g) {
            let a = self.sign * math::db_to_gain(db);
            for x in block.left.iter_mut() {
                *x *= a;
            }
            if channels == 2 {
                for x in block.right.iter_mut() {
                    *x *= a;
                }
            }
            return;
        }
        for v in g.iter_mut() {
            *v = self.sign * math::db_to_gain(*v);
        }
        for (x, a) in block.left.iter_mut().zip(g.iter()) {
            *x *= a;
        }
        if channels == 2 {
            for (x, a) in block.right.iter_mut().zip(g.iter()) {
                *x *= a;
            }
        }
    }
}
