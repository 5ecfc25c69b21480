//! `eq`: a parametric EQ of cookbook biquads (R. Bristow-Johnson, *Audio EQ Cookbook*, W3C
//! 2021) and Butterworth high- and low-pass cascades.
//!
//! Each band is one of:
//! * `bell` (peaking, `q` default 1.0), `lowshelf` and `highshelf` (Q form, `q` default
//!   0.707), `notch` and `bandpass` (constant 0 dB peak; `q` default 1.0): one biquad;
//! * `highpass` / `lowpass` at 12 dB/oct: one cookbook biquad with `q` (default 0.7071);
//! * at 6 dB/oct: a first-order section (bilinear transform pre-warped at `freq_hz`);
//! * at 18, 24, 36 and 48 dB/oct: a Butterworth filter of order N = slope / 6, as cookbook
//!   sections with `Q_k = 1 / (2 cos phi_k)` (`phi_k = (2k - 1) pi / 2N` for even N,
//!   `k pi / N` for odd N, which adds one first-order section); `q` is not used. This is
//!   Butterworth, not Linkwitz-Riley: -3.01 dB at `freq_hz`.
//!
//! Coefficients are float64, the sections transposed direct form II with float64 state.
//! `freq_hz` and `q` are read on the control grid; a band's `gain_db` is a gain-type key
//! and follows its lane per frame (the coefficients are redesigned each frame while it
//! moves, from the grid's cached trigonometry). Latency 0.

use crate::dsp::biquad::{Biquad, BiquadCoefficients, Omega, shelf_amplitude};
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::{Band as BandPlan, BandType, EqParams, Lane};

/// Most sections a band uses (48 dB/oct: four biquads).
const MAX_SECTIONS: usize = 4;

/// How a band is built.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Design {
    /// One cookbook biquad, with the type's default Q when the plan gives none.
    Cookbook { kind: BandType, q_default: f64 },
    /// Butterworth of `order` (1 ..= 8); `high` for high-pass.
    Butterworth { order: usize, high: bool },
}

struct Band {
    design: Design,
    freq: GridParam,
    q: Option<GridParam>,
    gain: Lane,
    /// Butterworth section Qs (the first `order / 2`).
    qs: [f64; MAX_SECTIONS],
    coefficients: [BiquadCoefficients; MAX_SECTIONS],
    sections: usize,
    /// The state per channel and section.
    state: [[Biquad; MAX_SECTIONS]; 2],
    /// The design's inputs when `coefficients` were computed.
    omega: Omega,
    freq_now: f64,
    q_now: f64,
    gain_now: Option<f64>,
}

impl Band {
    fn new(plan: &BandPlan) -> Self {
        let design = match plan.kind {
            BandType::Highpass | BandType::Lowpass => {
                let high = plan.kind == BandType::Highpass;
                match plan.slope_db_oct.unwrap_or(12) {
                    12 => Design::Cookbook {
                        kind: plan.kind,
                        q_default: core::f64::consts::FRAC_1_SQRT_2,
                    },
                    slope => Design::Butterworth {
                        order: (slope as usize / 6).clamp(1, 2 * MAX_SECTIONS),
                        high,
                    },
                }
            }
            BandType::Lowshelf | BandType::Highshelf => Design::Cookbook {
                kind: plan.kind,
                q_default: 0.707,
            },
            BandType::Bell | BandType::Notch | BandType::Bandpass => Design::Cookbook {
                kind: plan.kind,
                q_default: 1.0,
            },
        };
        let mut qs = [0.0; MAX_SECTIONS];
        let mut sections = 1;
        if let Design::Butterworth { order, .. } = design {
            let n = order as f64;
            for (k, q) in qs.iter_mut().enumerate().take(order / 2) {
                let k = (k + 1) as f64;
                let phi = if order % 2 == 0 {
                    (2.0 * k - 1.0) * core::f64::consts::PI / (2.0 * n)
                } else {
                    k * core::f64::consts::PI / n
                };
                *q = 1.0 / (2.0 * math::cos(phi));
            }
            sections = order / 2 + order % 2;
        }
        Self {
            design,
            freq: GridParam::new(&plan.freq_hz),
            q: plan.q.as_ref().map(GridParam::new),
            gain: plan.gain_db.clone(),
            qs,
            coefficients: [BiquadCoefficients::IDENTITY; MAX_SECTIONS],
            sections,
            state: [[Biquad::default(); MAX_SECTIONS]; 2],
            omega: Omega { cos: 1.0, sin: 0.0 },
            freq_now: f64::NAN,
            q_now: f64::NAN,
            gain_now: None,
        }
    }

    fn uses_gain(&self) -> bool {
        matches!(
            self.design,
            Design::Cookbook {
                kind: BandType::Bell | BandType::Lowshelf | BandType::Highshelf,
                ..
            }
        )
    }

    /// Reads the grid keys at `grid`; redesigns when they changed. Returns whether the
    /// trigonometry changed (then a gain-dependent design must be redone too).
    fn update_grid(&mut self, grid: i64, fs: f64) -> bool {
        let (f, f_changed) = self.freq.at(grid);
        let (q, q_changed) = match (&mut self.q, self.design) {
            (Some(p), _) => p.at(grid),
            (None, Design::Cookbook { q_default, .. }) => (q_default, false),
            (None, Design::Butterworth { .. }) => (0.0, false),
        };
        if !(f_changed || q_changed || self.freq_now.is_nan()) {
            return false;
        }
        // Keep the design inside the bilinear transform's range whatever the plan says.
        let f = f.clamp(1e-3, 0.4999 * fs);
        self.freq_now = f;
        self.q_now = q.max(1e-3);
        self.omega = Omega::new(f, fs);
        if let Design::Butterworth { order, high } = self.design {
            for k in 0..order / 2 {
                self.coefficients[k] = if high {
                    BiquadCoefficients::highpass(self.omega, self.qs[k])
                } else {
                    BiquadCoefficients::lowpass(self.omega, self.qs[k])
                };
            }
            if order % 2 == 1 {
                self.coefficients[order / 2] = if high {
                    BiquadCoefficients::first_order_highpass(f, fs)
                } else {
                    BiquadCoefficients::first_order_lowpass(f, fs)
                };
            }
        } else if !self.uses_gain() {
            self.design_cookbook(0.0);
        }
        self.gain_now = None;
        true
    }

    /// The cookbook biquad at the current frequency and Q with `gain_db`.
    fn design_cookbook(&mut self, gain_db: f64) {
        let Design::Cookbook { kind, .. } = self.design else {
            return;
        };
        let (w, q) = (self.omega, self.q_now);
        self.coefficients[0] = match kind {
            BandType::Highpass => BiquadCoefficients::highpass(w, q),
            BandType::Lowpass => BiquadCoefficients::lowpass(w, q),
            BandType::Bandpass => BiquadCoefficients::bandpass(w, q),
            BandType::Notch => BiquadCoefficients::notch(w, q),
            BandType::Bell => BiquadCoefficients::peaking(w, q, shelf_amplitude(gain_db)),
            BandType::Lowshelf => BiquadCoefficients::low_shelf(w, q, shelf_amplitude(gain_db)),
            BandType::Highshelf => BiquadCoefficients::high_shelf(w, q, shelf_amplitude(gain_db)),
        };
        self.gain_now = Some(gain_db);
    }

    fn set_gain(&mut self, gain_db: f64) {
        if self
            .gain_now
            .is_none_or(|g| g.to_bits() != gain_db.to_bits())
        {
            self.design_cookbook(gain_db);
        }
    }

    /// Designs the band for one chunk; true when its gain moves within the chunk (then
    /// `gains` holds the gain of each frame).
    fn prepare_chunk(&mut self, chunk: grid::Chunk, fs: f64, gains: &mut [f64; GRID]) -> bool {
        self.update_grid(chunk.grid, fs);
        if !self.uses_gain() {
            return false;
        }
        match grid::per_frame(&self.gain, chunk.frame, gains, chunk.len) {
            Some(g) => {
                self.set_gain(g);
                false
            }
            None => true,
        }
    }

    /// Runs the band over one chunk of both channels.
    fn run(
        &mut self,
        chunk: grid::Chunk,
        fs: f64,
        channels: usize,
        x: [&mut [f64]; 2],
        gains: &mut [f64; GRID],
    ) {
        let per_frame = self.prepare_chunk(chunk, fs, gains);
        self.filter(chunk, channels, per_frame, x, gains);
    }

    /// Filters one chunk with the designs `prepare_chunk` made.
    fn filter(
        &mut self,
        chunk: grid::Chunk,
        channels: usize,
        per_frame: bool,
        x: [&mut [f64]; 2],
        gains: &[f64; GRID],
    ) {
        let [l, r] = x;
        if per_frame {
            // The gain moves within the chunk: a new design per frame (the trigonometry
            // is the grid's); peaking and shelf bands are one section.
            for (i, &g) in gains[..chunk.len].iter().enumerate() {
                self.set_gain(g);
                let co = &self.coefficients[0];
                l[i] = self.state[0][0].process(co, l[i]);
                if channels == 2 {
                    r[i] = self.state[1][0].process(co, r[i]);
                }
            }
        } else {
            let [sl, sr] = &mut self.state;
            for s in 0..self.sections {
                let co = &self.coefficients[s];
                if channels == 2 {
                    Biquad::process_pair(co, [&mut sl[s], &mut sr[s]], l, r);
                } else {
                    sl[s].process_slice(co, l);
                }
            }
        }
        if chunk.ends_cell() {
            for ch in &mut self.state {
                ch.iter_mut().for_each(Biquad::flush);
            }
        }
    }

    fn reset(&mut self) {
        self.state = [[Biquad::default(); MAX_SECTIONS]; 2];
    }
}

/// The `eq` insert: its bands in order, on each channel. Latency 0; allocates only in
/// [`Eq::new`]; `process` never allocates.
pub struct Eq {
    bands: Vec<Band>,
    sample_rate: f64,
    gains: [f64; GRID],
}

impl Eq {
    /// Builds the bands (designed at the first block, once the sample rate is known).
    #[must_use]
    pub fn new(params: &EqParams) -> Self {
        Self {
            bands: params.bands.iter().map(Band::new).collect(),
            sample_rate: 48000.0,
            gains: [0.0; GRID],
        }
    }
}

impl Processor for Eq {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        self.sample_rate = sample_rate;
        for b in &mut self.bands {
            b.freq.invalidate();
            if let Some(q) = &mut b.q {
                q.invalidate();
            }
            b.freq_now = f64::NAN;
            b.gain_now = None;
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.bands.iter_mut().for_each(Band::reset);
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let channels = block.channels;
        let fs = self.sample_rate;
        for chunk in grid::chunks(block.start, block.len()) {
            let range = chunk.range();
            let l = &mut block.left[range.clone()];
            let r: &mut [f64] = if channels == 2 {
                &mut block.right[range]
            } else {
                &mut []
            };
            let mut static_designs = channels == 2;
            for band in &mut self.bands {
                static_designs &= !band.prepare_chunk(chunk, fs, &mut self.gains);
            }
            if static_designs {
                // Every band holds its design over the chunk: run the whole cascade per
                // frame, so that the bands' recursions overlap (the same operations in the
                // same order per band, so the same bits as band after band).
                for (xl, xr) in l.iter_mut().zip(r.iter_mut()) {
                    let (mut yl, mut yr) = (*xl, *xr);
                    for band in &mut self.bands {
                        let [sl, sr] = &mut band.state;
                        for s in 0..band.sections {
                            let co = &band.coefficients[s];
                            yl = sl[s].process(co, yl);
                            yr = sr[s].process(co, yr);
                        }
                    }
                    *xl = yl;
                    *xr = yr;
                }
                if chunk.ends_cell() {
                    for band in &mut self.bands {
                        band.state.iter_mut().flatten().for_each(Biquad::flush);
                    }
                }
                continue;
            }
            for band in &mut self.bands {
                band.run(chunk, fs, channels, [&mut *l, &mut *r], &mut self.gains);
            }
        }
    }
}
