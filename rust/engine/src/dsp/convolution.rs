//! `convolution`: an impulse response applied by partitioned FFT convolution, with the
//! mix-format spec's `predelay_ms`, `gain_db` and `mix`.
//!
//! References: uniformly partitioned overlap-save convolution (UPOLS; F. Wefers,
//! *Partitioned convolution algorithms for real-time auralization*, 2015, §5.4), arranged
//! non-uniformly with a direct-form head after W. G. Gardner, "Efficient convolution
//! without input-output delay", JAES 43(3), 1995. The spec: the wet path is
//! `gain · (h * x)` delayed by `round(predelay_ms · fs / 1000)` frames, the output
//! `(1 - mix) · dry + mix · wet`, and the impulse response is used as it is (no
//! normalisation).
//!
//! # Partitioning
//! The impulse response `h` is cut into
//! * a **head**: taps `0 .. B` as a direct-form FIR, so the convolver has no latency;
//! * **levels** `j = 0, 1, ...` of partition size `N = B·8^j` (at most `max_partition`),
//!   level `j` starting at tap `N` and holding up to 7 partitions (`N .. 8N`); the last
//!   level holds as many as the rest of `h` needs. Each level is a UPOLS convolver with
//!   real FFTs of `2N` points: every `N` input frames it transforms the last `2N` inputs,
//!   multiplies the spectra of its input history (the frequency-domain delay line) by the
//!   partitions' spectra and transforms the sum back. Because a level starts `N` taps into
//!   `h`, a block of inputs completed at frame `t` only reaches the output from frame
//!   `t + 1` on: it is ready before it is due, and the whole convolver is latency-free.
//!
//! Per frame and output channel that costs `B` multiply-adds (the head), one complex
//! multiply-add per partition and two FFTs of `2N` points per `N` frames per level. The
//! engine uses `B = 32` and `max_partition = 32768`: a 3-second response at 48 kHz is 4
//! levels of 32, 256, 2048 and 16384 taps and 29 partitions (against 4500 partitions of 32
//! taps uniformly). Growth 8 and
//! these sizes were the fastest of the layouts measured by `benches/convolution.rs` (growth
//! 2, 4, 8, 16; heads 32 to 128); the differences between neighbours are small.
//!
//! # Determinism
//! The FFTs are the engine's own ([`crate::dsp::fft`]): scalar, power-of-two radix-4, with
//! every twiddle factor from [`crate::math`] (the `libm` crate), so the arithmetic is fixed
//! by the sizes alone and no bit depends on the CPU or the platform's maths library
//! (shared/design.md). Every
//! sum has a fixed order: the head's taps, then the levels in order, each summing its
//! partitions newest first. Partition boundaries are counted from the first frame
//! processed since `reset`, never from block edges, so the block size is never audible.
//! The normalisation `1 / 2N` of the inverse FFT is folded into the partitions' spectra;
//! `2N` is a power of two, so that scaling is exact.
//!
//! # Channels
//! A mono response on a stereo signal filters both channels; a stereo response on a mono
//! signal makes it stereo (`L = h_L * x`, `R = h_R * x`, and the block becomes stereo); a
//! stereo response on a stereo signal filters `L` with `h_L` and `R` with `h_R` (no cross
//! terms). The channel count of an insert's input is fixed for a render.

use std::sync::Arc;

use crate::dsp::fft::{Complex, RealFft};
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::error::{EngineError, Result};
use crate::math;
use crate::plan::{ConvolutionParams, Lane};
use crate::resample::Resampler;

/// Head length and first partition size of the engine's convolvers.
pub const DEFAULT_HEAD: usize = 32;
/// Largest partition of the engine's convolvers.
pub const DEFAULT_MAX_PARTITION: usize = 32768;
/// Largest `predelay_ms` (the spec's range).
pub const MAX_PREDELAY_MS: f64 = 1000.0;
/// Partitions per level plus one: the next level is this many times larger.
const GROWTH: usize = 8;

/// An impulse response as the engine receives it: interleaved samples of 1 or 2 channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpulseResponse {
    /// 1 or 2.
    pub channels: usize,
    /// The rate the samples were recorded at; resampled to the session's when different.
    pub sample_rate: u32,
    /// Interleaved, `frames · channels` samples, used as they are (no normalisation).
    pub samples: Vec<f64>,
}

impl ImpulseResponse {
    /// Frames per channel.
    #[must_use]
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Checks what the convolver relies on: 1 or 2 channels, whole frames, a rate, finite
    /// samples.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub fn check(&self) -> core::result::Result<(), String> {
        if !(1..=2).contains(&self.channels) {
            return Err(format!("{} channels (1 or 2 allowed)", self.channels));
        }
        if self.samples.len() % self.channels != 0 {
            return Err(format!(
                "{} samples is not a whole number of {}-channel frames",
                self.samples.len(),
                self.channels
            ));
        }
        if self.sample_rate == 0 {
            return Err("sample rate 0".into());
        }
        if let Some(i) = self.samples.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "sample {} of frame {} is not finite",
                i % self.channels + 1,
                i / self.channels
            ));
        }
        Ok(())
    }

    /// The response at another rate, resampled as a filter: the band-limited interpolation
    /// of [`crate::resample`] (deterministic), scaled by `sample_rate / rate` so that its
    /// frequency response, and so the level it gives, stays the file's. Allocates.
    ///
    /// # Panics
    /// If `rate` is 0 or the response fails [`ImpulseResponse::check`].
    #[must_use]
    pub fn resampled(&self, rate: u32) -> Self {
        if rate == self.sample_rate {
            return self.clone();
        }
        let frames = self.frames();
        let planar = self.planar();
        let mut r = Resampler::new(
            self.sample_rate,
            rate,
            self.channels,
            frames as u64,
            frames.max(1),
        );
        let out_frames = usize::try_from(r.output_frames()).expect("the IR fits in memory");
        let inputs: Vec<&[f64]> = planar.iter().map(Vec::as_slice).collect();
        r.push(&inputs, frames);
        let mut out = vec![vec![0.0; out_frames]; self.channels];
        let mut outs: Vec<&mut [f64]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        r.pull(&mut outs);
        let scale = f64::from(self.sample_rate) / f64::from(rate);
        let mut samples = Vec::with_capacity(out_frames * self.channels);
        for i in 0..out_frames {
            samples.extend(out.iter().map(|c| c[i] * scale));
        }
        Self {
            channels: self.channels,
            sample_rate: rate,
            samples,
        }
    }

    /// The samples per channel.
    #[must_use]
    pub fn planar(&self) -> Vec<Vec<f64>> {
        let c = self.channels.max(1);
        (0..c)
            .map(|ch| self.samples.iter().skip(ch).step_by(c).copied().collect())
            .collect()
    }
}

/// Which input channel and which response channel make each output channel.
fn routes(inputs: usize, ir_channels: usize) -> &'static [(usize, usize)] {
    match (inputs, ir_channels) {
        (1, 1) => &[(0, 0)],
        (1, _) => &[(0, 0), (0, 1)],
        (_, 1) => &[(0, 0), (1, 0)],
        _ => &[(0, 0), (1, 1)],
    }
}

/// `Σ a[q]·b[q]` in a fixed order: four interleaved partial sums, then
/// `(s0 + s1) + (s2 + s3)`, then the remainder in order.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (xs, ys) = (a.chunks_exact(4), b.chunks_exact(4));
    let (xr, yr) = (xs.remainder(), ys.remainder());
    let mut s = [0.0f64; 4];
    for (x, y) in xs.zip(ys) {
        s[0] += x[0] * y[0];
        s[1] += x[1] * y[1];
        s[2] += x[2] * y[2];
        s[3] += x[3] * y[3];
    }
    let mut sum = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in xr.iter().zip(yr) {
        sum += x * y;
    }
    sum
}

/// One level: a uniformly partitioned overlap-save convolver of partitions of `size` taps,
/// the first starting at tap `size` of the response.
struct Level {
    size: usize,
    parts: usize,
    fft: RealFft,
    /// Per response channel, `parts · (size + 1)` bins: partition `k` is the spectrum of
    /// taps `size·(k + 1) .. size·(k + 2)`, zero-padded to `2·size`, times `1 / (2·size)`.
    spectra: Vec<Vec<Complex>>,
    /// Per input channel, the last `2·size` inputs: the previous block, then the one
    /// being filled.
    windows: [Vec<f64>; 2],
    /// Per input channel, the spectra of the last `parts` windows (a ring).
    history: [Vec<Complex>; 2],
    /// Ring slot of the newest window's spectrum.
    newest: usize,
    /// Per output channel, this level's part of the current block's output.
    out: [Vec<f64>; 2],
    /// Frames of the current block seen so far.
    pos: usize,
    real: Vec<f64>,
    acc: Vec<Complex>,
    scratch: Vec<Complex>,
}

impl Level {
    fn new(ir: &[Vec<f64>], size: usize, start: usize, parts: usize) -> Self {
        let fft = 2 * size;
        let bins = size + 1;
        let transform = RealFft::new(fft);
        // cast: a power of two well inside f64's range
        let norm = 1.0 / fft as f64;
        let mut real = vec![0.0; fft];
        let spectra = ir
            .iter()
            .map(|h| {
                let mut spectrum = vec![Complex::default(); parts * bins];
                for (k, bins_k) in spectrum.chunks_exact_mut(bins).enumerate() {
                    real.fill(0.0);
                    let lo = (start + k * size).min(h.len());
                    let hi = (lo + size).min(h.len());
                    for (r, &v) in real.iter_mut().zip(&h[lo..hi]) {
                        *r = v * norm;
                    }
                    transform.forward(&real, bins_k);
                }
                spectrum
            })
            .collect();
        Self {
            size,
            parts,
            fft: transform,
            spectra,
            windows: [vec![0.0; fft], vec![0.0; fft]],
            history: [
                vec![Complex::default(); parts * bins],
                vec![Complex::default(); parts * bins],
            ],
            newest: 0,
            out: [vec![0.0; size], vec![0.0; size]],
            pos: 0,
            real,
            acc: vec![Complex::default(); bins],
            scratch: vec![Complex::default(); size],
        }
    }

    fn reset(&mut self) {
        for w in &mut self.windows {
            w.fill(0.0);
        }
        for h in &mut self.history {
            h.fill(Complex::default());
        }
        for o in &mut self.out {
            o.fill(0.0);
        }
        self.newest = 0;
        self.pos = 0;
    }

    /// A block of `size` inputs is complete: transform it and compute the level's output
    /// for the next `size` frames.
    fn cycle(&mut self, inputs: usize, routes: &[(usize, usize)]) {
        let (n, bins) = (self.size, self.size + 1);
        let slot = (self.newest + 1) % self.parts;
        for i in 0..inputs {
            let dst = &mut self.history[i][slot * bins..][..bins];
            self.fft.forward(&self.windows[i], dst);
            self.windows[i].copy_within(n.., 0);
        }
        self.newest = slot;
        for (o, &(i, c)) in routes.iter().enumerate() {
            self.acc.fill(Complex::default());
            for k in 0..self.parts {
                let s = (slot + self.parts - k) % self.parts;
                let x = &self.history[i][s * bins..][..bins];
                let h = &self.spectra[c][k * bins..][..bins];
                for ((a, x), h) in self.acc.iter_mut().zip(x).zip(h) {
                    a.re += x.re * h.re - x.im * h.im;
                    a.im += x.re * h.im + x.im * h.re;
                }
            }
            // The spectrum of a real signal: exactly real at DC and Nyquist.
            self.acc[0].im = 0.0;
            self.acc[n].im = 0.0;
            self.fft
                .inverse(&mut self.acc, &mut self.real, &mut self.scratch);
            self.out[o].copy_from_slice(&self.real[n..]);
        }
        self.pos = 0;
    }
}

/// The partitioned convolver: the head and the levels, for 1 or 2 input channels and a
/// response of 1 or 2 channels. Allocates in [`Convolver::new`] only; no latency.
pub struct Convolver {
    head_len: usize,
    ir_channels: usize,
    /// Per response channel, the head's taps reversed (`min(B, len)` of them).
    head: Vec<Vec<f64>>,
    /// Per input channel, the last `taps - 1` inputs, then room for a chunk of `B`.
    past: [Vec<f64>; 2],
    levels: Vec<Level>,
    /// Frames since reset, modulo `B`.
    phase: usize,
}

impl Convolver {
    /// A convolver for the response `ir` (one slice per channel, 1 or 2), with a head and
    /// first partition of `head` taps and partitions of at most `max_partition` taps.
    ///
    /// # Panics
    /// If `head` or `max_partition` is not a power of two, `max_partition < head`, or `ir`
    /// has no channel or more than 2.
    #[must_use]
    pub fn new(ir: &[Vec<f64>], head: usize, max_partition: usize) -> Self {
        assert!(
            head.is_power_of_two() && max_partition.is_power_of_two() && max_partition >= head,
            "head ({head}) and max_partition ({max_partition}) must be powers of two, head first"
        );
        assert!((1..=2).contains(&ir.len()), "1 or 2 response channels");
        let len = ir.iter().map(Vec::len).max().unwrap_or(0);
        let taps = head.min(len);
        let head_taps = ir
            .iter()
            .map(|h| {
                let mut t: Vec<f64> = (0..taps)
                    .map(|q| h.get(q).copied().unwrap_or(0.0))
                    .collect();
                t.reverse();
                t
            })
            .collect();
        let mut levels = Vec::new();
        let mut size = head;
        while size < len {
            let last = size * GROWTH > max_partition;
            let end = if last { len } else { (size * GROWTH).min(len) };
            let parts = (end - size).div_ceil(size);
            levels.push(Level::new(ir, size, size, parts));
            size *= GROWTH;
            if last {
                break;
            }
        }
        let past = taps.saturating_sub(1) + head;
        Self {
            head_len: head,
            ir_channels: ir.len(),
            head: head_taps,
            past: [vec![0.0; past], vec![0.0; past]],
            levels,
            phase: 0,
        }
    }

    /// Channels of the response.
    #[must_use]
    pub fn ir_channels(&self) -> usize {
        self.ir_channels
    }

    /// Output channels for `inputs` input channels: 2 when either is stereo.
    #[must_use]
    pub fn outputs(&self, inputs: usize) -> usize {
        routes(inputs, self.ir_channels).len()
    }

    /// `(partition size, partitions)` per level, after the head.
    #[must_use]
    pub fn levels(&self) -> Vec<(usize, usize)> {
        self.levels.iter().map(|l| (l.size, l.parts)).collect()
    }

    /// Clears every input history without allocating.
    pub fn reset(&mut self) {
        for p in &mut self.past {
            p.fill(0.0);
        }
        self.levels.iter_mut().for_each(Level::reset);
        self.phase = 0;
    }

    /// Convolves the next frames: `input` holds 1 or 2 channels of equal length, `output`
    /// [`Convolver::outputs`] channels of that length. Never allocates.
    ///
    /// # Panics
    /// On a channel count or length that does not match.
    pub fn process(&mut self, input: &[&[f64]], output: &mut [&mut [f64]]) {
        let routes = routes(input.len(), self.ir_channels);
        assert_eq!(output.len(), routes.len(), "output channels");
        let n = input[0].len();
        assert!(
            input.iter().all(|x| x.len() == n) && output.iter().all(|y| y.len() == n),
            "channels of one length"
        );
        let mut done = 0;
        while done < n {
            let len = (self.head_len - self.phase).min(n - done);
            self.chunk(input, output, routes, done, len);
            done += len;
            self.phase = (self.phase + len) % self.head_len;
        }
    }

    /// Frames `at .. at + len`, which do not cross a multiple of `B` frames since reset
    /// (nor, so, the block boundary of any level).
    fn chunk(
        &mut self,
        input: &[&[f64]],
        output: &mut [&mut [f64]],
        routes: &[(usize, usize)],
        at: usize,
        len: usize,
    ) {
        let taps = self.head.first().map_or(0, Vec::len);
        let keep = taps.saturating_sub(1);
        for (past, x) in self.past.iter_mut().zip(input) {
            past[keep..keep + len].copy_from_slice(&x[at..at + len]);
        }
        for (y, &(i, c)) in output.iter_mut().zip(routes) {
            let (past, h) = (&self.past[i], &self.head[c]);
            for (t, v) in y[at..at + len].iter_mut().enumerate() {
                *v = dot(h, &past[t..t + taps]);
            }
        }
        for past in &mut self.past[..input.len()] {
            past.copy_within(len..len + keep, 0);
        }
        for level in &mut self.levels {
            let pos = level.pos;
            for (o, y) in output.iter_mut().enumerate() {
                for (v, w) in y[at..at + len].iter_mut().zip(&level.out[o][pos..]) {
                    *v += w;
                }
            }
            for (window, x) in level.windows.iter_mut().zip(input) {
                window[level.size + pos..][..len].copy_from_slice(&x[at..at + len]);
            }
            level.pos += len;
            if level.pos == level.size {
                level.cycle(input.len(), routes);
            }
        }
    }
}

/// A delay of a whole number of frames that may change between grid cells: the predelay.
struct Predelay {
    buf: Vec<f64>,
    write: usize,
}

impl Predelay {
    fn new(max: usize) -> Self {
        Self {
            buf: vec![0.0; max + 1],
            write: 0,
        }
    }

    /// `y[t] = x[t - delay]`, `delay <= max`.
    fn process(&mut self, x: &[f64], y: &mut [f64], delay: usize) {
        let cap = self.buf.len();
        for (&xi, yi) in x.iter().zip(y) {
            self.buf[self.write] = xi;
            let read = if self.write >= delay {
                self.write - delay
            } else {
                self.write + cap - delay
            };
            *yi = self.buf[read];
            self.write += 1;
            if self.write == cap {
                self.write = 0;
            }
        }
    }

    fn reset(&mut self) {
        self.buf.fill(0.0);
        self.write = 0;
    }
}

/// `round(ms · fs / 1000)` frames, within `0 ..= MAX_PREDELAY_MS`.
fn predelay_frames(ms: f64, fs: f64) -> usize {
    let frames = (ms.clamp(0.0, MAX_PREDELAY_MS) * fs / 1000.0).round();
    // cast: 0 ..= 384000
    frames as usize
}

/// The `convolution` insert. No latency; allocates in `new` and `prepare` only.
///
/// `predelay_ms` is read on the control grid and delays the convolver's input, so that a
/// move of its lane re-times what enters the response instead of cutting the tail that
/// already rings; `gain_db` and `mix` are read per frame.
pub struct Convolution {
    ir: Arc<ImpulseResponse>,
    head: usize,
    max_partition: usize,
    predelay: GridParam,
    /// The largest predelay the lane reaches, in ms: sizes the delay line.
    max_predelay_ms: f64,
    gain_db: Lane,
    mix: Lane,
    /// Built in `prepare`, at the session's rate.
    conv: Option<Convolver>,
    pre: [Predelay; 2],
    delay: usize,
    fs: f64,
    dry: [[f64; GRID]; 2],
    delayed: [[f64; GRID]; 2],
    wet: [[f64; GRID]; 2],
    gain_buf: [f64; GRID],
    mix_buf: [f64; GRID],
}

impl Convolution {
    /// The planned insert with the impulse response the plan indexes in `irs` (already at
    /// the session's rate).
    ///
    /// # Errors
    /// [`EngineError::NoImpulseResponse`] when `irs` holds no response at that index.
    pub fn from_plan(p: &ConvolutionParams, irs: &[Arc<ImpulseResponse>]) -> Result<Self> {
        let ir = irs.get(p.ir).ok_or_else(|| EngineError::NoImpulseResponse {
            insert: p.name.clone(),
            index: p.ir,
            given: irs.len(),
        })?;
        Ok(Self::new(p, Arc::clone(ir)))
    }

    /// The insert with the engine's partitioning; `ir` is at the session's rate (another
    /// rate is resampled in `prepare`).
    #[must_use]
    pub fn new(p: &ConvolutionParams, ir: Arc<ImpulseResponse>) -> Self {
        Self::with_partitions(p, ir, DEFAULT_HEAD, DEFAULT_MAX_PARTITION)
    }

    /// The insert with another partitioning (see [`Convolver::new`]): tests use small
    /// partitions to run every level on short responses.
    #[must_use]
    pub fn with_partitions(
        p: &ConvolutionParams,
        ir: Arc<ImpulseResponse>,
        head: usize,
        max_partition: usize,
    ) -> Self {
        let max_predelay_ms = p
            .predelay_ms
            .points
            .iter()
            .map(|pt| pt.1)
            .fold(0.0, f64::max)
            .min(MAX_PREDELAY_MS);
        Self {
            ir,
            head,
            max_partition,
            predelay: GridParam::new(&p.predelay_ms),
            max_predelay_ms,
            gain_db: p.gain_db.clone(),
            mix: p.mix.clone(),
            conv: None,
            pre: [Predelay::new(0), Predelay::new(0)],
            delay: 0,
            fs: 0.0,
            dry: [[0.0; GRID]; 2],
            delayed: [[0.0; GRID]; 2],
            wet: [[0.0; GRID]; 2],
            gain_buf: [0.0; GRID],
            mix_buf: [0.0; GRID],
        }
    }
}

impl Processor for Convolution {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        // cast: 8000 ..= 384000
        let rate = sample_rate.round() as u32;
        let ir = if self.ir.sample_rate == rate {
            self.ir.planar()
        } else {
            self.ir.resampled(rate).planar()
        };
        self.conv = Some(Convolver::new(&ir, self.head, self.max_partition));
        let max = predelay_frames(self.max_predelay_ms, sample_rate);
        self.pre = [Predelay::new(max), Predelay::new(max)];
        self.fs = sample_rate;
        self.predelay.invalidate();
    }

    fn reset(&mut self) {
        if let Some(conv) = &mut self.conv {
            conv.reset();
        }
        self.pre.iter_mut().for_each(Predelay::reset);
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let conv = self
            .conv
            .as_mut()
            .expect("Convolution::prepare runs before process");
        let inputs = block.channels.clamp(1, 2);
        let outputs = conv.outputs(inputs);
        let routes = routes(inputs, conv.ir_channels());
        for chunk in grid::chunks(block.start, block.len()) {
            let len = chunk.len;
            if let (ms, true) = self.predelay.at(chunk.grid) {
                let max = self.pre[0].buf.len() - 1;
                self.delay = predelay_frames(ms, self.fs).min(max);
            }
            let [d0, d1] = &mut self.dry;
            d0[..len].copy_from_slice(&block.left[chunk.range()]);
            if inputs == 2 {
                d1[..len].copy_from_slice(&block.right[chunk.range()]);
            }
            for c in 0..inputs {
                self.pre[c].process(&self.dry[c][..len], &mut self.delayed[c][..len], self.delay);
            }
            let [x0, x1] = &self.delayed;
            let ins = [&x0[..len], &x1[..len]];
            let [w0, w1] = &mut self.wet;
            let mut outs = [&mut w0[..len], &mut w1[..len]];
            conv.process(&ins[..inputs], &mut outs[..outputs]);

            // Gain and mix per frame; no latency, so at the output's own frames.
            let gain = grid::per_frame(&self.gain_db, chunk.frame, &mut self.gain_buf, len)
                .map(math::db_to_gain);
            if gain.is_none() {
                for g in &mut self.gain_buf[..len] {
                    *g = math::db_to_gain(*g);
                }
            }
            let mix = grid::per_frame(&self.mix, chunk.frame, &mut self.mix_buf, len);
            for (o, &(i, _)) in routes.iter().enumerate() {
                let y = if o == 0 {
                    &mut block.left[chunk.range()]
                } else {
                    &mut block.right[chunk.range()]
                };
                let (dry, wet) = (&self.dry[i], &self.wet[o]);
                for (t, v) in y.iter_mut().enumerate() {
                    let w = gain.unwrap_or(self.gain_buf[t]) * wet[t];
                    let m = mix.unwrap_or(self.mix_buf[t]);
                    *v = if m == 1.0 {
                        w
                    } else {
                        (1.0 - m) * dry[t] + m * w
                    };
                }
            }
        }
        block.channels = outputs;
    }
}
