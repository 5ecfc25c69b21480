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
//! All the bands' sections run as one cascade, frame by frame, with both channels on the
//! two lanes of each operation, so that their recursions overlap; each section does the
//! same operations in the same order as on its own, so the bits are those of band after
//! band, channel after channel.
//! `freq_hz` and `q` are read on the control grid; a band's `gain_db` is a gain-type key
//! and follows its lane per frame (the coefficients are redesigned each frame while it
//! moves, from the grid's cached trigonometry). Latency 0.

use crate::dsp::biquad::{
    Biquad, BiquadCoefficients, BiquadPair, Lanes, Omega, PairCoefficients, shelf_amplitude,
};
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
    /// No lane of the band moves (`freq_hz` and `q` one point each, `gain_db` static or
    /// unused): once designed, every chunk would redesign nothing, so none is prepared.
    fixed: bool,
    /// Butterworth section Qs (the first `order / 2`).
    qs: [f64; MAX_SECTIONS],
    coefficients: [BiquadCoefficients; MAX_SECTIONS],
    sections: usize,
    /// Index of the band's first section in the EQ's cascade ([`Eq::coefficients`],
    /// [`Eq::state`]).
    first: usize,
    /// The design's inputs when `coefficients` were computed.
    omega: Omega,
    freq_now: f64,
    q_now: f64,
    gain_now: Option<f64>,
    /// True when the gain moves within the current chunk (then `gains` holds the gain of
    /// each frame).
    moving: bool,
    gains: [f64; GRID],
}

impl Band {
    /// The band of `plan`, whose sections start at `first` in the cascade.
    fn new(plan: &BandPlan, first: usize) -> Self {
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
        let mut band = Self {
            design,
            freq: GridParam::new(&plan.freq_hz),
            q: plan.q.as_ref().map(GridParam::new),
            gain: plan.gain_db.clone(),
            fixed: false,
            qs,
            coefficients: [BiquadCoefficients::IDENTITY; MAX_SECTIONS],
            sections,
            first,
            omega: Omega { cos: 1.0, sin: 0.0 },
            freq_now: f64::NAN,
            q_now: f64::NAN,
            gain_now: None,
            moving: false,
            gains: [0.0; GRID],
        };
        // One point: `GridParam::at` returns that point's value, bit for bit, at every
        // grid frame. A static gain lane: `grid::per_frame` returns its first point's.
        band.fixed = plan.freq_hz.points.len() == 1
            && plan.q.as_ref().is_none_or(|q| q.points.len() == 1)
            && (!band.uses_gain() || plan.gain_db.is_static());
        band
    }

    /// Whether the band has been designed since it was built or prepared.
    fn designed(&self) -> bool {
        !self.freq_now.is_nan()
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

    /// Designs the band for one chunk and sets `moving` (its gain moves within the
    /// chunk: then `gains` holds the gain of each frame); copies the design into the
    /// cascade's `coefficients`.
    fn prepare_chunk(
        &mut self,
        chunk: grid::Chunk,
        fs: f64,
        coefficients: &mut [PairCoefficients],
    ) {
        self.update_grid(chunk.grid, fs);
        self.moving = false;
        if self.uses_gain() {
            match grid::per_frame(&self.gain, chunk.frame, &mut self.gains, chunk.len) {
                Some(g) => self.set_gain(g),
                None => self.moving = true,
            }
        }
        self.publish(coefficients);
    }

    /// Copies the band's design into its sections of the cascade's `coefficients`.
    fn publish(&self, coefficients: &mut [PairCoefficients]) {
        let own = &mut coefficients[self.first..self.first + self.sections];
        for (pair, c) in own.iter_mut().zip(&self.coefficients) {
            *pair = PairCoefficients::from(c);
        }
    }

    /// Filters one chunk while the gain moves: a new design per frame (the trigonometry
    /// is the grid's); peaking and shelf bands are one section, `state`.
    fn filter_moving(
        &mut self,
        chunk: grid::Chunk,
        state: &mut BiquadPair,
        stereo: bool,
        l: &mut [f64],
        r: &mut [f64],
    ) {
        let gains = self.gains;
        for (i, &g) in gains[..chunk.len].iter().enumerate() {
            self.set_gain(g);
            let c = PairCoefficients::from(&self.coefficients[0]);
            if stereo {
                [l[i], r[i]] = state.process(&c, Lanes([l[i], r[i]])).0;
            } else {
                l[i] = state.process(&c, Lanes::splat(l[i])).0[0];
            }
        }
        if chunk.ends_cell() {
            state.flush();
        }
    }
}

/// Most sections run together per pass. Their states stay in registers (four pairs of
/// `f64x2` out of SSE2's sixteen; more spill) and their recursions overlap, so that a
/// pass costs about what one section's latency-bound recursion does.
const FUSE: usize = 4;

/// Runs the sections with `coefficients` and `state` in order over frames `start ..
/// start + l.len()` of the timeline, flushing their state at the end of each grid cell.
/// Stereo: left and right on the two lanes; mono: `l` on both (see [`Eq::state`]).
///
/// Each section sees the same input sequence as if the sections ran one after the other
/// over the whole run, does the same operations on it and is flushed after the same
/// frames, so how the sections are grouped into passes changes no bit.
fn cascade(
    coefficients: &[PairCoefficients],
    state: &mut [BiquadPair],
    stereo: bool,
    start: i64,
    l: &mut [f64],
    r: &mut [f64],
) {
    // Passes of at most FUSE sections, as even as can be (5 = 3 + 2, not 4 + 1).
    let mut passes = coefficients.len().div_ceil(FUSE);
    let (mut c, mut s) = (coefficients, state);
    while passes > 0 {
        let n = c.len().div_ceil(passes);
        let (cn, rest_c) = c.split_at(n);
        let (sn, rest_s) = s.split_at_mut(n);
        match n {
            1 => pass::<1>(cn, sn, stereo, start, l, r),
            2 => pass::<2>(cn, sn, stereo, start, l, r),
            3 => pass::<3>(cn, sn, stereo, start, l, r),
            _ => pass::<FUSE>(cn, sn, stereo, start, l, r),
        }
        (c, s, passes) = (rest_c, rest_s, passes - 1);
    }
}

/// One pass of [`cascade`] over `N` sections, per frame through all of them, with their
/// states in locals (so in registers).
#[inline(always)]
fn pass<const N: usize>(
    c: &[PairCoefficients],
    s: &mut [BiquadPair],
    stereo: bool,
    start: i64,
    l: &mut [f64],
    r: &mut [f64],
) {
    let (Ok(c), Ok(s)) = (
        <&[PairCoefficients; N]>::try_from(c),
        <&mut [BiquadPair; N]>::try_from(s),
    ) else {
        unreachable!("cascade passes N sections")
    };
    let mut st = *s;
    for chunk in grid::chunks(start, l.len()) {
        if stereo {
            let (l, r) = (&mut l[chunk.range()], &mut r[chunk.range()]);
            for (xl, xr) in l.iter_mut().zip(r.iter_mut()) {
                [*xl, *xr] = frame(c, &mut st, Lanes([*xl, *xr])).0;
            }
        } else {
            for x in &mut l[chunk.range()] {
                *x = frame(c, &mut st, Lanes::splat(*x)).0[0];
            }
        }
        if chunk.ends_cell() {
            st.iter_mut().for_each(BiquadPair::flush);
        }
    }
    *s = st;
}

/// One frame through `N` sections.
#[inline(always)]
fn frame<const N: usize>(c: &[PairCoefficients; N], st: &mut [BiquadPair; N], x: Lanes) -> Lanes {
    let mut y = x;
    for (section, c) in st.iter_mut().zip(c) {
        y = section.process(c, y);
    }
    y
}

/// The `eq` insert: its bands in order, on each channel. Latency 0; allocates only in
/// [`Eq::new`]; `process` never allocates.
pub struct Eq {
    bands: Vec<Band>,
    /// Every band's sections in order, the whole cascade in one contiguous run.
    coefficients: Vec<PairCoefficients>,
    /// The state of each section: left and right on the two lanes; after a mono block,
    /// the one channel on both. Mono runs on both lanes, as stereo does: a section's
    /// recursion is latency-bound, so the second lane is free, and with it live the
    /// compiler keeps the stereo code (with a dead lane it packs sections instead, and
    /// the shuffles lengthen the recursions).
    state: Vec<BiquadPair>,
    /// The right channel's state of each section while mono blocks run (kept for a stereo
    /// block, and flushed at cell ends as it would be in `state`).
    parked: Vec<Biquad>,
    /// Whether `state` holds one channel on both lanes.
    mono: bool,
    sample_rate: f64,
}

impl Eq {
    /// Builds the bands (designed at the first block, once the sample rate is known).
    #[must_use]
    pub fn new(params: &EqParams) -> Self {
        let mut first = 0;
        let bands: Vec<Band> = params
            .bands
            .iter()
            .map(|plan| {
                let band = Band::new(plan, first);
                first += band.sections;
                band
            })
            .collect();
        Self {
            bands,
            coefficients: vec![PairCoefficients::default(); first],
            state: vec![BiquadPair::default(); first],
            parked: vec![Biquad::default(); first],
            mono: false,
            sample_rate: 48000.0,
        }
    }

    /// Lays `state` out for a block of one channel (`stereo` false) or two.
    fn lay_out(&mut self, stereo: bool) {
        if stereo != self.mono {
            return;
        }
        for (s, parked) in self.state.iter_mut().zip(&mut self.parked) {
            let [left, right] = s.channels();
            if stereo {
                *s = BiquadPair::new(left, *parked);
            } else {
                *s = BiquadPair::new(left, left);
                *parked = right;
            }
        }
        self.mono = !stereo;
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
        self.state.fill(BiquadPair::default());
        self.parked.fill(Biquad::default());
        self.mono = false;
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let stereo = block.channels == 2;
        let (start, len) = (block.start, block.len());
        let left = &mut block.left[..len];
        let right: &mut [f64] = if stereo {
            &mut block.right[..len]
        } else {
            &mut []
        };
        self.lay_out(stereo);
        let cell = GRID as i64;
        if !stereo && (start + len as i64).div_euclid(cell) > start.div_euclid(cell) {
            // The block ends a cell. The parked state does not change while mono, so one
            // flush is every flush it would have had at the cells' ends.
            self.parked.iter_mut().for_each(Biquad::flush);
        }
        if self.bands.iter().all(|b| b.fixed && b.designed()) {
            // Nothing to redesign: the whole block as one cascade.
            cascade(
                &self.coefficients,
                &mut self.state,
                stereo,
                start,
                left,
                right,
            );
            return;
        }
        let fs = self.sample_rate;
        for chunk in grid::chunks(start, len) {
            let range = chunk.range();
            let l = &mut left[range.clone()];
            let r: &mut [f64] = if stereo { &mut right[range] } else { &mut [] };
            let mut moving = false;
            for band in &mut self.bands {
                if !(band.fixed && band.designed()) {
                    band.prepare_chunk(chunk, fs, &mut self.coefficients);
                    moving |= band.moving;
                }
            }
            if !moving {
                // Every band holds its design over the chunk: the whole cascade per frame,
                // so that the bands' recursions overlap.
                cascade(
                    &self.coefficients,
                    &mut self.state,
                    stereo,
                    chunk.frame,
                    l,
                    r,
                );
                continue;
            }
            // Bands whose gain moves go one at a time, frame by frame; the runs of bands
            // between them go as one cascade.
            let (c, s) = (&mut self.coefficients, &mut self.state);
            let mut from = 0;
            for band in self.bands.iter_mut().filter(|b| b.moving) {
                let to = band.first;
                cascade(&c[from..to], &mut s[from..to], stereo, chunk.frame, l, r);
                band.filter_moving(chunk, &mut s[to], stereo, l, r);
                band.publish(c);
                from = to + band.sections;
            }
            cascade(&c[from..], &mut s[from..], stereo, chunk.frame, l, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The timeline frame of the first sample (mid-cell, before frame 0).
    const ORIGIN: i64 = -45;

    fn lane(points: &[(u64, f64, &str)]) -> Value {
        json!({"points": points.iter().map(|&(n, v, s)| json!([n, v, s, 0.0])).collect::<Vec<_>>()})
    }

    fn band(kind: &str, freq: Value, gain: Value, q: Option<f64>, slope: Option<u32>) -> Value {
        let q = q.map(|q| lane(&[(0, q, "linear")]));
        json!({"type": kind, "freq_hz": freq, "gain_db": gain, "q": q, "slope_db_oct": slope})
    }

    /// The EQ the plain way: band after band over each chunk, channel after channel, one
    /// scalar [`Biquad`] per section. `blocks` are `(frames, channels)` from frame `ORIGIN`.
    fn reference(params: &EqParams, fs: f64, blocks: &[(usize, usize)], x: &mut [Vec<f64>; 2]) {
        let mut bands: Vec<Band> = params.bands.iter().map(|b| Band::new(b, 0)).collect();
        let mut state = vec![[[Biquad::default(); MAX_SECTIONS]; 2]; bands.len()];
        let mut scratch = [PairCoefficients::default(); MAX_SECTIONS];
        let mut at = 0;
        for &(len, channels) in blocks {
            for chunk in grid::chunks(ORIGIN + at as i64, len) {
                let range = at + chunk.offset..at + chunk.offset + chunk.len;
                for (band, state) in bands.iter_mut().zip(&mut state) {
                    band.prepare_chunk(chunk, fs, &mut scratch);
                    for (ch, x) in x.iter_mut().enumerate().take(channels) {
                        let x = &mut x[range.clone()];
                        if band.moving {
                            for (v, &g) in x.iter_mut().zip(&band.gains.clone()) {
                                band.set_gain(g);
                                *v = state[ch][0].process(&band.coefficients[0], *v);
                            }
                        } else {
                            for (s, c) in state[ch].iter_mut().zip(&band.coefficients) {
                                s.process_slice(c, x);
                            }
                        }
                    }
                    if chunk.ends_cell() {
                        state.iter_mut().flatten().for_each(Biquad::flush);
                    }
                }
            }
            at += len;
        }
    }

    /// The fused cascade gives the bits of band after band: every band type and slope,
    /// static and automated, mono and stereo (and blocks switching between them), blocks
    /// of odd sizes.
    #[test]
    fn cascade_is_band_after_band() {
        let fs = 48000.0;
        let c = |v: f64| lane(&[(0, v, "linear")]);
        // Moving at the start, and again through the silence (where the flush acts).
        let gain = lane(&[
            (0, -6.0, "linear"),
            (3000, 9.0, "smooth"),
            (5000, 2.0, "step"),
            (30_000, 2.0, "linear"),
            (55_000, -3.0, "linear"),
        ]);
        let freq = lane(&[(0, 200.0, "linear"), (6000, 5000.0, "linear")]);
        let bands = json!([
            band("highpass", c(500.0), c(0.0), None, Some(48)),
            band("bell", c(250.0), gain.clone(), Some(1.2), None),
            band("lowpass", freq.clone(), c(0.0), None, Some(18)),
            band("highshelf", c(9000.0), c(2.0), Some(0.7), None),
            band("lowshelf", freq, gain.clone(), None, None),
            band("notch", c(3000.0), gain, Some(3.0), None),
            band("highpass", c(400.0), c(0.0), Some(0.9), Some(12)),
            band("lowpass", c(12000.0), c(0.0), None, Some(6)),
            band("bandpass", c(700.0), c(0.0), Some(0.5), None),
            band("bell", c(4000.0), c(-4.0), None, None),
        ]);
        let n = 60_000;
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        // Noise, then silence long enough for the flush to act, then denormals.
        let mut input = [vec![0.0; n], vec![0.0; n]];
        for ch in &mut input {
            for (i, v) in ch.iter_mut().enumerate() {
                *v = match i {
                    0..8000 => noise(),
                    59_000.. => noise() * 1e-310,
                    _ => 0.0,
                };
            }
        }
        for count in [1, 4, 7, 10] {
            let params: EqParams = serde_json::from_value(json!({"name": "eq", "bypass": false,
                "bands": bands.as_array().unwrap()[..count]}))
            .unwrap();
            for schedule in [
                [(333, 2), (333, 2)],
                [(31, 1), (31, 1)],
                [(1000, 2), (77, 1)],
            ] {
                let blocks: Vec<(usize, usize)> = schedule
                    .iter()
                    .copied()
                    .cycle()
                    .scan(0, |at, b| {
                        let len = b.0.min(n - *at);
                        *at += len;
                        (len > 0).then_some((len, b.1))
                    })
                    .collect();
                let mut want = input.clone();
                reference(&params, fs, &blocks, &mut want);
                let mut eq = Eq::new(&params);
                eq.prepare(fs, 1024);
                let [mut l, mut r] = input.clone();
                let mut at = 0;
                for &(len, channels) in &blocks {
                    eq.process(&mut AudioBlock {
                        start: ORIGIN + at as i64,
                        channels,
                        left: &mut l[at..at + len],
                        right: &mut r[at..at + len],
                        sidechain: None,
                    });
                    at += len;
                }
                for (ch, (got, want)) in [l, r].iter().zip(&want).enumerate() {
                    if let Some(i) = (0..n).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                        panic!(
                            "{count} bands, blocks {schedule:?}, channel {ch}, frame {i}: {} vs {}",
                            got[i], want[i]
                        );
                    }
                }
            }
        }
    }
}
