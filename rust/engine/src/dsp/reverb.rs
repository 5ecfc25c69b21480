//! `reverb`: a 16-line feedback delay network after J.-M. Jot and A. Chaigne, "Digital delay
//! networks for designing artificial reverberators", 90th AES Convention, preprint 3030,
//! 1991 (and J. O. Smith, *Physical Audio Signal Processing*, 2010, "Feedback Delay
//! Networks"), fed through the input diffusers of J. Dattorro, "Effect Design, Part 1",
//! JAES 45(9), 1997.
//!
//! Signal flow, per frame:
//! 1. the input's mono sum `(L + R) / 2` (a mono input as it is) through the pre-delay,
//!    `round(predelay_ms / 1000 * fs)` frames;
//! 2. three Schroeder all-passes in series (Dattorro's 4.77, 3.60 and 12.73 ms, g 0.75,
//!    0.75, 0.625), then two in parallel (9.31 and 10.87 ms, g 0.625) for the left and
//!    right early signals `eL`, `eR`; `eL` feeds the network. Each all-pass's own ring is
//!    kept to at most half of `decay_s` (its g lowered for short decays), so a short decay
//!    is the network's and not the diffusers';
//! 3. the network: 16 lines of lengths `L_i`, each read `f_i = v_i[n - L_i]`, damped by its
//!    absorption filter `H_i`, mixed by the 16 x 16 Hadamard matrix divided by 4
//!    (orthogonal: lossless, every line feeds every other; a fast Walsh-Hadamard
//!    transform, 64 additions), and written back with the input: `v_i[n] = (A H f)_i +
//!    b_i eL / 2`, with `b` a bent sign pattern (its Hadamard transform is flat, so the
//!    input spreads over all lines at once and after each pass);
//! 4. out: `L = 0.33 sum(sL_i v_i[n - tL_i]) + eL / 4`, `R` the same with `sR`, `tR` and
//!    `eR`: each side reads every line at its own point inside it (`tL_i`, `tR_i` between
//!    0.3 and 0.9 of `L_i`), with orthogonal sign patterns `sL`, `sR` (uncorrelated left
//!    and right tails). Reading inside the lines rather than at their ends keeps the line
//!    lengths out of the tail's autocorrelation (0.1 instead of 0.19 at 4 s), and the
//!    early part makes the first wet frame land exactly on the pre-delay;
//! 5. `width` as mid/side width of the wet pair (`M + w S`, `M - w S`), then
//!    `(1 - mix) dry + mix wet`. A mono input leaves stereo.
//!
//! Computed a grid chunk at a time, stage by stage, with the bits of the frame-by-frame
//! order above: steps 1 and 2 (feed-forward) over the whole chunk, then the network. While
//! its lengths are settled, the network takes runs of up to 32 frames and at most the
//! shortest line, so that every line read of a run precedes the run's writes: the damping
//! filters frame by frame (a recursion in time, so vectorised across the lines), then the
//! Hadamard matrix and the input across the frames, the writes as one copy per line, the
//! taps across the frames. The lines are linear buffers, moved back to their starts when
//! full, so that a run reads and writes plain slices. While the lengths glide, the network
//! goes frame by frame, with fractional reads.
//!
//! Decay (Jot and Chaigne): line `i` loses `60 L_i / (fs decay_s)` dB per pass, `g_i =
//! gamma^L_i` with `gamma = 10^(-3 / (fs decay_s))`, so every mode of the network decays
//! at 60 dB per `decay_s`: `decay_s` is the RT60 it produces (at low and middle
//! frequencies; measured within 5 % in the 500 Hz and 1 kHz octaves at 0.5, 1.5 and 4 s).
//! Damping: `H_i(z) = c_i (1 - p_i) / (1 - p_i z^-1)`, with `p_i` chosen so that the line
//! loses exactly twice its low-frequency loss at `damping_hz`: the decay time at
//! `damping_hz` is half of `decay_s`, shorter above, close to `decay_s` an octave and more
//! below (solving `|H_i(w_d)| = g_i^2`: `p_i = 1 / (B + sqrt(B^2 - 1))`, `B = (1 - g_i^2
//! cos w_d) / (1 - g_i^2)`, capped at 0.99 and at `gamma^2`). The decay correction: `c_i =
//! g_i (1 - p_i / gamma) / (1 - p_i)` rather than `g_i`, because the filter also delays
//! (its weights `(1 - p) p^k` at `k` frames more): with that DC gain the delayed weights
//! lose `gamma` per frame too, and the low end decays at exactly `gamma` (without it a
//! short decay at a low rate rang 13 % long).
//!
//! Size: `L_i` is the smallest prime, distinct from the others, at or above `base_i (0.25 +
//! 0.75 size) fs`, with the `base_i` spread from 40 to 110 ms: 10 to 27 ms at size 0 (a
//! small room), 25 to 69 ms at 0.5, 40 to 110 ms at 1 (a hall); distinct primes share no
//! factor, so no two lines reinforce the same echoes. The sum of the lengths (0.70 s at
//! size 0.5) is the modal density in modes per Hz, above Schroeder's 0.15 RT60 for decays
//! up to 4.6 s.
//!
//! Automation: `decay_s`, `predelay_ms`, `size` and `damping_hz` are read on the control
//! grid; a change of the pre-delay or of the line lengths glides (see [`crate::dsp::ring`]),
//! so it never clicks; `width` and `mix` follow their lanes per frame. Deterministic: fixed
//! constants, no random numbers, no modulation; all maths through [`crate::math`]; the
//! output is bit-identical for any block size. Latency 0. Gain: with white noise in, the
//! wet level is the input's within 0.5 dB at the default decay (1.8 s, size 0.5), 2.5 dB
//! lower at 0.5 s and 2.2 dB higher at 4 s: a longer decay is louder, as a larger, more
//! reverberant room is.

use crate::dsp::allpass::Allpass;
use crate::dsp::delay::mix;
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::ring::{Glide, Ring, flush, read_frac};
use crate::dsp::{AudioBlock, Processor, apply_width};
use crate::math;
use crate::plan::{Lane, ReverbParams};

/// Lines in the network (a power of two, for the Hadamard matrix).
const N: usize = 16;

/// Line lengths at size 1, in ms: roughly geometric from 40 to 110 ms, nudged off exact
/// ratios (the prime rounding then makes them mutually prime).
const BASE_MS: [f64; N] = [
    40.1, 42.7, 46.1, 48.8, 52.9, 55.7, 60.3, 63.8, 69.1, 73.0, 78.9, 83.6, 90.4, 95.7, 103.2,
    109.6,
];

/// The input's signs into the lines: `(-1)^(i0 i1 + i2 i3)`, a bent function of the line
/// index's bits, whose Hadamard transform is flat (+-4).
const B_IN: [f64; N] = [
    1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0,
];

/// Output signs, left and right: orthogonal to each other (uncorrelated tails), equally
/// aligned with the input (`sL . b = sR . b = 4`) and with equal sums, so neither side
/// leads in level or low end.
const S_L: [f64; N] = [
    1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0,
];
const S_R: [f64; N] = [
    1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0,
];

/// Where the left and right outputs read each line, as fractions of its length: inside
/// the line, not at its end, so the signal a line passes on (at `L_i`) is not also what the
/// output heard `L_i` earlier; otherwise every line length shows in the tail's
/// autocorrelation (a faint comb). Spread over 0.3 .. 0.9 and different per side.
const TAP_L: [f64; N] = [
    0.31, 0.73, 0.52, 0.88, 0.44, 0.67, 0.36, 0.81, 0.59, 0.40, 0.77, 0.48, 0.84, 0.55, 0.34, 0.70,
];
const TAP_R: [f64; N] = [
    0.62, 0.41, 0.85, 0.33, 0.71, 0.50, 0.79, 0.38, 0.45, 0.87, 0.35, 0.66, 0.42, 0.75, 0.58, 0.47,
];

/// Gains: input into each line, each line's tap into the output, the early signal.
const IN_GAIN: f64 = 0.5;
const TAP_GAIN: f64 = 0.33;
const EARLY_GAIN: f64 = 0.25;

/// The input diffusers in series: (ms, g). Dattorro's 142, 107, 379 samples at 29761 Hz.
const DIFFUSERS: [(f64, f64); 3] = [(4.771, 0.75), (3.595, 0.75), (12.735, 0.625)];
/// The last diffuser, one per side: Dattorro's 277 samples on the left, 10.87 ms on the right.
const EARLY: [(f64, f64); 2] = [(9.307, 0.625), (10.87, 0.625)];

/// The damping filter's pole never exceeds this (its group delay at DC, `p / (1 - p)`,
/// stays under 100 frames).
const MAX_POLE: f64 = 0.99;

/// In-place fast Walsh-Hadamard transform of 16 values (Sylvester order), unnormalised.
#[inline(always)] // the body of a loop that vectorises across frames
fn hadamard(x: &mut [f64; N]) {
    let mut h = 1;
    while h < N {
        let mut i = 0;
        while i < N {
            for j in i..i + h {
                let (a, b) = (x[j], x[j + h]);
                x[j] = a + b;
                x[j + h] = a - b;
            }
            i += 2 * h;
        }
        h *= 2;
    }
}

/// `sum(s_i x_i)` as a pairwise tree (a fixed order: short dependency chains that the
/// compiler vectorises, where a running sum would wait on each addition).
#[inline]
fn signed_sum(x: &[f64; N], s: &[f64; N]) -> f64 {
    let mut p = [0.0; N];
    for ((p, x), s) in p.iter_mut().zip(x).zip(s) {
        *p = x * s;
    }
    let mut w = N / 2;
    while w > 0 {
        for i in 0..w {
            p[i] += p[i + w];
        }
        w /= 2;
    }
    p[0]
}

/// Frames `ms` long at `fs`, rounded (the spec's rule for a time).
#[inline]
fn frames(ms: f64, fs: f64) -> f64 {
    (ms / 1000.0 * fs).round()
}

// cast: short lengths
fn whole(frames: f64) -> usize {
    frames.max(1.0) as usize
}

/// The `reverb` insert. Latency 0; allocates in `prepare` (about 1.6 MB of lines at
/// 48 kHz), which must run before `process`; never after.
pub struct Reverb {
    decay_s: GridParam,
    predelay_ms: GridParam,
    size: GridParam,
    damping_hz: GridParam,
    width: Lane,
    mix: Lane,
    /// The longest pre-delay the lane asks for, in ms (sizes the pre-delay line).
    max_predelay_ms: f64,
    sample_rate: f64,
    pre: Ring,
    pre_glide: Glide,
    diffusers: [Allpass; 3],
    early: [Allpass; 2],
    /// The lines, one after the other, each `stride` frames: frame `k` of line `i` at
    /// `i stride + k`. Linear, not rings: the next write is at `w`, and when `w` nears the
    /// end of its line the last `hist` frames move back to its start ([`Reverb::make_room`]),
    /// so that a run's reads and writes are plain slices (no wrap, no index mask).
    lines: Vec<f64>,
    stride: usize,
    /// Frames kept behind `w`: the longest distance read, with the interpolator's
    /// neighbours.
    hist: usize,
    /// Index of the next write, in every line.
    w: usize,
    lens: [Glide; N],
    /// Every line is at its (whole) target length, held in `len`.
    settled: bool,
    len: [usize; N],
    /// The shortest of `len`: the longest run whose reads precede all of its writes.
    min_len: usize,
    /// Where the outputs read each line, left and right (frames back), when settled.
    tap: [[usize; N]; 2],
    /// Damping filters: `y = b x + p y[n-1]`, `b = c (1 - p)`.
    b: [f64; N],
    p: [f64; N],
    z: [f64; N],
    /// `is_prime[k]` for every candidate line length.
    is_prime: Vec<bool>,
    decay: f64,
    damping: f64,
    width_buf: [f64; GRID],
    mix_buf: [f64; GRID],
    /// A run's values written to the lines, line by line (`run[i][k]`: line `i`, frame `k`).
    run: [[f64; GRID]; N],
}

impl Reverb {
    #[must_use]
    pub fn new(p: &ReverbParams) -> Self {
        let max_predelay_ms = p
            .predelay_ms
            .points
            .iter()
            .map(|pt| pt.1)
            .fold(0.0, f64::max);
        Self {
            decay_s: GridParam::new(&p.decay_s),
            predelay_ms: GridParam::new(&p.predelay_ms),
            size: GridParam::new(&p.size),
            damping_hz: GridParam::new(&p.damping_hz),
            width: p.width.clone(),
            mix: p.mix.clone(),
            max_predelay_ms,
            sample_rate: 48000.0,
            pre: Ring::default(),
            pre_glide: Glide::new(48000.0),
            diffusers: Default::default(),
            early: Default::default(),
            lines: Vec::new(),
            stride: 0,
            hist: 0,
            w: 0,
            lens: [Glide::new(48000.0); N],
            settled: true,
            len: [1; N],
            min_len: 1,
            tap: [[1; N]; 2],
            b: [0.0; N],
            p: [0.0; N],
            z: [0.0; N],
            is_prime: Vec::new(),
            decay: 1.0,
            damping: 8000.0,
            width_buf: [0.0; GRID],
            mix_buf: [0.0; GRID],
            run: [[0.0; GRID]; N],
        }
    }

    fn invalidate(&mut self) {
        for p in [
            &mut self.decay_s,
            &mut self.predelay_ms,
            &mut self.size,
            &mut self.damping_hz,
        ] {
            p.invalidate();
        }
    }

    /// Line lengths for `size`: distinct primes at or above the scaled base lengths.
    fn targets(&self, size: f64) -> [f64; N] {
        let scale = 0.25 + 0.75 * size.clamp(0.0, 1.0);
        let top = self.is_prime.len() - 1;
        let mut used = [0usize; N];
        for i in 0..N {
            let mut k = whole(frames(BASE_MS[i] * scale, self.sample_rate)).min(top);
            while k < top && (!self.is_prime[k] || used[..i].contains(&k)) {
                k += 1;
            }
            used[i] = k;
        }
        // cast: lengths far below 2^53
        used.map(|k| k as f64)
    }

    /// Decay gains and damping poles for the current decay, damping and target lengths.
    fn design(&mut self) {
        let fs = self.sample_rate;
        let c = math::cos(core::f64::consts::TAU * self.damping.clamp(1.0, 0.49 * fs) / fs);
        // The decay per frame, gamma = 10^(-3 / (fs decay)).
        let gamma = math::exp(-3.0 * core::f64::consts::LN_10 / (fs * self.decay));
        for i in 0..N {
            let len = self.lens[i].target();
            let g = math::exp(-3.0 * core::f64::consts::LN_10 * len / (fs * self.decay));
            let g2 = g * g;
            // B - 1 and B + 1 directly, so that B^2 - 1 keeps its precision near B = 1.
            let bm1 = g2 * (1.0 - c) / (1.0 - g2);
            let b = 1.0 + bm1;
            // Below gamma^2, the filter's own memory dies out faster than the reverb.
            let p = (1.0 / (b + math::sqrt(bm1 * (b + 1.0))))
                .min(MAX_POLE)
                .min(gamma * gamma);
            self.p[i] = p;
            // The decay correction: g (1 - p/gamma) / (1 - p) at DC instead of g, so that
            // the filter's smear (its weights (1 - p) p^k at k frames of extra delay) loses
            // exactly gamma per frame too: with the plain g the low end would ring longer.
            self.b[i] = g * (1.0 - p / gamma);
        }
        // An all-pass rings on its own (g per pass of its length): never longer than half
        // the reverb's decay, so that a short decay_s is the network's, not the diffusers'.
        let shares = DIFFUSERS.iter().zip(self.diffusers.iter_mut());
        let early = EARLY.iter().zip(self.early.iter_mut());
        for (&(_, nominal), a) in shares.chain(early) {
            // cast: short lengths
            let len = a.len() as f64;
            let ring = math::exp(-6.0 * core::f64::consts::LN_10 * len / (fs * self.decay));
            a.set_gain(nominal.min(ring));
        }
    }

    /// Reads the grid keys at `grid`.
    fn update(&mut self, grid: i64) {
        let fs = self.sample_rate;
        if let (ms, true) = self.predelay_ms.at(grid) {
            self.pre_glide.set_target(frames(ms.max(0.0), fs));
        }
        let (size, size_changed) = self.size.at(grid);
        if size_changed {
            let t = self.targets(size);
            for (g, &t) in self.lens.iter_mut().zip(&t) {
                g.set_target(t);
            }
            self.settle();
        }
        let (decay, decay_changed) = self.decay_s.at(grid);
        let (damping, damping_changed) = self.damping_hz.at(grid);
        if size_changed || decay_changed || damping_changed {
            // The plan's range is 0.01 .. 60 s; the floor keeps the design finite.
            self.decay = decay.max(1e-3);
            self.damping = damping;
            self.design();
        }
    }

    /// Notes whether every line is at its target, and if so its whole length.
    fn settle(&mut self) {
        self.settled = self.lens.iter().all(Glide::settled);
        if self.settled {
            for (i, g) in self.lens.iter().enumerate() {
                let len = g.target();
                self.len[i] = whole(len);
                self.tap[0][i] = whole((TAP_L[i] * len).round());
                self.tap[1][i] = whole((TAP_R[i] * len).round());
            }
            self.min_len = self.len.iter().copied().min().unwrap_or(1);
        }
    }

    /// Moves the last `hist` frames of every line back to its start when fewer than
    /// [`GRID`] frames are left after `w` (about once per `hist` frames), so that a run of
    /// up to [`GRID`] frames, and a window of [`GRID`] frames read from before `w`, lie
    /// inside the line.
    #[inline]
    fn make_room(&mut self) {
        if self.w + GRID > self.stride {
            let (w, hist) = (self.w, self.hist);
            for line in self.lines.chunks_exact_mut(self.stride) {
                line.copy_within(w - hist..w, 0);
            }
            self.w = hist;
        }
    }

    /// One frame of the network for the input `u` while the lines glide (fractional
    /// reads): returns the taps `(L, R)`.
    fn glide_frame(&mut self, u: f64) -> (f64, f64) {
        self.make_room();
        let mut f = [0.0; N];
        let (mut l, mut r) = ([0.0; N], [0.0; N]);
        let (stride, w) = (self.stride, self.w);
        let lines = &self.lines;
        let at = |i: usize, back: usize| lines[i * stride + w - back];
        for i in 0..N {
            let d = self.lens[i].tick();
            f[i] = read_frac(d, |k| at(i, k));
            l[i] = read_frac((TAP_L[i] * d).max(1.0), |k| at(i, k));
            r[i] = read_frac((TAP_R[i] * d).max(1.0), |k| at(i, k));
        }
        self.settle();
        let mut f = damp(&f, &mut self.z, &self.b, &self.p);
        mix_in(&mut f, u);
        for (line, v) in self.lines.chunks_exact_mut(stride).zip(f) {
            line[w] = v;
        }
        self.w = w + 1;
        (
            TAP_GAIN * signed_sum(&l, &S_L),
            TAP_GAIN * signed_sum(&r, &S_R),
        )
    }

    /// The network over a run of `e.len() <= min(GRID, min_len)` frames of settled lines,
    /// the taps into `out_l`, `out_r`. Every line read of the run lies before its first
    /// write, so the run is computed a stage at a time, each stage a loop that vectorises
    /// (two lanes of f64): the damping filters (a recursion along the frames, so across
    /// the lines), the Hadamard matrix and the input (across the frames), the writes (a
    /// copy per line), the taps (across the frames); with the bits of the frame-by-frame
    /// order.
    fn settled_run(&mut self, e: &[f64], out_l: &mut [f64], out_r: &mut [f64]) {
        debug_assert!(self.settled && e.len() <= GRID && e.len() <= self.min_len);
        self.make_room();
        let n = e.len().min(GRID);
        let (stride, w) = (self.stride, self.w);
        let src = windows(&self.lines, stride, w, &self.len);
        let run = &mut self.run;
        // Local copies, which stay in registers (and aligned) through the loop.
        let (mut z, b, p) = (self.z, self.b, self.p);
        for k in 0..n {
            let y = damp(&core::array::from_fn(|i| src[i][k]), &mut z, &b, &p);
            for (r, y) in run.iter_mut().zip(y) {
                r[k] = y;
            }
        }
        self.z = z;
        for (k, &u) in e[..n].iter().enumerate() {
            let mut f = core::array::from_fn(|i| run[i][k]);
            mix_in(&mut f, u);
            for (r, f) in run.iter_mut().zip(f) {
                r[k] = f;
            }
        }
        for (line, r) in self.lines.chunks_exact_mut(stride).zip(&self.run) {
            line[w..w + n].copy_from_slice(&r[..n]);
        }
        // The taps, after the writes: a tap shorter than the run reads this run's frames.
        for ((out, back), sign) in [out_l, out_r].into_iter().zip(&self.tap).zip([&S_L, &S_R]) {
            let x = windows(&self.lines, stride, w, back);
            for (o, k) in out.iter_mut().zip(0..GRID) {
                *o = TAP_GAIN * signed_sum(&core::array::from_fn(|i| x[i][k]), sign);
            }
        }
        self.w = w + n;
    }

    /// The network over a chunk's early signal `e`: its taps into `out_l`, `out_r`.
    fn network(&mut self, e: &[f64], out_l: &mut [f64], out_r: &mut [f64]) {
        let mut k = 0;
        while k < e.len() {
            if self.settled {
                let end = e.len().min(k + self.min_len);
                self.settled_run(&e[k..end], &mut out_l[k..end], &mut out_r[k..end]);
                k = end;
            } else {
                (out_l[k], out_r[k]) = self.glide_frame(e[k]);
                k += 1;
            }
        }
    }
}

/// The [`GRID`] frames of every line of `lines` (each `stride` long) from `back[i]`
/// frames behind `w` on.
#[inline]
fn windows<'a>(
    lines: &'a [f64],
    stride: usize,
    w: usize,
    back: &[usize; N],
) -> [&'a [f64; GRID]; N] {
    core::array::from_fn(|i| {
        let at = i * stride + w - back[i];
        lines[at..at + GRID].try_into().expect("GRID frames")
    })
}

/// One frame's line outputs `x` through the damping filters (`y = b x + p y[n-1]`, states
/// `z`).
#[inline(always)] // the body of a loop that vectorises across lines
fn damp(x: &[f64; N], z: &mut [f64; N], b: &[f64; N], p: &[f64; N]) -> [f64; N] {
    for (((z, x), b), p) in z.iter_mut().zip(x).zip(b).zip(p) {
        *z = flush(b * x + p * *z);
    }
    *z
}

/// One frame's damped line outputs `f` through the Hadamard matrix over 4, with the input
/// `u` added: the values written back.
#[inline(always)] // the body of a loop that vectorises across frames
fn mix_in(f: &mut [f64; N], u: f64) {
    hadamard(f);
    let input = IN_GAIN * u;
    for (v, b) in f.iter_mut().zip(B_IN) {
        *v = 0.25 * *v + b * input;
    }
}

impl Processor for Reverb {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        let fs = sample_rate;
        self.sample_rate = fs;
        self.pre = Ring::new(whole(frames(self.max_predelay_ms.max(0.0), fs)) + 1);
        self.pre_glide = Glide::new(fs);
        self.diffusers = DIFFUSERS.map(|(ms, g)| Allpass::new(whole(frames(ms, fs)), g));
        self.early = EARLY.map(|(ms, g)| Allpass::new(whole(frames(ms, fs)), g));
        // Room above the longest base length for the search of distinct primes (prime gaps
        // below 10^6 are under 115 frames; the search passes a few of them at most).
        let top = whole(frames(BASE_MS[N - 1], fs)) + 1024;
        let mut is_prime = vec![true; top + 1];
        is_prime[0] = false;
        is_prime[1] = false;
        let mut k = 2;
        while k * k <= top {
            if is_prime[k] {
                (k * k..=top).step_by(k).for_each(|m| is_prime[m] = false);
            }
            k += 1;
        }
        self.is_prime = is_prime;
        // Distances up to `top`, with the interpolator's neighbours; moved back about once
        // per `hist` frames (one copy per frame and line on average).
        self.hist = top + 4;
        self.stride = 2 * self.hist + GRID;
        self.lines = vec![0.0; self.stride * N];
        self.lens = [Glide::new(fs); N];
        self.reset();
    }

    fn reset(&mut self) {
        self.pre.reset();
        self.pre_glide.reset();
        self.diffusers.iter_mut().for_each(Allpass::reset);
        self.early.iter_mut().for_each(Allpass::reset);
        self.lines.fill(0.0);
        self.w = self.hist;
        self.lens.iter_mut().for_each(Glide::reset);
        self.z = [0.0; N];
        // The glides take their next targets at once: read every grid key again.
        self.invalidate();
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let mono_in = block.channels == 1;
        for chunk in grid::chunks(block.start, block.len()) {
            self.update(chunk.grid);
            let n = chunk.len;
            let widths = grid::per_frame(&self.width, chunk.frame, &mut self.width_buf, n);
            let mixes = grid::per_frame(&self.mix, chunk.frame, &mut self.mix_buf, n);
            // The early signals, left and right, for the whole chunk (a feed-forward path).
            let (mut el, mut er) = ([0.0; GRID], [0.0; GRID]);
            let (el, er) = (&mut el[..n], &mut er[..n]);
            let (left, right) = (&block.left[chunk.range()], &block.right[chunk.range()]);
            if mono_in {
                el.copy_from_slice(left);
            } else {
                for ((u, l), r) in el.iter_mut().zip(left).zip(right) {
                    *u = 0.5 * (l + r);
                }
            }
            if self.pre_glide.settled() {
                // A whole number of frames for the whole chunk.
                self.pre.push_at(el, whole(self.pre_glide.target() + 1.0));
            } else {
                for u in el.iter_mut() {
                    self.pre.push(*u);
                    *u = self.pre.read(self.pre_glide.tick() + 1.0);
                }
            }
            for a in &mut self.diffusers {
                a.process(el);
            }
            er.copy_from_slice(el);
            self.early[0].process(el);
            self.early[1].process(er);
            // The wet signal, in place of the taps.
            let (mut wl, mut wr) = ([0.0; GRID], [0.0; GRID]);
            let (wl, wr) = (&mut wl[..n], &mut wr[..n]);
            self.network(el, wl, wr);
            for (w, e) in [(&mut *wl, &*el), (&mut *wr, &*er)] {
                w.iter_mut().zip(e).for_each(|(w, e)| *w += EARLY_GAIN * e);
            }
            let wet = wl.iter_mut().zip(wr.iter_mut());
            match widths {
                // Width 1 is the identity.
                Some(1.0) => {}
                Some(w) => wet.for_each(|(l, r)| apply_width(l, r, w)),
                None => {
                    for ((l, r), &w) in wet.zip(&self.width_buf) {
                        if w != 1.0 {
                            apply_width(l, r, w);
                        }
                    }
                }
            }
            let (left, right) = (
                &mut block.left[chunk.range()],
                &mut block.right[chunk.range()],
            );
            if mono_in {
                right.copy_from_slice(left);
            }
            for (x, w) in [(left, &*wl), (right, &*wr)] {
                match mixes {
                    Some(m) => x.iter_mut().zip(w).for_each(|(x, &w)| *x = mix(*x, w, m)),
                    None => {
                        for ((x, &w), &m) in x.iter_mut().zip(w).zip(&self.mix_buf) {
                            *x = mix(*x, w, m);
                        }
                    }
                }
            }
        }
        block.channels = 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hadamard_matrix_over_4_is_orthonormal() {
        let mut x = [0.0; N];
        x[3] = 1.0;
        hadamard(&mut x);
        assert!(x.iter().all(|v| v.abs() == 1.0));
        hadamard(&mut x);
        for (i, v) in x.iter().enumerate() {
            assert_eq!(*v / 16.0, if i == 3 { 1.0 } else { 0.0 });
        }
    }

    /// A prepared reverb, its grid keys read: settled lines.
    fn settled(size: f64, fs: f64) -> Reverb {
        let mut r = Reverb::new(&ReverbParams {
            name: "verb".into(),
            bypass: false,
            decay_s: Lane::constant(1.8),
            predelay_ms: Lane::constant(0.0),
            size: Lane::constant(size),
            damping_hz: Lane::constant(6000.0),
            width: Lane::constant(1.0),
            mix: Lane::constant(1.0),
        });
        r.prepare(fs, 64);
        r.update(0);
        assert!(r.settled);
        r
    }

    /// One frame of the settled network in the order of the signal flow: read every line
    /// and tap, filter, mix, write (the reference for the runs).
    fn settled_frame(r: &mut Reverb, u: f64) -> (f64, f64) {
        r.make_room();
        let (stride, w) = (r.stride, r.w);
        let at = |i: usize, back: usize| r.lines[i * stride + w - back];
        let f: [f64; N] = core::array::from_fn(|i| at(i, r.len[i]));
        let l: [f64; N] = core::array::from_fn(|i| at(i, r.tap[0][i]));
        let rr: [f64; N] = core::array::from_fn(|i| at(i, r.tap[1][i]));
        let mut f = damp(&f, &mut r.z, &r.b, &r.p);
        mix_in(&mut f, u);
        for (line, v) in r.lines.chunks_exact_mut(stride).zip(f) {
            line[w] = v;
        }
        r.w = w + 1;
        (
            TAP_GAIN * signed_sum(&l, &S_L),
            TAP_GAIN * signed_sum(&rr, &S_R),
        )
    }

    #[test]
    fn settled_runs_are_the_frame_by_frame_network_bit_for_bit() {
        // Sizes whose shortest line is shorter than the grid at 2 kHz (runs split), and
        // long enough at 48 kHz for the lines to move back to their starts several times.
        for (size, fs, frames) in [(0.0, 2000.0, 3000_u32), (0.5, 48000.0, 40_000)] {
            let (mut runs, mut frame) = (settled(size, fs), settled(size, fs));
            let e: Vec<f64> = (0..frames)
                .map(|n| {
                    if n % 997 < 3 {
                        1.0
                    } else {
                        f64::from(n % 7) * 0.01 - 0.03
                    }
                })
                .collect();
            let frames = e.len();
            // Chunks of varying length, as blocks would cut them.
            let mut at = 0;
            for len in [1, 5, 32, 17, 32, 2].into_iter().cycle() {
                let end = frames.min(at + len);
                let (mut l, mut r) = ([0.0; GRID], [0.0; GRID]);
                runs.network(&e[at..end], &mut l[..end - at], &mut r[..end - at]);
                for (k, u) in e[at..end].iter().enumerate() {
                    let (fl, fr) = settled_frame(&mut frame, *u);
                    assert_eq!(
                        (l[k].to_bits(), r[k].to_bits()),
                        (fl.to_bits(), fr.to_bits()),
                        "size {size}, frame {}",
                        at + k
                    );
                }
                at = end;
                if at == frames {
                    break;
                }
            }
            if fs == 2000.0 {
                assert!(runs.min_len < GRID, "the runs are not split");
            }
        }
    }

    #[test]
    fn sign_patterns_are_as_documented() {
        let dot = |a: &[f64; N], b: &[f64; N]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        assert_eq!(dot(&S_L, &S_R), 0.0);
        assert_eq!(dot(&S_L, &B_IN), 4.0);
        assert_eq!(dot(&S_R, &B_IN), 4.0);
        assert_eq!(S_L.iter().sum::<f64>(), S_R.iter().sum::<f64>());
        let mut h = B_IN;
        hadamard(&mut h);
        assert!(h.iter().all(|v| v.abs() == 4.0), "bent: {h:?}");
    }
}
