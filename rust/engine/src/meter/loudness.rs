//! Loudness per ITU-R BS.1770-4 Annex 1 (K-weighting, channel weights, gating) with the
//! EBU Mode measures of EBU Tech 3341 (momentary, short-term, integrated) and the loudness
//! range of EBU Tech 3342.
//!
//! # K-weighting
//! Two biquads per channel: the BS.1770 pre-filter (a +4 dB high shelf, the head model) and
//! the RLB high-pass. At 48 kHz the coefficients are the standard's Tables 1 and 2, as
//! published. At other rates BS.1770 asks for "the same frequency response", so they are
//! derived the way libebur128 (and pyloudnorm's `DeMan` filter) derive them: from the analog
//! prototypes that reproduce the 48 kHz tables (shelf f0 = 1681.97 Hz, G = 4.0 dB,
//! Q = 0.7072; high-pass f0 = 38.135 Hz, Q = 0.5003), re-discretised with the pre-warped
//! bilinear transform `K = tan(pi f0 / fs)`. At 48 kHz that design equals the tables to
//! about 1e-15; at 44.1 kHz its response is within 0.005 dB of the 48 kHz one over
//! 20 Hz..20 kHz. Stage 2 keeps `b = [1, -2, 1]` (not gain-normalised): the -0.691 constant
//! absorbs the filter's gain at 997 Hz.
//!
//! # Blocks, hop and windows
//! The K-weighted mean squares are summed in *sub-blocks* of 10 ms anchored at sample 0
//! (sub-block `j` spans frames `round(j fs / 100) .. round((j + 1) fs / 100)`, half up,
//! which is exact for every common rate). All measures are built from whole sub-blocks:
//!
//! * momentary M: the last 40 sub-blocks (400 ms), updated every 10 ms;
//! * short-term S: the last 300 sub-blocks (3 s), updated every 10 ms;
//! * max M and max S: the maxima of those series over every full window, so the hop is
//!   10 ms, as Tech 3341 asks for file-based maxima (its burst offsets are multiples of
//!   20 ms and 150 ms, which the grid hits exactly);
//! * integrated I: gating blocks are M windows every 10th sub-block, i.e. 400 ms blocks with
//!   75 % overlap starting at sample 0, the trailing partial block dropped (BS.1770-4);
//!   absolute gate -70 LUFS, relative gate -10 LU;
//! * loudness range LRA (Tech 3342): every S value (10 ms hop, 100 per second; Tech 3342
//!   asks for at least 10), absolute gate -70 LUFS, relative gate -20 LU below the
//!   power mean, then the 95th minus the 10th percentile by nearest rank as in the Tech
//!   3342 reference code.
//!
//! # Memory
//! Constant for any input length (about 0.5 MB): a ring of the last 300 sub-block
//! energies and two histograms from -70 to +30 LUFS (libebur128's idea, finer), instead of
//! the growing lists of gating blocks (10 a second) and short-term values (100 a second):
//!
//! * gating blocks: 0.01 LU bins, each with its count and the exact sum of its blocks'
//!   energies. The power means are exact; the only approximation is that the bin holding
//!   the relative gate is kept or dropped whole (by its mean), and its blocks lie within
//!   0.01 LU of the gate, 10 LU under the result;
//! * short-term values: 0.005 LU bins, each with its count and the sum of its values, and
//!   one running energy sum for the relative gate. A percentile reads the mean of its bin,
//!   within 0.005 LU of the exact value (exact when the bin holds equal values, as for
//!   the steady tones of Tech 3342), so the LRA is within 0.01 LU of the exact one.
//!
//! Both are tested against a direct implementation that keeps and sorts every value.
//!
//! # Determinism
//! Sums run in a fixed order (per channel in sample order within a sub-block, then channels
//! in order), so the results are bit-identical for any split of the input into blocks.
//! `log10` and `pow` come from [`crate::math`] (libm).

use crate::math;

/// Bins per LU of the gating-block histogram (0.01 LU): only the bin holding the
/// relative gate is approximate, and it holds blocks within 0.01 LU of the gate.
const BLOCK_BINS_PER_LU: f64 = 100.0;
/// Bins per LU of the short-term histogram (0.005 LU): a percentile reads its bin's mean,
/// within 0.005 LU of the exact value, so the LRA is within 0.01 LU.
const SHORT_TERM_BINS_PER_LU: f64 = 200.0;

/// Sub-blocks per second: the hop of M, S and LRA is 10 ms.
pub const HOPS_PER_SECOND: u32 = 100;
/// Sub-blocks in a momentary window (400 ms).
const M_HOPS: usize = 40;
/// Sub-blocks in a short-term window (3 s).
const S_HOPS: usize = 300;
/// Sub-blocks between two gating blocks (100 ms, i.e. 75 % overlap of 400 ms blocks).
const GATE_STEP: u64 = 10;

/// BS.1770's offset: `L = -0.691 + 10 log10(sum G_i z_i)`.
const OFFSET: f64 = -0.691;
/// Absolute gate of BS.1770-4 and Tech 3342, LUFS.
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Relative gate of the integrated loudness, LU below the absolute-gated power mean.
pub const RELATIVE_GATE_LU: f64 = -10.0;
/// Relative gate of the loudness range (Tech 3342), LU.
pub const LRA_RELATIVE_GATE_LU: f64 = -20.0;
/// LRA percentiles (Tech 3342).
const LRA_LOW_PERCENTILE: f64 = 10.0;
const LRA_HIGH_PERCENTILE: f64 = 95.0;

/// The channel weights of BS.1770-4 Table 3 for a channel count mixrender measures, in
/// file order: mono; L, R; L, R, C, Ls, Rs; L, R, C, LFE, Ls, Rs. The LFE weighs 0 (not
/// measured); the surrounds 1.41 (+1.5 dB). `None` for other counts.
#[must_use]
pub fn channel_weights(channels: usize) -> Option<&'static [f64]> {
    match channels {
        1 => Some(&[1.0]),
        2 => Some(&[1.0, 1.0]),
        5 => Some(&[1.0, 1.0, 1.0, 1.41, 1.41]),
        6 => Some(&[1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),
        _ => None,
    }
}

/// Loudness of a weighted mean square: `-0.691 + 10 log10(e)`; `None` for 0 (silence).
#[must_use]
pub fn energy_to_lufs(e: f64) -> Option<f64> {
    (e > 0.0).then(|| OFFSET + 10.0 * math::log10(e))
}

/// The weighted mean square that reads `lufs`.
#[must_use]
pub fn lufs_to_energy(lufs: f64) -> f64 {
    math::pow(10.0, (lufs - OFFSET) / 10.0)
}

/// A biquad's coefficients, normalised (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// BS.1770-4 Table 1: the pre-filter (stage 1) at 48 kHz.
pub const STAGE1_48K: Coefficients = Coefficients {
    b0: 1.535_124_859_586_97,
    b1: -2.691_696_189_406_38,
    b2: 1.198_392_810_852_85,
    a1: -1.690_659_293_182_41,
    a2: 0.732_480_774_215_85,
};

/// BS.1770-4 Table 2: the RLB high-pass (stage 2) at 48 kHz.
pub const STAGE2_48K: Coefficients = Coefficients {
    b0: 1.0,
    b1: -2.0,
    b2: 1.0,
    a1: -1.990_047_454_833_98,
    a2: 0.990_072_250_366_21,
};

/// The K-weighting filter's two stages at `sample_rate`: the standard's tables at 48 kHz,
/// the analog prototypes through the pre-warped bilinear transform elsewhere (see the
/// module documentation).
#[must_use]
pub fn k_weighting(sample_rate: u32) -> [Coefficients; 2] {
    if sample_rate == 48_000 {
        return [STAGE1_48K, STAGE2_48K];
    }
    k_weighting_prototype(f64::from(sample_rate))
}

/// The prototype design at any rate (public so that its agreement with the 48 kHz tables
/// can be tested).
#[must_use]
pub fn k_weighting_prototype(fs: f64) -> [Coefficients; 2] {
    // Stage 1: high shelf.
    let f0 = 1_681.974_450_955_533;
    let gain_db = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = math::tan(core::f64::consts::PI * f0 / fs);
    let vh = math::pow(10.0, gain_db / 20.0);
    let vb = math::pow(vh, 0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Coefficients {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    // Stage 2: RLB high-pass, numerator left at [1, -2, 1] as in the standard's table.
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = math::tan(core::f64::consts::PI * f0 / fs);
    let a0 = 1.0 + k / q + k * k;
    let highpass = Coefficients {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, highpass]
}

/// Frame where sub-block `j` starts: `round(j fs / 100)`, half up.
pub(crate) fn hop_boundary(j: u64, sample_rate: u32) -> u64 {
    (2 * j * u64::from(sample_rate) + u64::from(HOPS_PER_SECOND)) / (2 * u64::from(HOPS_PER_SECOND))
}

/// A constant-memory histogram of loudness values (see the module documentation): bins of
/// `1 / per_lu` LU from the absolute gate (-70 LUFS) to +30 LUFS, louder values in the top
/// bin.
#[derive(Debug, Clone)]
struct Histogram {
    per_lu: f64,
    count: Vec<u64>,
    /// Per-bin sums of the values' weighted mean squares (empty when not kept).
    energy: Vec<f64>,
    /// Per-bin sums of the loudness values (empty when not kept).
    lufs: Vec<f64>,
    /// Count and energy sum of every value added, in arrival order.
    total_count: u64,
    total_energy: f64,
}

/// Lowest bin edge, LUFS (the absolute gate).
const HIST_LOW: f64 = ABSOLUTE_GATE_LUFS;
/// Top of the binned range, LUFS.
const HIST_HIGH: f64 = 30.0;

impl Histogram {
    /// Bins of `1 / per_lu` LU, keeping per-bin energy and/or loudness sums.
    fn new(per_lu: f64, energy: bool, lufs: bool) -> Self {
        let bins = ((HIST_HIGH - HIST_LOW) * per_lu).round() as usize;
        Self {
            per_lu,
            count: vec![0; bins],
            energy: if energy { vec![0.0; bins] } else { Vec::new() },
            lufs: if lufs { vec![0.0; bins] } else { Vec::new() },
            total_count: 0,
            total_energy: 0.0,
        }
    }

    fn clear(&mut self) {
        self.count.fill(0);
        self.energy.fill(0.0);
        self.lufs.fill(0.0);
        self.total_count = 0;
        self.total_energy = 0.0;
    }

    /// Bin of a loudness value (clamped into range).
    fn bin(&self, lufs: f64) -> usize {
        let x = ((lufs - HIST_LOW) * self.per_lu).floor();
        let top = self.count.len() - 1;
        if x <= 0.0 {
            0
        } else if x >= top as f64 {
            top
        } else {
            // In range and integral: the conversion is exact.
            x as usize
        }
    }

    fn add(&mut self, energy: f64, lufs: f64) {
        let b = self.bin(lufs);
        self.count[b] += 1;
        if !self.energy.is_empty() {
            self.energy[b] += energy;
        }
        if !self.lufs.is_empty() {
            self.lufs[b] += lufs;
        }
        self.total_count += 1;
        self.total_energy += energy;
    }

    /// Power mean of everything added, as loudness; `None` when empty.
    fn mean_lufs(&self) -> Option<f64> {
        if self.total_count == 0 {
            return None;
        }
        energy_to_lufs(self.total_energy / self.total_count as f64)
    }

    /// First bin kept by a relative gate at `threshold` LUFS: every bin above the
    /// threshold's own is kept; that bin is kept whole when `keep(bin)` says so.
    fn gate_start(&self, threshold: f64, keep: impl Fn(usize) -> bool) -> usize {
        if threshold < HIST_LOW {
            return 0;
        }
        let b = self.bin(threshold);
        if self.count[b] > 0 && keep(b) {
            b
        } else {
            b + 1
        }
    }

    /// Mean loudness of bin `b` (which must hold values and keep loudness sums).
    fn bin_lufs(&self, b: usize) -> f64 {
        self.lufs[b] / self.count[b] as f64
    }

    /// Mean energy of bin `b` (which must hold values and keep energy sums).
    fn bin_energy(&self, b: usize) -> f64 {
        self.energy[b] / self.count[b] as f64
    }
}

/// Streaming BS.1770-4 / EBU Mode loudness of a 1-, 2-, 5- or 6-channel signal.
///
/// `process` takes planar blocks of any size and never allocates; the results are
/// bit-identical for any split of the input. Memory is constant (about 0.5 MB, mostly
/// the two histograms, allocated in `new`).
#[derive(Debug, Clone)]
pub struct Loudness {
    sample_rate: u32,
    weights: &'static [f64],
    stages: [Coefficients; 2],
    /// Per channel: TDF-II states `[s1z1, s1z2, s2z1, s2z2]`.
    state: Vec<[f64; 4]>,
    /// Per channel: sum of squares of the K-weighted signal in the current sub-block.
    acc: Vec<f64>,
    /// Frames seen.
    pos: u64,
    /// Index of the current sub-block and the frame where it ends.
    hop: u64,
    hop_end: u64,
    /// Ring of the last `S_HOPS` finished sub-blocks: weighted energy sum and frame count.
    ring_energy: [f64; S_HOPS],
    ring_frames: [u64; S_HOPS],
    /// Momentary and short-term weighted mean squares at the last hop (if a full window).
    momentary: Option<f64>,
    short_term: Option<f64>,
    max_momentary: Option<f64>,
    max_short_term: Option<f64>,
    /// Gating blocks above the absolute gate.
    blocks: Histogram,
    /// Short-term values at or above the absolute gate.
    short_terms: Histogram,
}

impl Loudness {
    /// A loudness meter for `channels` (1, 2, 5 or 6, see [`channel_weights`]) at
    /// `sample_rate` Hz; `None` for another channel count or a rate below 8 kHz.
    /// Allocates its state and histograms here, once.
    #[must_use]
    pub fn new(sample_rate: u32, channels: usize) -> Option<Self> {
        let weights = channel_weights(channels)?;
        if sample_rate < 8_000 {
            return None;
        }
        Some(Self {
            sample_rate,
            weights,
            stages: k_weighting(sample_rate),
            state: vec![[0.0; 4]; channels],
            acc: vec![0.0; channels],
            pos: 0,
            hop: 0,
            hop_end: hop_boundary(1, sample_rate),
            ring_energy: [0.0; S_HOPS],
            ring_frames: [0; S_HOPS],
            momentary: None,
            short_term: None,
            max_momentary: None,
            max_short_term: None,
            blocks: Histogram::new(BLOCK_BINS_PER_LU, true, false),
            short_terms: Histogram::new(SHORT_TERM_BINS_PER_LU, false, true),
        })
    }

    /// Back to the state of `new`, without allocating.
    pub fn reset(&mut self) {
        self.state.fill([0.0; 4]);
        self.acc.fill(0.0);
        self.pos = 0;
        self.hop = 0;
        self.hop_end = hop_boundary(1, self.sample_rate);
        self.ring_energy = [0.0; S_HOPS];
        self.ring_frames = [0; S_HOPS];
        self.momentary = None;
        self.short_term = None;
        self.max_momentary = None;
        self.max_short_term = None;
        self.blocks.clear();
        self.short_terms.clear();
    }

    /// Number of channels measured (including an LFE, which weighs 0).
    #[must_use]
    pub fn channels(&self) -> usize {
        self.weights.len()
    }

    /// Frames seen so far.
    #[must_use]
    pub const fn frames(&self) -> u64 {
        self.pos
    }

    /// Finished 10 ms sub-blocks so far; M and S are updated when it grows.
    #[must_use]
    pub const fn hops(&self) -> u64 {
        self.hop
    }

    /// Feeds the next frames, planar: one slice per channel, all the same length.
    ///
    /// # Panics
    /// If the number of slices is not the meter's channel count or their lengths differ.
    pub fn process(&mut self, channels: &[&[f64]]) {
        assert_eq!(channels.len(), self.weights.len(), "channel count");
        let n = channels.first().map_or(0, |c| c.len());
        assert!(
            channels.iter().all(|c| c.len() == n),
            "channel lengths differ"
        );
        let mut i = 0;
        while i < n {
            let left = usize::try_from(self.hop_end - self.pos).unwrap_or(usize::MAX);
            let take = left.min(n - i);
            for (c, x) in channels.iter().enumerate() {
                if self.weights[c] != 0.0 {
                    k_filter(
                        &self.stages,
                        &mut self.state[c],
                        &mut self.acc[c],
                        &x[i..i + take],
                    );
                }
            }
            i += take;
            self.pos += take as u64;
            if self.pos == self.hop_end {
                self.end_hop();
            }
        }
    }

    /// Closes the current sub-block: updates M, S, their maxima and the histograms.
    fn end_hop(&mut self) {
        let mut e = 0.0;
        for (w, acc) in self.weights.iter().zip(self.acc.iter_mut()) {
            e += w * *acc;
            *acc = 0.0;
        }
        let start = hop_boundary(self.hop, self.sample_rate);
        let slot = usize::try_from(self.hop % S_HOPS as u64).unwrap_or(0);
        self.ring_energy[slot] = e;
        self.ring_frames[slot] = self.hop_end - start;
        self.hop += 1;
        self.hop_end = hop_boundary(self.hop + 1, self.sample_rate);

        if self.hop >= M_HOPS as u64 {
            let m = self.window(M_HOPS);
            self.momentary = Some(m);
            self.max_momentary = Some(self.max_momentary.map_or(m, |x| x.max(m)));
            if (self.hop - M_HOPS as u64) % GATE_STEP == 0 {
                if let Some(l) = energy_to_lufs(m) {
                    if l > ABSOLUTE_GATE_LUFS {
                        self.blocks.add(m, l);
                    }
                }
            }
        }
        if self.hop >= S_HOPS as u64 {
            let s = self.window(S_HOPS);
            self.short_term = Some(s);
            self.max_short_term = Some(self.max_short_term.map_or(s, |x| x.max(s)));
            if let Some(l) = energy_to_lufs(s) {
                if l >= ABSOLUTE_GATE_LUFS {
                    self.short_terms.add(s, l);
                }
            }
        }
    }

    /// Weighted mean square of the last `hops` sub-blocks, summed oldest first.
    fn window(&self, hops: usize) -> f64 {
        let mut e = 0.0;
        let mut frames = 0u64;
        for k in (1..=hops as u64).rev() {
            let slot = usize::try_from((self.hop - k) % S_HOPS as u64).unwrap_or(0);
            e += self.ring_energy[slot];
            frames += self.ring_frames[slot];
        }
        e / frames as f64
    }

    /// Momentary loudness (LUFS) of the last full 400 ms window on the 10 ms grid; `None`
    /// before 400 ms or for silence.
    #[must_use]
    pub fn momentary(&self) -> Option<f64> {
        self.momentary.and_then(energy_to_lufs)
    }

    /// Short-term loudness (LUFS) of the last full 3 s window on the 10 ms grid; `None`
    /// before 3 s or for silence.
    #[must_use]
    pub fn short_term(&self) -> Option<f64> {
        self.short_term.and_then(energy_to_lufs)
    }

    /// Largest momentary loudness over every full window (10 ms hop), LUFS.
    #[must_use]
    pub fn max_momentary(&self) -> Option<f64> {
        self.max_momentary.and_then(energy_to_lufs)
    }

    /// Largest short-term loudness over every full window (10 ms hop), LUFS.
    #[must_use]
    pub fn max_short_term(&self) -> Option<f64> {
        self.max_short_term.and_then(energy_to_lufs)
    }

    /// Integrated loudness (BS.1770-4 gating), LUFS; `None` when no 400 ms block is above
    /// the absolute gate (silence, or less than 400 ms of input).
    #[must_use]
    pub fn integrated(&self) -> Option<f64> {
        let h = &self.blocks;
        let threshold = h.mean_lufs()? + RELATIVE_GATE_LU;
        let from = h.gate_start(threshold, |b| {
            energy_to_lufs(h.bin_energy(b)).is_some_and(|l| l > threshold)
        });
        let n: u64 = h.count[from..].iter().sum();
        let e: f64 = h.energy[from..].iter().sum();
        if n == 0 {
            return None;
        }
        energy_to_lufs(e / n as f64)
    }

    /// Loudness range (EBU Tech 3342), LU; `None` when no short-term value is above the
    /// absolute gate (silence, or less than 3 s of input). A steady signal reads 0.
    #[must_use]
    pub fn loudness_range(&self) -> Option<f64> {
        let h = &self.short_terms;
        let threshold = h.mean_lufs()? + LRA_RELATIVE_GATE_LU;
        let from = h.gate_start(threshold, |b| h.bin_lufs(b) >= threshold);
        let n: u64 = h.count[from..].iter().sum();
        if n == 0 {
            return None;
        }
        let low = percentile(h, from, n, LRA_LOW_PERCENTILE);
        let high = percentile(h, from, n, LRA_HIGH_PERCENTILE);
        Some(high - low)
    }
}

/// The `p`th percentile of the `n` values in bins `from..` of `h`, by nearest rank as the
/// Tech 3342 reference code takes it: the value of 1-based rank `round((n - 1) p / 100 + 1)`,
/// read as the mean of its bin.
fn percentile(h: &Histogram, from: usize, n: u64, p: f64) -> f64 {
    let rank = ((n - 1) as f64 * p / 100.0 + 1.0).round();
    let mut seen = 0u64;
    let mut last = from;
    for b in from..h.count.len() {
        if h.count[b] == 0 {
            continue;
        }
        seen += h.count[b];
        last = b;
        if seen as f64 >= rank {
            break;
        }
    }
    h.bin_lufs(last)
}

/// K-weights `x` through both stages (TDF-II, float64 state) and adds the squares of the
/// output to `sum` one by one, in sample order, so that the sum does not depend on how the
/// input was split into blocks. A plain `while` loop stays fast in unoptimised builds.
#[inline]
fn k_filter(stages: &[Coefficients; 2], state: &mut [f64; 4], sum: &mut f64, x: &[f64]) {
    let [s1, s2] = stages;
    let [mut a, mut b, mut c, mut d] = *state;
    let mut acc = *sum;
    let mut i = 0;
    while i < x.len() {
        let v = x[i];
        let y1 = s1.b0 * v + a;
        a = s1.b1 * v - s1.a1 * y1 + b;
        b = s1.b2 * v - s1.a2 * y1;
        let y2 = s2.b0 * y1 + c;
        c = s2.b1 * y1 - s2.a1 * y2 + d;
        d = s2.b2 * y1 - s2.a2 * y2;
        acc += y2 * y2;
        i += 1;
    }
    *state = [a, b, c, d];
    *sum = acc;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Coefficients, b: Coefficients, tol: f64) {
        for (x, y) in [
            (a.b0, b.b0),
            (a.b1, b.b1),
            (a.b2, b.b2),
            (a.a1, b.a1),
            (a.a2, b.a2),
        ] {
            assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
        }
    }

    /// The prototype design reproduces the standard's 48 kHz tables.
    #[test]
    fn prototype_matches_the_48k_tables() {
        let [s1, s2] = k_weighting_prototype(48_000.0);
        close(s1, STAGE1_48K, 1e-13);
        close(s2, STAGE2_48K, 1e-13);
    }

    /// ... and the published 44.1 kHz values of the same design.
    #[test]
    fn prototype_at_44k1() {
        let [s1, s2] = k_weighting(44_100);
        let want1 = Coefficients {
            b0: 1.530_841_230_050_35,
            b1: -2.650_979_995_154_73,
            b2: 1.169_079_079_921_59,
            a1: -1.663_655_113_256_02,
            a2: 0.712_595_428_073_23,
        };
        let want2 = Coefficients {
            b0: 1.0,
            b1: -2.0,
            b2: 1.0,
            a1: -1.989_169_673_629_80,
            a2: 0.989_199_035_787_04,
        };
        close(s1, want1, 1e-13);
        close(s2, want2, 1e-13);
    }

    #[test]
    fn hop_boundaries_round_half_up() {
        assert_eq!(hop_boundary(1, 48_000), 480);
        assert_eq!(hop_boundary(1, 44_100), 441);
        assert_eq!(hop_boundary(1, 22_050), 221); // 220.5 -> 221
        assert_eq!(hop_boundary(2, 22_050), 441);
    }

    #[test]
    fn histogram_bins() {
        let h = Histogram::new(100.0, true, false);
        assert_eq!(h.count.len(), 10_000);
        assert_eq!(h.bin(-70.0), 0);
        assert_eq!(h.bin(-69.995), 0);
        assert_eq!(h.bin(-69.985), 1);
        assert_eq!(h.bin(-23.0), 4700);
        assert_eq!(h.bin(100.0), 9_999);
        let h = Histogram::new(200.0, false, true);
        assert_eq!(h.count.len(), 20_000);
        assert_eq!(h.bin(-69.996), 0);
        assert_eq!(h.bin(-69.994), 1);
    }

    #[test]
    fn silence_is_none() {
        let mut m = Loudness::new(48_000, 2).unwrap();
        let z = vec![0.0; 48_000 * 4];
        m.process(&[&z, &z]);
        assert_eq!(m.integrated(), None);
        assert_eq!(m.loudness_range(), None);
        assert_eq!(m.momentary(), None);
        assert_eq!(m.max_short_term(), None);
        assert_eq!(m.hops(), 400);
    }

    #[test]
    fn channel_counts() {
        assert!(Loudness::new(48_000, 3).is_none());
        assert!(Loudness::new(48_000, 0).is_none());
        assert!(Loudness::new(4_000, 2).is_none());
        assert_eq!(Loudness::new(44_100, 6).unwrap().channels(), 6);
    }
}
