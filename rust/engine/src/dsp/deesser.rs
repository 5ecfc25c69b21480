//! `deesser`: a compressor keyed by the band above `freq_hz`, after the GMR design
//! (D. Giannoulis, M. Massberg and J. D. Reiss, JAES 2012) with the key band-limited by an
//! RBJ cookbook 2nd-order high-pass (Q 0.7071) at `freq_hz`, as the spec fixes.
//!
//! Per sample, `h = HPF(x)` per channel, and the detector sees `max(|hL|, |hR|)` in dB.
//! The gain computer reduces the band down to the threshold (ratio infinity, hard knee)
//! by at most `-range_db`: `x_L = min(max(0, x_G - threshold_db), -range_db)`, smoothed by
//! GMR's smooth decoupled peak detector (eq. 17) with fixed ballistics: a peak hold that
//! releases with a 60 ms time constant, then 1 ms one-pole attack smoothing. (The
//! decoupled form reads the peak of a tone near Nyquist from its sample peaks over several
//! periods; the branching form would under-read a 7 kHz tone by about 0.5 dB.)
//! With `g = 10^(-y_L / 20)`:
//! * `split = true`: only the band above `freq_hz` is reduced. The split is complementary:
//!   `low = LPF(x)` (cookbook 2nd order, Q 0.7071, at `freq_hz`) and `band = x - low`, so
//!   `y = low + g band`; with no reduction (`g = 1`) the output is the input, exactly;
//! * `split = false` (wide): `y = g x`.
//!
//! All keys are read on the control grid. Latency 0.

use crate::dsp::biquad::{Biquad, BiquadCoefficients, Omega};
use crate::dsp::envelope::{self, SNAP_DB};
use crate::dsp::grid::{self, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::DeesserParams;

/// Attack time constant of the de-esser's detector, ms.
pub(crate) const ATTACK_MS: f64 = 1.0;
/// Release time constant of the de-esser's detector, ms.
pub(crate) const RELEASE_MS: f64 = 60.0;

/// The `deesser` insert. Latency 0; allocates nothing after [`Deesser::new`].
pub struct Deesser {
    freq: GridParam,
    threshold: GridParam,
    range: GridParam,
    split: bool,
    sample_rate: f64,
    hpf: BiquadCoefficients,
    lpf: BiquadCoefficients,
    state: [Biquad; 2],
    low: [Biquad; 2],
    threshold_db: f64,
    quiet: f64,
    max_reduction: f64,
    attack: f64,
    release: f64,
    /// The decoupled detector: the peak hold, then the smoothed reduction.
    held: f64,
    env: f64,
}

impl Deesser {
    #[must_use]
    pub fn new(p: &DeesserParams) -> Self {
        Self {
            freq: GridParam::new(&p.freq_hz),
            threshold: GridParam::new(&p.threshold_db),
            range: GridParam::new(&p.range_db),
            split: p.split,
            sample_rate: 48000.0,
            hpf: BiquadCoefficients::IDENTITY,
            lpf: BiquadCoefficients::IDENTITY,
            state: [Biquad::default(); 2],
            low: [Biquad::default(); 2],
            threshold_db: 0.0,
            quiet: 1.0,
            max_reduction: 0.0,
            attack: 0.0,
            release: 0.0,
            held: 0.0,
            env: 0.0,
        }
    }

    fn update(&mut self, grid: i64) {
        let fs = self.sample_rate;
        if let (f, true) = self.freq.at(grid) {
            let w = Omega::new(f.clamp(1e-3, 0.4999 * fs), fs);
            let q = core::f64::consts::FRAC_1_SQRT_2;
            self.hpf = BiquadCoefficients::highpass(w, q);
            self.lpf = BiquadCoefficients::lowpass(w, q);
        }
        if let (t, true) = self.threshold.at(grid) {
            self.threshold_db = t;
            self.quiet = math::db_to_gain(t).max(f64::MIN_POSITIVE);
        }
        if let (r, true) = self.range.at(grid) {
            self.max_reduction = (-r).max(0.0);
        }
    }
}

impl Processor for Deesser {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        self.sample_rate = sample_rate;
        self.attack = envelope::coefficient(ATTACK_MS, sample_rate);
        self.release = envelope::coefficient(RELEASE_MS, sample_rate);
        self.freq.invalidate();
        self.threshold.invalidate();
        self.range.invalidate();
        self.reset();
    }

    fn reset(&mut self) {
        self.state = [Biquad::default(); 2];
        self.low = [Biquad::default(); 2];
        self.held = 0.0;
        self.env = 0.0;
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let stereo = block.channels == 2;
        for chunk in grid::chunks(block.start, block.len()) {
            self.update(chunk.grid);
            for i in chunk.range() {
                let (xl, xr) = (block.left[i], if stereo { block.right[i] } else { 0.0 });
                let hl = self.state[0].process(&self.hpf, xl);
                let hr = if stereo {
                    self.state[1].process(&self.hpf, xr)
                } else {
                    hl
                };
                let (ll, lr) = if self.split {
                    (
                        self.low[0].process(&self.lpf, xl),
                        if stereo {
                            self.low[1].process(&self.lpf, xr)
                        } else {
                            0.0
                        },
                    )
                } else {
                    (0.0, 0.0)
                };
                let level = hl.abs().max(hr.abs());
                let x_l = if level > self.quiet {
                    (20.0 * math::log10(level) - self.threshold_db).min(self.max_reduction)
                } else {
                    0.0
                };
                // GMR eq. 17: peak hold with release, then attack smoothing.
                self.held = x_l.max(self.release * self.held + (1.0 - self.release) * x_l);
                if x_l == 0.0 && self.held < SNAP_DB {
                    self.held = 0.0;
                }
                self.env = self.attack * self.env + (1.0 - self.attack) * self.held;
                if self.held == 0.0 && self.env < SNAP_DB {
                    self.env = 0.0;
                }
                if self.env == 0.0 {
                    continue;
                }
                let g = math::db_to_gain(-self.env);
                if self.split {
                    block.left[i] = ll + g * (xl - ll);
                    if stereo {
                        block.right[i] = lr + g * (xr - lr);
                    }
                } else {
                    block.left[i] = g * xl;
                    if stereo {
                        block.right[i] = g * xr;
                    }
                }
            }
            if chunk.ends_cell() {
                self.state.iter_mut().for_each(Biquad::flush);
                self.low.iter_mut().for_each(Biquad::flush);
            }
        }
    }
}
