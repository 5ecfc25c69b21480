//! Sample-level statistics of a file: sample peak, RMS (not AES17: a 0 dBFS sine reads
//! -3.01 dBFS), crest factor, stereo correlation, DC offset, and levels in the ten octave
//! bands of IEC 61260-1 (nominal 31.5 Hz .. 16 kHz).
//!
//! # Octave bands
//! Exact mid-band frequencies are base 10, `fm = 1000 * 10^(3k / 10)` for k = -5..4
//! (31.62, 63.10, 125.9, ... 15849 Hz), band edges `fm * 10^(+-0.15)` (IEC 61260-1:2014).
//! Each band is a 6th-order Butterworth band-pass (the order-3 low-pass prototype through
//! the low-pass to band-pass transform), discretised with the bilinear transform
//! pre-warped at both edges, so the response is exactly -3.01 dB at the edges and 0 dB at
//! the (pre-warped) centre, about -19.6 dB at the neighbouring centres. This is the usual
//! software octave filter (e.g. MATLAB's `octaveFilter` default order). It is not claimed
//! to be IEC 61260 class 1 near Nyquist: the 16 kHz band's upper edge (22.4 kHz) lies
//! close to Nyquist at 44.1 and 48 kHz, where the pre-warping stretches the band, so its
//! lower skirt is shallower (about -13 dB at 8 kHz). An upper edge above 0.49 fs (the
//! 16 kHz band at 44.1 kHz) is moved down to 0.49 fs, so that band measures up to about
//! Nyquist; a band whose lower edge is above 0.45 fs is not measured (`None`). Every
//! section's numerator is `1 - z^-2` (zeros at DC and Nyquist): two multiplies a section.
//!
//! A band's level is its mean square averaged over the measured channels, in dB re full
//! scale like [`rms_dbfs`](LevelsReport::rms_dbfs), so a 0 dBFS sine at a band's centre
//! reads -3.01 dB in that band.
//!
//! # Channels and determinism
//! The LFE channel of a 6-channel file is not measured (BS.1770 excludes it); the sample
//! peak still includes it, since an over on any channel is an over. Sums are kept per
//! channel in sample order inside 10 ms sub-blocks anchored at sample 0 and added into
//! the totals at sub-block ends, in channel order: bit-identical results for any block
//! split, and partial sums that keep float64 precision over hours of audio.

use crate::math;

/// Nominal labels and exact mid-band frequencies of the ten octave bands.
pub const OCTAVE_BANDS: [(&str, f64); 10] = [
    ("31.5", 31.622_776_601_683_793),
    ("63", 63.095_734_448_019_33),
    ("125", 125.892_541_179_416_72),
    ("250", 251.188_643_150_958_02),
    ("500", 501.187_233_627_272_3),
    ("1000", 1_000.0),
    ("2000", 1_995.262_314_968_879_5),
    ("4000", 3_981.071_705_534_973),
    ("8000", 7_943.282_347_242_814),
    ("16000", 15_848.931_924_611_135),
];
const BANDS: usize = OCTAVE_BANDS.len();
/// Biquad sections per band.
const SECTIONS: usize = 3;
/// Highest upper band edge, as a fraction of the sample rate.
const EDGE_LIMIT: f64 = 0.49;
/// Highest lower band edge of a measured band, as a fraction of the sample rate.
const LOWER_EDGE_LIMIT: f64 = 0.45;

/// The levels of a file, linear or in dB; `None` where undefined (silence, no frames).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelsReport {
    /// `max |x|` over every channel (LFE included), dBFS.
    pub sample_peak_dbfs: Option<f64>,
    /// RMS over the measured channels' samples, dBFS (a 0 dBFS sine reads -3.01).
    pub rms_dbfs: Option<f64>,
    /// Peak of the measured channels over their RMS, dB.
    pub crest_db: Option<f64>,
    /// `sum(L R) / sqrt(sum(L^2) sum(R^2))` of the first two channels, -1..1; `None` for
    /// mono or when either channel is silent.
    pub correlation: Option<f64>,
    /// The mean (DC) of the measured channel whose mean is largest in magnitude, signed,
    /// linear full scale; `None` for no frames.
    pub dc_offset: Option<f64>,
    /// Level per octave band (in [`OCTAVE_BANDS`] order), dB re full scale.
    pub octave_bands_db: [Option<f64>; BANDS],
}

/// The band-pass filters of all bands, laid out band-minor so that the per-sample loop
/// over bands vectorises (the result does not depend on it: no fused operations). Band
/// `b` is `gain[b] * prod_s (1 - z^-2) / (1 + a1[s][b] z^-1 + a2[s][b] z^-2)`; an inactive
/// band has gain 0.
#[derive(Debug, Clone, Copy)]
struct Bank {
    gain: [f64; BANDS],
    a1: [[f64; BANDS]; SECTIONS],
    a2: [[f64; BANDS]; SECTIONS],
}

#[derive(Debug, Clone, Copy, Default)]
struct BandState {
    z1: [[f64; BANDS]; SECTIONS],
    z2: [[f64; BANDS]; SECTIONS],
}

/// Per-channel sums of one sub-block or of the whole file.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    sum: f64,
    square: f64,
    bands: [f64; BANDS],
}

/// Streaming levels of a 1-, 2-, 5- or 6-channel signal. Never allocates after `new`.
#[derive(Debug, Clone)]
pub(crate) struct Levels {
    /// Per channel: measured (false for the LFE).
    measured: Vec<bool>,
    bank: Bank,
    /// Which bands exist at this rate.
    active: [bool; BANDS],
    /// Whether the octave bands are filtered at all (see `without_octave_bands`).
    octaves: bool,
    state: Vec<BandState>,
    /// Current sub-block sums and file totals, per channel.
    part: Vec<Sums>,
    total: Vec<Sums>,
    /// Sum of L R: sub-block and total.
    cross_part: f64,
    cross_total: f64,
    peak_all: f64,
    peak_measured: f64,
    frames: u64,
}

impl Levels {
    /// `measured[c]` says whether channel `c` counts (the LFE does not).
    pub(crate) fn new(sample_rate: u32, measured: Vec<bool>) -> Self {
        let (bank, active) = design_bands(f64::from(sample_rate));
        let n = measured.len();
        Self {
            measured,
            bank,
            active,
            octaves: true,
            state: vec![BandState::default(); n],
            part: vec![Sums::default(); n],
            total: vec![Sums::default(); n],
            cross_part: 0.0,
            cross_total: 0.0,
            peak_all: 0.0,
            peak_measured: 0.0,
            frames: 0,
        }
    }

    /// Leaves the octave bands out (their filter bank is most of the cost of the levels):
    /// every band then reports `None`; the other figures are unchanged.
    pub(crate) fn without_octave_bands(&mut self) {
        self.octaves = false;
    }

    pub(crate) fn reset(&mut self) {
        self.state.fill(BandState::default());
        self.part.fill(Sums::default());
        self.total.fill(Sums::default());
        self.cross_part = 0.0;
        self.cross_total = 0.0;
        self.peak_all = 0.0;
        self.peak_measured = 0.0;
        self.frames = 0;
    }

    /// Adds a stretch of frames that lies inside one sub-block.
    pub(crate) fn process(&mut self, channels: &[&[f64]]) {
        // `while` loops over slices: fast in unoptimised (test) builds too.
        for (c, x) in channels.iter().enumerate() {
            let x: &[f64] = x;
            let p = &mut self.part[c];
            let (mut peak, mut sum, mut square) = (0.0f64, p.sum, p.square);
            let mut i = 0;
            while i < x.len() {
                let v = x[i];
                peak = peak.max(v.abs());
                sum += v;
                square += v * v;
                i += 1;
            }
            self.peak_all = self.peak_all.max(peak);
            if !self.measured[c] {
                continue;
            }
            (p.sum, p.square) = (sum, square);
            self.peak_measured = self.peak_measured.max(peak);
            if self.octaves {
                filter_bands(&self.bank, &mut self.state[c], &mut p.bands, x);
            }
        }
        if channels.len() >= 2 {
            let (l, r) = (channels[0], channels[1]);
            let mut cross = self.cross_part;
            let mut i = 0;
            while i < l.len() {
                cross += l[i] * r[i];
                i += 1;
            }
            self.cross_part = cross;
        }
        self.frames += channels.first().map_or(0, |c| c.len() as u64);
    }

    /// Folds the sub-block's partial sums into the totals.
    pub(crate) fn end_hop(&mut self) {
        for (t, p) in self.total.iter_mut().zip(self.part.iter_mut()) {
            t.sum += p.sum;
            t.square += p.square;
            for (tb, pb) in t.bands.iter_mut().zip(p.bands) {
                *tb += pb;
            }
            *p = Sums::default();
        }
        self.cross_total += self.cross_part;
        self.cross_part = 0.0;
    }

    /// Channel `c`'s sums so far, the unfinished sub-block included.
    fn sums(&self, c: usize) -> Sums {
        let (t, p) = (&self.total[c], &self.part[c]);
        let mut bands = t.bands;
        for (b, pb) in bands.iter_mut().zip(p.bands) {
            *b += pb;
        }
        Sums {
            sum: t.sum + p.sum,
            square: t.square + p.square,
            bands,
        }
    }

    /// The levels so far (reads without changing anything; no allocation).
    pub(crate) fn report(&self) -> LevelsReport {
        let measured = || (0..self.measured.len()).filter(|&c| self.measured[c]);
        let n_measured = measured().count();
        let samples = self.frames as f64 * n_measured as f64;
        let power_db = |e: f64| (e > 0.0).then(|| 10.0 * math::log10(e));

        let square: f64 = measured().map(|c| self.sums(c).square).sum();
        let mean_square = if samples > 0.0 { square / samples } else { 0.0 };
        let rms = math::sqrt(mean_square);
        let crest_db = if rms > 0.0 {
            math::gain_to_db(self.peak_measured / rms)
        } else {
            None
        };
        let correlation = if self.measured.len() >= 2 {
            let d = math::sqrt(self.sums(0).square * self.sums(1).square);
            let cross = self.cross_total + self.cross_part;
            (d > 0.0).then(|| (cross / d).clamp(-1.0, 1.0))
        } else {
            None
        };
        let dc_offset = (self.frames > 0).then(|| {
            measured()
                .map(|c| self.sums(c).sum / self.frames as f64)
                .fold(
                    0.0f64,
                    |best, m| if m.abs() > best.abs() { m } else { best },
                )
        });
        let mut octave_bands_db = [None; BANDS];
        for (b, out) in octave_bands_db.iter_mut().enumerate() {
            if self.octaves && self.active[b] && samples > 0.0 {
                let e: f64 = measured().map(|c| self.sums(c).bands[b]).sum();
                *out = power_db(e / samples);
            }
        }
        LevelsReport {
            sample_peak_dbfs: math::gain_to_db(self.peak_all),
            rms_dbfs: math::gain_to_db(rms),
            crest_db,
            correlation,
            dc_offset,
            octave_bands_db,
        }
    }
}

/// Runs `x` through every band's three sections and adds each band's sum of squares.
/// Plain `while` loops: unlike iterator adaptors they stay fast in unoptimised (test)
/// builds, and they compile to the same vector code.
#[inline]
fn filter_bands(bank: &Bank, state: &mut BandState, sums: &mut [f64; BANDS], x: &[f64]) {
    let mut st = *state;
    let mut acc = *sums;
    let mut i = 0;
    while i < x.len() {
        let mut y = [0.0; BANDS];
        let mut b = 0;
        while b < BANDS {
            y[b] = bank.gain[b] * x[i];
            b += 1;
        }
        let mut s = 0;
        while s < SECTIONS {
            let (a1, a2) = (&bank.a1[s], &bank.a2[s]);
            let (z1, z2) = (&mut st.z1[s], &mut st.z2[s]);
            let mut b = 0;
            while b < BANDS {
                // Transposed direct form II with b = [1, 0, -1].
                let input = y[b];
                let out = input + z1[b];
                z1[b] = z2[b] - a1[b] * out;
                z2[b] = -input - a2[b] * out;
                y[b] = out;
                b += 1;
            }
            s += 1;
        }
        let mut b = 0;
        while b < BANDS {
            acc[b] += y[b] * y[b];
            b += 1;
        }
        i += 1;
    }
    *state = st;
    *sums = acc;
}

/// A complex number, for the filter design only.
#[derive(Debug, Clone, Copy)]
struct C {
    re: f64,
    im: f64,
}

impl C {
    const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }
    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }
    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    fn scale(self, k: f64) -> Self {
        Self::new(self.re * k, self.im * k)
    }
    fn div(self, o: Self) -> Self {
        let d = o.re * o.re + o.im * o.im;
        Self::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
    fn abs(self) -> f64 {
        math::sqrt(self.re * self.re + self.im * self.im)
    }
    /// Principal square root.
    fn sqrt(self) -> Self {
        let r = self.abs();
        let re = math::sqrt(0.5 * (r + self.re));
        let im = math::sqrt(0.5 * (r - self.re));
        Self::new(re, if self.im < 0.0 { -im } else { im })
    }
}

/// Poles of the order-3 Butterworth low-pass prototype (cut-off 1 rad/s).
fn prototype_poles() -> [C; 3] {
    let pole = |k: f64| {
        let theta = (2.0 * k - 1.0) * core::f64::consts::PI / 6.0;
        C::new(-math::sin(theta), math::cos(theta))
    };
    [pole(1.0), pole(2.0), pole(3.0)]
}

/// Pre-warped analog frequency (rad/s) of `f` for the bilinear transform `s = 2 fs (z - 1)/(z + 1)`.
fn warp(f: f64, fs: f64) -> f64 {
    2.0 * fs * math::tan(core::f64::consts::PI * f / fs)
}

/// Digital pole of the analog pole `s`: `z = (2 fs + s) / (2 fs - s)`.
fn bilinear(s: C, fs: f64) -> C {
    let k = C::new(2.0 * fs, 0.0);
    k.add(s).div(k.sub(s))
}

/// `|H(z)|` of a cascade of biquads, given `z^-1`.
fn magnitude(sections: &[(f64, f64, f64, f64, f64)], z1: C) -> f64 {
    let z2 = z1.mul(z1);
    let mut h = C::new(1.0, 0.0);
    for &(b0, b1, b2, a1, a2) in sections {
        let num = C::new(b0, 0.0).add(z1.scale(b1)).add(z2.scale(b2));
        let den = C::new(1.0, 0.0).add(z1.scale(a1)).add(z2.scale(a2));
        h = h.mul(num.div(den));
    }
    h.abs()
}

/// The filters of every band at `fs`, and which bands exist.
fn design_bands(fs: f64) -> (Bank, [bool; BANDS]) {
    let mut bank = Bank {
        gain: [0.0; BANDS],
        a1: [[0.0; BANDS]; SECTIONS],
        a2: [[0.0; BANDS]; SECTIONS],
    };
    let mut active = [false; BANDS];
    let edge = math::pow(10.0, 0.15);
    for (b, &(_, fm)) in OCTAVE_BANDS.iter().enumerate() {
        let (f1, f2) = (fm / edge, (fm * edge).min(EDGE_LIMIT * fs));
        if f1 >= LOWER_EDGE_LIMIT * fs {
            continue;
        }
        let (gain, poles) = band_pass(f1, f2, fs);
        active[b] = true;
        bank.gain[b] = gain;
        for (s, (a1, a2)) in poles.into_iter().enumerate() {
            bank.a1[s][b] = a1;
            bank.a2[s][b] = a2;
        }
    }
    (bank, active)
}

/// Order-3 Butterworth band-pass between `f1` and `f2`: 6 poles in 3 conjugate pairs
/// `(a1, a2)`, each section with zeros at z = 1 and z = -1, and the gain that makes the
/// response 0 dB at the centre.
fn band_pass(f1: f64, f2: f64, fs: f64) -> (f64, [(f64, f64); SECTIONS]) {
    let (w1, w2) = (warp(f1, fs), warp(f2, fs));
    let w0 = math::sqrt(w1 * w2);
    let bw = w2 - w1;
    // Each prototype pole p gives the two roots of s^2 - p B s + w0^2 = 0. The complex
    // pole p1 gives r1, r2 (its conjugate p3 gives their conjugates): two sections
    // (r1, r1*) and (r2, r2*). The real pole p2 = -1 gives a conjugate pair for a narrow
    // band or two real poles for a wide one: one section (r3, r4) either way.
    let roots = |p: C| {
        let pb = p.scale(bw);
        let disc = pb.mul(pb).sub(C::new(4.0 * w0 * w0, 0.0)).sqrt();
        (
            bilinear(pb.add(disc).scale(0.5), fs),
            bilinear(pb.sub(disc).scale(0.5), fs),
        )
    };
    let conjugate_pair = |z: C| (-2.0 * z.re, z.re * z.re + z.im * z.im);
    let [p1, p2, _] = prototype_poles();
    let (z1, z2) = roots(p1);
    let (z3, z4) = roots(p2);
    let poles = [
        conjugate_pair(z1),
        conjugate_pair(z2),
        (-(z3.add(z4)).re, z3.mul(z4).re),
    ];
    // Butterworth is 0 dB at the analog centre j w0; the bilinear transform maps it to
    // z = (2 fs + j w0) / (2 fs - j w0) on the unit circle, where z^-1 is its conjugate.
    let zc = bilinear(C::new(0.0, w0), fs);
    let gain = 1.0 / magnitude(&sections(1.0, &poles), C::new(zc.re, -zc.im));
    (gain, poles)
}

/// The band-pass as general biquads `(b0, b1, b2, a1, a2)`, for evaluating its response.
fn sections(gain: f64, poles: &[(f64, f64); SECTIONS]) -> [(f64, f64, f64, f64, f64); SECTIONS] {
    let mut out = [(0.0, 0.0, 0.0, 0.0, 0.0); SECTIONS];
    for (i, (o, &(a1, a2))) in out.iter_mut().zip(poles).enumerate() {
        let g = if i == 0 { gain } else { 1.0 };
        *o = (g, 0.0, -g, a1, a2);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_at(secs: &[(f64, f64, f64, f64, f64)], f: f64, fs: f64) -> f64 {
        let w = 2.0 * core::f64::consts::PI * f / fs;
        20.0 * math::log10(magnitude(secs, C::new(math::cos(w), -math::sin(w))))
    }

    /// -3.01 dB at both edges, 0 dB at the pre-warped centre, ~-19.6 dB an octave away.
    #[test]
    fn band_pass_shape() {
        let fs = 48_000.0;
        let edge = math::pow(10.0, 0.15);
        for &(_, fm) in &OCTAVE_BANDS[..9] {
            let (f1, f2) = (fm / edge, fm * edge);
            let (gain, poles) = band_pass(f1, f2, fs);
            let secs = sections(gain, &poles);
            for f in [f1, f2] {
                let d = db_at(&secs, f, fs);
                assert!((d + 3.0103).abs() < 1e-6, "{fm}: edge {f} {d}");
            }
            let centre = db_at(&secs, fm, fs);
            assert!(centre.abs() < 0.05, "{fm}: centre {centre}");
            for f in [fm / 2.0, fm * 2.0] {
                let d = db_at(&secs, f, fs);
                assert!(d < -17.0, "{fm}: neighbour {f} {d}");
            }
        }
    }

    #[test]
    fn top_band_near_nyquist() {
        let (bank, active) = design_bands(44_100.0);
        assert!(active.iter().all(|&a| a));
        let (_, active) = design_bands(22_050.0);
        assert!(!active[9] && active[8]);
        // At 44.1 kHz the 16 kHz band runs from 11.2 kHz to 0.49 fs.
        let poles = [0, 1, 2].map(|s| (bank.a1[s][9], bank.a2[s][9]));
        let secs = sections(bank.gain[9], &poles);
        let edge = db_at(&secs, 11_220.18, 44_100.0);
        assert!((edge + 3.01).abs() < 0.01, "{edge}");
        assert!(db_at(&secs, 16_000.0, 44_100.0).abs() < 0.5);
    }
}
