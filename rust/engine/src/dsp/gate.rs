//! `gate`: a noise gate, the mirror image of the GMR compressor (D. Giannoulis, M. Massberg
//! and J. D. Reiss, JAES 2012) with an infinite expansion ratio below the threshold and
//! `range_db` limiting the attenuation, plus a hold time.
//!
//! Per sample, with `k` the key (the block's sidechain when routed, else the input):
//! * the gate is open while `max(|kL|, |kR|) >= 10^(threshold_db/20)`, and for `hold_ms`
//!   (rounded to frames) after the key last reached the threshold; else it is closed;
//! * its gain in dB moves towards 0 (open) or `range_db` (closed, `<= 0`) by one-pole
//!   smoothing, with `attack_ms` while opening and `release_ms` while closing (time
//!   constants: `1 - 1/e` of the way in that time, as GMR eq. 7);
//! * one gain for both channels.
//!
//! All keys are read on the control grid. A gate starts (and resets) closed. Latency 0.

use crate::dsp::envelope::{self, SNAP_DB};
use crate::dsp::grid::{self, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::GateParams;

/// The `gate` insert. Latency 0; allocates nothing after [`Gate::new`].
pub struct Gate {
    threshold: GridParam,
    range: GridParam,
    attack: GridParam,
    hold: GridParam,
    release: GridParam,
    sample_rate: f64,
    open_level: f64,
    range_db: f64,
    range_gain: f64,
    attack_a: f64,
    release_a: f64,
    hold_frames: u64,
    /// Frames the gate stays open without the key reaching the threshold.
    hold_left: u64,
    /// The gain in dB; `None` until the first block sets it to the closed gain.
    gain_db: Option<f64>,
}

impl Gate {
    #[must_use]
    pub fn new(p: &GateParams) -> Self {
        Self {
            threshold: GridParam::new(&p.threshold_db),
            range: GridParam::new(&p.range_db),
            attack: GridParam::new(&p.attack_ms),
            hold: GridParam::new(&p.hold_ms),
            release: GridParam::new(&p.release_ms),
            sample_rate: 48000.0,
            open_level: 0.0,
            range_db: 0.0,
            range_gain: 1.0,
            attack_a: 0.0,
            release_a: 0.0,
            hold_frames: 0,
            hold_left: 0,
            gain_db: None,
        }
    }

    fn update(&mut self, grid: i64) {
        let fs = self.sample_rate;
        if let (t, true) = self.threshold.at(grid) {
            self.open_level = math::db_to_gain(t);
        }
        if let (r, true) = self.range.at(grid) {
            self.range_db = r.min(0.0);
            self.range_gain = math::db_to_gain(self.range_db);
        }
        if let (a, true) = self.attack.at(grid) {
            self.attack_a = envelope::coefficient(a, fs);
        }
        if let (a, true) = self.release.at(grid) {
            self.release_a = envelope::coefficient(a, fs);
        }
        if let (h, true) = self.hold.at(grid) {
            // cast: 0 ..= 10 s
            let frames = (h.max(0.0) * fs / 1000.0).round() as u64;
            self.hold_frames = frames;
        }
    }
}

impl Processor for Gate {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        self.sample_rate = sample_rate;
        for p in [
            &mut self.threshold,
            &mut self.range,
            &mut self.attack,
            &mut self.hold,
            &mut self.release,
        ] {
            p.invalidate();
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.hold_left = 0;
        self.gain_db = None;
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let channels = block.channels;
        let key = block.sidechain;
        for chunk in grid::chunks(block.start, block.len()) {
            self.update(chunk.grid);
            let mut y = self.gain_db.unwrap_or(self.range_db);
            for i in chunk.range() {
                let level = match key {
                    Some(k) => k.left[i].abs().max(k.right[i].abs()),
                    None if channels == 2 => block.left[i].abs().max(block.right[i].abs()),
                    None => block.left[i].abs(),
                };
                let open = if level >= self.open_level {
                    self.hold_left = self.hold_frames;
                    true
                } else if self.hold_left > 0 {
                    self.hold_left -= 1;
                    true
                } else {
                    false
                };
                let target = if open { 0.0 } else { self.range_db };
                let a = if target > y {
                    self.attack_a
                } else {
                    self.release_a
                };
                y = a * y + (1.0 - a) * target;
                if (y - target).abs() < SNAP_DB {
                    y = target;
                }
                let g = if y == 0.0 {
                    1.0
                } else if y == self.range_db {
                    self.range_gain
                } else {
                    math::db_to_gain(y)
                };
                block.left[i] *= g;
                if channels == 2 {
                    block.right[i] *= g;
                }
            }
            self.gain_db = Some(y);
        }
    }
}
