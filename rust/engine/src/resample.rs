//! Streaming sample-rate conversion by band-limited interpolation.
//!
//! Determinism: the converter is plain scalar arithmetic with a fixed summation order, and its
//! coefficient tables are computed through [`crate::math`] (libm) and a power series, so the
//! same input gives the same output bits on every machine. (This is why we do not use
//! rubato: its sinc kernel picks AVX/SSE at run time and its FFT path uses rustfft's
//! runtime-dispatched planner.)
//!
//! # Algorithm
//! Bandlimited interpolation after Smith & Gossett, in the polyphase windowed-sinc form of
//! libsamplerate, speexdsp and rubato's sinc resampler. The ratio `out/in` is reduced to
//! `L/M`. Output frame `k` (counted from the source's first frame) is centred on input
//! position `k·M/L = i + j/L` with `i = ⌊k·M/L⌋` and phase `j = (k·M) mod L`; it is the dot
//! product of the input frames around `i` with the kernel sampled at phase `j`. The kernel
//! is symmetric and centred, so output frame 0 is aligned with input frame 0 (the latency
//! is absorbed by reading ahead), and inputs before the first and after the last frame are
//! zeros.
//!
//! The kernel is a Kaiser-windowed sinc (β = 13) with its cutoff at 0.95 of the lower of the
//! two Nyquist frequencies and a half-width of 96 periods of the lower rate. At 44.1 kHz
//! that is flat within 1e-5 dB up to 20 kHz and at least 128 dB down from 22.05 kHz
//! upwards (≈ 192 taps when upsampling, 192·M/L when downsampling).
//!
//! The table holds one row of taps per phase: exactly `L` rows when `L <= 4096`, otherwise
//! 4097 rows at phases `r/4096` with linear interpolation between the two rows that
//! bracket `j/L`. Every row is normalised to sum to 1 (no phase-dependent DC gain).
//! Tables are immutable and can be shared between resamplers with [`Kernel`] and
//! [`Resampler::with_kernel`].
//!
//! # Streaming
//! [`Resampler`] allocates everything in its constructor; `push` and `pull` only copy into
//! a preallocated history. Ask [`Resampler::input_frames_needed`] how many input frames
//! a pull of `n` frames needs, push exactly those, pull `n` frames: the output is
//! bit-identical for any sequence of chunk sizes. `max_push` bounds one push; the history
//! also reserves room for the first push's read-ahead (see [`Resampler::new`]).

use std::sync::Arc;

use crate::math;

/// Half-width of the kernel in periods of the lower of the two rates.
const ZERO_CROSSINGS: f64 = 96.0;
/// Cutoff as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.95;
/// Kaiser window parameter (≈ 128 dB stopband attenuation with this width and cutoff).
const BETA: f64 = 13.0;
/// Largest number of exact phases; beyond it, phases are interpolated linearly.
const MAX_PHASES: u64 = 4096;

/// The coefficient table of a conversion from one rate to another.
///
/// Immutable once built; share it (`Arc<Kernel>`) between resamplers with the same rates.
#[derive(Debug)]
pub struct Kernel {
    /// Output step per output frame is `M/L` input frames.
    l: u64,
    m: u64,
    /// `M / L` and `M % L`.
    step_int: u64,
    step_frac: u64,
    /// Number of table phases `P` (rows are at phases `r/P`).
    phases: u64,
    /// `P < L`: interpolate between rows `r` and `r + 1` (the table has `P + 1` rows).
    interpolate: bool,
    /// Equal rates: copy input to output.
    identity: bool,
    /// Taps per row.
    taps: usize,
    /// Taps before the centre: output frame `k` reads input frames `i - lead .. i - lead + taps`.
    lead: usize,
    /// `rows x taps` coefficients, row-major.
    coefs: Vec<f64>,
}

impl Kernel {
    /// Builds the table for a conversion from `in_rate` to `out_rate`.
    ///
    /// # Panics
    /// If a rate is 0.
    #[must_use]
    pub fn new(in_rate: u32, out_rate: u32) -> Kernel {
        assert!(
            in_rate > 0 && out_rate > 0,
            "sample rates must be positive (got {in_rate} -> {out_rate})"
        );
        let g = gcd(in_rate, out_rate);
        let (l32, m32) = (out_rate / g, in_rate / g);
        let (l, m) = (u64::from(l32), u64::from(m32));
        if l == m {
            return Kernel {
                l,
                m,
                step_int: 1,
                step_frac: 0,
                phases: 1,
                interpolate: false,
                identity: true,
                taps: 1,
                lead: 0,
                coefs: vec![1.0],
            };
        }

        // min(1, L/M): the kernel is stretched by M/L when downsampling.
        let scale = if l >= m {
            1.0
        } else {
            f64::from(l32) / f64::from(m32)
        };
        let half = ZERO_CROSSINGS / scale;
        // Integer half-width, even so that the tap count is a multiple of 4.
        let mut width = f64_to_usize(half.ceil());
        width += width % 2;
        let taps = 2 * width;
        let lead = width - 1;
        let fc = CUTOFF * scale;

        let interpolate = l > MAX_PHASES;
        let phases = if interpolate { MAX_PHASES } else { l };
        let rows = to_usize(phases) + usize::from(interpolate);
        let mut coefs = vec![0.0; rows * taps];

        // Row r holds the kernel at t = phi + lead - q for q in 0..taps, phi = r/P.
        // The kernel is even, so row P - r is row r reversed: compute the first half only.
        let p = to_usize(phases);
        let lead_f = usize_to_f64(lead);
        let phases_f = usize_to_f64(p);
        for r in 0..rows {
            let (done, rest) = coefs.split_at_mut(r * taps);
            let row = &mut rest[..taps];
            if 2 * r > p {
                let mirror = &done[(p - r) * taps..][..taps];
                for (dst, src) in row.iter_mut().zip(mirror.iter().rev()) {
                    *dst = *src;
                }
                continue;
            }
            let phi = usize_to_f64(r) / phases_f;
            for (q, c) in row.iter_mut().enumerate() {
                *c = kernel_at((lead_f - usize_to_f64(q)) + phi, fc, half);
            }
            let sum: f64 = row.iter().sum();
            for c in row.iter_mut() {
                *c /= sum;
            }
        }

        Kernel {
            l,
            m,
            step_int: m / l,
            step_frac: m % l,
            phases,
            interpolate,
            identity: false,
            taps,
            lead,
            coefs,
        }
    }

    /// The reduced ratio `(L, M)` with `out/in = L/M`.
    #[must_use]
    pub fn ratio(&self) -> (u64, u64) {
        (self.l, self.m)
    }

    /// Taps per output frame and channel.
    #[must_use]
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// Input frames an output frame reads past its centre (`taps/2 + 1`; 1 for equal
    /// rates): the first pull asks for this much more input than later ones.
    #[must_use]
    pub fn read_ahead(&self) -> usize {
        self.taps - self.lead
    }

    /// Largest number of input frames [`Resampler::input_frames_needed`] can ask for
    /// before a pull of `out_frames` frames, read-ahead included:
    /// `ceil(out_frames·M/L) + read_ahead()`. Always a sufficient `max_push` for pulls of
    /// up to `out_frames` frames.
    #[must_use]
    pub fn max_input_frames(&self, out_frames: usize) -> usize {
        let n = u128::from(usize_to_u64(out_frames));
        let steps = (n * u128::from(self.m)).div_ceil(u128::from(self.l));
        usize::try_from(steps)
            .unwrap_or(usize::MAX)
            .saturating_add(self.read_ahead())
    }

    /// The kernel row (or the two rows to interpolate, and the fraction) for phase `j`.
    #[inline]
    fn rows(&self, phase: u64) -> (&[f64], &[f64], f64) {
        let t = self.taps;
        if self.interpolate {
            let pos = phase * self.phases;
            let r = to_usize(pos / self.l);
            let rem = pos % self.l;
            let frac = u64_to_f64(rem) / u64_to_f64(self.l);
            (
                &self.coefs[r * t..][..t],
                &self.coefs[(r + 1) * t..][..t],
                frac,
            )
        } else {
            let row = &self.coefs[to_usize(phase) * t..][..t];
            (row, row, 0.0)
        }
    }
}

/// A streaming converter for one source of known length, planar `f64`, 1 or 2 channels.
#[derive(Debug, Clone)]
pub struct Resampler {
    kernel: Arc<Kernel>,
    channels: usize,
    source_frames: u64,
    output_frames: u64,
    max_push: usize,
    /// Frames of history per channel.
    cap: usize,
    /// `channels x cap`, channel-major. Holds virtual frames `base .. base + len`, where
    /// virtual frame `v` is input frame `v - lead` (virtual frames below `lead` are the
    /// zeros before the source; after the source's end, zeros are appended).
    hist: Vec<f64>,
    len: usize,
    base: u64,
    /// Input frames pushed so far.
    pushed: u64,
    /// Next output frame `k`, its `i = ⌊k·M/L⌋` (the virtual index of its first tap) and
    /// phase `j = k·M mod L`.
    out_pos: u64,
    ipos: u64,
    phase: u64,
}

impl Resampler {
    /// Allocates everything. `max_push` = largest number of input frames pushed at once,
    /// not counting the first push's one-time read-ahead ([`Kernel::read_ahead`] frames),
    /// for which the history reserves room. Pulls of up to `n` frames, each preceded by a
    /// push of exactly `input_frames_needed(n)`, need `max_push >= ceil(n·in/out)`;
    /// [`Kernel::max_input_frames`]`(n)` is always enough.
    ///
    /// # Panics
    /// If a rate is 0 or `channels` is 0.
    #[must_use]
    pub fn new(
        in_rate: u32,
        out_rate: u32,
        channels: usize,
        source_frames: u64,
        max_push: usize,
    ) -> Resampler {
        Self::with_kernel(
            Arc::new(Kernel::new(in_rate, out_rate)),
            channels,
            source_frames,
            max_push,
        )
    }

    /// Like [`Resampler::new`], with a shared coefficient table.
    ///
    /// # Panics
    /// If `channels` is 0, or the output would be longer than `u64::MAX` frames.
    #[must_use]
    pub fn with_kernel(
        kernel: Arc<Kernel>,
        channels: usize,
        source_frames: u64,
        max_push: usize,
    ) -> Resampler {
        assert!(channels >= 1, "a resampler needs at least one channel");
        // Retained history is at most `taps` frames when a push arrives (see `reserve`).
        let cap = kernel.taps + kernel.read_ahead() + max_push;
        let output_frames =
            (u128::from(source_frames) * u128::from(kernel.l)).div_ceil(u128::from(kernel.m));
        let output_frames = u64::try_from(output_frames).expect("output too long");
        let mut r = Resampler {
            kernel,
            channels,
            source_frames,
            output_frames,
            max_push,
            cap,
            hist: vec![0.0; channels * cap],
            len: 0,
            base: 0,
            pushed: 0,
            out_pos: 0,
            ipos: 0,
            phase: 0,
        };
        r.reset();
        r
    }

    /// The coefficient table (to share with other resamplers of the same rates).
    #[must_use]
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// Input frames pushed so far.
    #[must_use]
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// `ceil(source_frames * L / M)`: the resampled source's length.
    #[must_use]
    pub fn output_frames(&self) -> u64 {
        self.output_frames
    }

    /// Input frames still needed (beyond what was pushed) before `out_frames` more output
    /// frames can be pulled; never more than the source has left.
    #[must_use]
    pub fn input_frames_needed(&self, out_frames: usize) -> usize {
        if out_frames == 0 || self.out_pos >= self.output_frames {
            return 0;
        }
        let end = self
            .out_pos
            .saturating_add(usize_to_u64(out_frames))
            .min(self.output_frames);
        let k = &*self.kernel;
        let i_last = u128::from(end - 1) * u128::from(k.m) / u128::from(k.l);
        // Output frame k reads input frames up to i + taps - 1 - lead.
        let need =
            (i_last + u128::from(usize_to_u64(k.read_ahead()))).min(u128::from(self.source_frames));
        usize::try_from(need.saturating_sub(u128::from(self.pushed))).unwrap_or(usize::MAX)
    }

    /// Push the next input frames; `input[c]` is channel `c` (planar).
    ///
    /// # Panics
    /// If the frames would overflow the history (push at most what
    /// [`Resampler::input_frames_needed`] asks for) or run past the source's end; in debug
    /// builds also if `frames > max_push + read_ahead`.
    pub fn push(&mut self, input: &[&[f64]], frames: usize) {
        assert_eq!(input.len(), self.channels, "push: wrong channel count");
        let at = self.reserve(frames);
        for (ch, src) in self.hist.chunks_exact_mut(self.cap).zip(input) {
            ch[at..at + frames].copy_from_slice(&src[..frames]);
        }
    }

    /// Push interleaved `f32` frames (widened into the planar `f64` history).
    ///
    /// # Panics
    /// As [`Resampler::push`], and if the length is not a multiple of the channel count.
    pub fn push_interleaved_f32(&mut self, input: &[f32]) {
        self.push_interleaved(input);
    }

    /// Push interleaved `f64` frames.
    ///
    /// # Panics
    /// As [`Resampler::push_interleaved_f32`].
    pub fn push_interleaved_f64(&mut self, input: &[f64]) {
        self.push_interleaved(input);
    }

    /// Interleaved frames into the planar `f64` history (`f32` widens exactly).
    fn push_interleaved<T: Copy + Into<f64>>(&mut self, input: &[T]) {
        let frames = self.interleaved_frames(input.len());
        let at = self.reserve(frames);
        let channels = self.channels;
        for (c, ch) in self.hist.chunks_exact_mut(self.cap).enumerate() {
            for (dst, frame) in ch[at..at + frames]
                .iter_mut()
                .zip(input.chunks_exact(channels))
            {
                *dst = frame[c].into();
            }
        }
    }

    /// Write the next `out[c].len()` output frames into `out` (planar). Frames past the
    /// resampled source's end are zeros.
    ///
    /// # Panics
    /// If not enough input was pushed (and the source is not exhausted), or if the channel
    /// count or the slices' lengths disagree.
    pub fn pull(&mut self, out: &mut [&mut [f64]]) {
        assert_eq!(out.len(), self.channels, "pull: wrong channel count");
        let frames = out[0].len();
        assert!(
            out.iter().all(|o| o.len() == frames),
            "pull: channels of different lengths"
        );
        let kernel = Arc::clone(&self.kernel);
        let taps = kernel.taps;
        for t in 0..frames {
            if self.out_pos >= self.output_frames {
                for o in out.iter_mut() {
                    o[t..].fill(0.0);
                }
                self.out_pos += usize_to_u64(frames - t);
                return;
            }
            if to_usize(self.ipos - self.base) + taps > self.len {
                self.pad_end();
            }
            let start = to_usize(self.ipos - self.base);
            let hist = self.hist.chunks_exact(self.cap);
            if kernel.identity {
                for (o, ch) in out.iter_mut().zip(hist) {
                    o[t] = ch[start];
                }
            } else {
                let (row0, row1, frac) = kernel.rows(self.phase);
                for (o, ch) in out.iter_mut().zip(hist) {
                    let x = &ch[start..start + taps];
                    let y0 = dot(x, row0);
                    o[t] = if frac == 0.0 {
                        y0
                    } else {
                        y0 + frac * (dot(x, row1) - y0)
                    };
                }
            }
            self.out_pos += 1;
            self.ipos += kernel.step_int;
            self.phase += kernel.step_frac;
            if self.phase >= kernel.l {
                self.phase -= kernel.l;
                self.ipos += 1;
            }
        }
    }

    /// Back to the state right after construction (nothing pushed, nothing pulled).
    pub fn reset(&mut self) {
        let lead = self.kernel.lead;
        for ch in self.hist.chunks_exact_mut(self.cap) {
            ch[..lead].fill(0.0);
        }
        self.len = lead;
        self.base = 0;
        self.pushed = 0;
        self.out_pos = 0;
        self.ipos = 0;
        self.phase = 0;
    }

    fn interleaved_frames(&self, samples: usize) -> usize {
        assert!(
            samples % self.channels == 0,
            "interleaved push: {samples} samples is not a whole number of {}-channel frames",
            self.channels
        );
        samples / self.channels
    }

    /// Makes room for `frames` more input frames; returns where they go in each channel.
    ///
    /// Capacity: when the caller pushes exactly `input_frames_needed`, the pushed input
    /// ends at most at the last pulled frame's `i + taps - lead`, i.e. virtual index
    /// `i + taps`, and compaction keeps virtual frames from the next output's `i` on: at
    /// most `taps` frames stay, plus this push (`<= max_push + read_ahead`).
    fn reserve(&mut self, frames: usize) -> usize {
        debug_assert!(
            frames <= self.max_push + self.kernel.read_ahead(),
            "push of {frames} frames exceeds max_push = {} (+ read-ahead {})",
            self.max_push,
            self.kernel.read_ahead()
        );
        let frames_u64 = usize_to_u64(frames);
        assert!(
            frames_u64 <= self.source_frames - self.pushed,
            "push runs past the source's end ({} + {frames} > {} frames)",
            self.pushed,
            self.source_frames
        );
        if self.len + frames > self.cap {
            self.compact();
        }
        assert!(
            self.len + frames <= self.cap,
            "resampler history overflow: push at most input_frames_needed() frames \
             and size max_push with Kernel::max_input_frames()"
        );
        let at = self.len;
        self.len += frames;
        self.pushed += frames_u64;
        at
    }

    /// Drops history before the next output frame's first tap.
    fn compact(&mut self) {
        let drop = to_usize((self.ipos - self.base).min(usize_to_u64(self.len)));
        if drop > 0 {
            let len = self.len;
            for ch in self.hist.chunks_exact_mut(self.cap) {
                ch.copy_within(drop..len, 0);
            }
            self.len -= drop;
            self.base += usize_to_u64(drop);
        }
    }

    /// The next output frame reads past the pushed input: legal only once the whole source
    /// was pushed, and then the frames past its end are zeros.
    fn pad_end(&mut self) {
        assert!(
            self.pushed == self.source_frames,
            "Resampler::pull: not enough input pushed ({} of {} frames); \
             push input_frames_needed() frames first",
            self.pushed,
            self.source_frames
        );
        self.compact();
        let len = self.len;
        for ch in self.hist.chunks_exact_mut(self.cap) {
            ch[len..].fill(0.0);
        }
        self.len = self.cap;
    }
}

/// `Σ x[q]·c[q]` in a fixed order: four interleaved partial sums, then
/// `(s0 + s1) + (s2 + s3)`, then the remainder in order.
#[inline]
fn dot(x: &[f64], c: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), c.len());
    let xs = x.chunks_exact(4);
    let cs = c.chunks_exact(4);
    let (xr, cr) = (xs.remainder(), cs.remainder());
    let mut s = [0.0f64; 4];
    for (a, b) in xs.zip(cs) {
        s[0] += a[0] * b[0];
        s[1] += a[1] * b[1];
        s[2] += a[2] * b[2];
        s[3] += a[3] * b[3];
    }
    let mut sum = (s[0] + s[1]) + (s[2] + s[3]);
    for (a, b) in xr.iter().zip(cr) {
        sum += a * b;
    }
    sum
}

/// Kaiser-windowed sinc with cutoff `fc` (cycles per two input frames, i.e. a fraction of
/// the input Nyquist) and half-width `half` input frames, at `t` input frames from the
/// centre. Unnormalised: the table rows are normalised afterwards.
fn kernel_at(t: f64, fc: f64, half: f64) -> f64 {
    let u = t / half;
    if u.abs() >= 1.0 {
        return 0.0;
    }
    let x = core::f64::consts::PI * (fc * t);
    let sinc = if x == 0.0 { 1.0 } else { math::sin(x) / x };
    sinc * bessel_i0(BETA * math::sqrt(1.0 - u * u))
}

/// Modified Bessel function of the first kind, order 0, by its power series
/// `Σ ((x/2)^k / k!)²` (all terms positive: no cancellation; plain arithmetic).
fn bessel_i0(x: f64) -> f64 {
    let q = 0.25 * x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-18 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn to_usize(x: u64) -> usize {
    usize::try_from(x).expect("frame count exceeds usize")
}

fn usize_to_u64(x: usize) -> u64 {
    u64::try_from(x).expect("usize wider than u64")
}

#[expect(
    clippy::cast_precision_loss,
    reason = "table indices and phases are far below 2^53: exact"
)]
fn usize_to_f64(x: usize) -> f64 {
    x as f64
}

#[expect(
    clippy::cast_precision_loss,
    reason = "phases are below 2^32 * 4096 < 2^53: exact"
)]
fn u64_to_f64(x: u64) -> f64 {
    x as f64
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a small positive integral kernel width"
)]
fn f64_to_usize(x: f64) -> usize {
    debug_assert!(x >= 0.0 && x.fract() == 0.0 && x < 1e15);
    x as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The table for `in_rate -> out_rate`; the slow-to-build one for 44.1 -> 48.001 kHz
    /// (4097 interpolated phases) is built once for all tests.
    fn kernel(in_rate: u32, out_rate: u32) -> Arc<Kernel> {
        static AWKWARD: OnceLock<Arc<Kernel>> = OnceLock::new();
        if (in_rate, out_rate) == (44_100, 48_001) {
            Arc::clone(AWKWARD.get_or_init(|| Arc::new(Kernel::new(in_rate, out_rate))))
        } else {
            Arc::new(Kernel::new(in_rate, out_rate))
        }
    }

    /// `amp · sin(2π f n / rate)`, the argument reduced exactly in integers.
    fn sine(rate: u32, freq: u32, amp: f64, frames: usize) -> Vec<f64> {
        (0..frames)
            .map(|n| {
                let r = (u64::from(freq) * usize_to_u64(n)) % u64::from(rate);
                amp * math::sin(2.0 * core::f64::consts::PI * u64_to_f64(r) / f64::from(rate))
            })
            .collect()
    }

    /// Small deterministic noise in [-1, 1).
    fn noise(frames: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..frames)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                u64_to_f64(s >> 11) / u64_to_f64(1 << 52) - 1.0
            })
            .collect()
    }

    /// Resample `input` (planar) in one go.
    fn one_shot(kernel: &Arc<Kernel>, input: &[Vec<f64>], extra: usize) -> Vec<Vec<f64>> {
        let frames = input[0].len();
        let mut r = Resampler::with_kernel(
            Arc::clone(kernel),
            input.len(),
            usize_to_u64(frames),
            frames,
        );
        let n = to_usize(r.output_frames()) + extra;
        assert_eq!(r.input_frames_needed(n), frames);
        let slices: Vec<&[f64]> = input.iter().map(Vec::as_slice).collect();
        r.push(&slices, frames);
        let mut out = vec![vec![0.0; n]; input.len()];
        let mut outs: Vec<&mut [f64]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        r.pull(&mut outs);
        out
    }

    /// Resample `input` (planar) pulling chunks of the sizes in `chunks` (cycled), pushing
    /// exactly `input_frames_needed` before each pull, with the smallest `max_push` the
    /// contract allows (`ceil(chunk·M/L)`).
    fn chunked(
        kernel: &Arc<Kernel>,
        input: &[Vec<f64>],
        chunks: &[usize],
        extra: usize,
    ) -> Vec<Vec<f64>> {
        let frames = input[0].len();
        let max_chunk = *chunks.iter().max().unwrap();
        let (l, m) = kernel.ratio();
        let max_push = to_usize((usize_to_u64(max_chunk) * m).div_ceil(l));
        let mut r = Resampler::with_kernel(
            Arc::clone(kernel),
            input.len(),
            usize_to_u64(frames),
            max_push,
        );
        let total = to_usize(r.output_frames()) + extra;
        let mut out = vec![vec![0.0; total]; input.len()];
        let (mut done, mut fed) = (0, 0);
        for &chunk in chunks.iter().cycle() {
            if done == total {
                break;
            }
            let n = chunk.min(total - done);
            let need = r.input_frames_needed(n);
            assert!(need <= kernel.max_input_frames(n));
            assert!(need <= max_push + if done == 0 { kernel.read_ahead() } else { 0 });
            let slices: Vec<&[f64]> = input.iter().map(|c| &c[fed..fed + need]).collect();
            r.push(&slices, need);
            fed += need;
            let mut outs: Vec<&mut [f64]> =
                out.iter_mut().map(|c| &mut c[done..done + n]).collect();
            r.pull(&mut outs);
            done += n;
        }
        assert_eq!(fed, frames, "the whole source is consumed, nothing more");
        out
    }

    struct Fit {
        /// Amplitude of the fitted sine and its cosine part relative to it (phase error).
        amp: f64,
        cos_rel: f64,
        /// Residual RMS relative to the fundamental's RMS, in dB.
        thd_n_db: f64,
    }

    /// Least-squares fit of `a·sin(ωk) + b·cos(ωk) + d` at exactly `freq` over
    /// `signal[range]` (k is the absolute frame index); THD+N is the residual's RMS.
    fn fit(signal: &[f64], rate: u32, freq: u32, range: std::ops::Range<usize>) -> Fit {
        let basis = |frame: usize| {
            let turns = (u64::from(freq) * usize_to_u64(frame)) % u64::from(rate);
            let w = 2.0 * core::f64::consts::PI * u64_to_f64(turns) / f64::from(rate);
            [math::sin(w), math::cos(w), 1.0]
        };
        let mut gram = [[0.0f64; 3]; 3];
        let mut rhs = [0.0f64; 3];
        for frame in range.clone() {
            let b = basis(frame);
            for (row, bi) in gram.iter_mut().zip(b) {
                for (g, bj) in row.iter_mut().zip(b) {
                    *g += bi * bj;
                }
            }
            for (r, bi) in rhs.iter_mut().zip(b) {
                *r += bi * signal[frame];
            }
        }
        // Cramer's rule: the Gram matrix is nearly diagonal, well conditioned.
        let det = det3(&gram);
        let coef: [f64; 3] = std::array::from_fn(|col| {
            let mut m = gram;
            for (row, r) in m.iter_mut().zip(rhs) {
                row[col] = r;
            }
            det3(&m) / det
        });
        let mut err2 = 0.0;
        for frame in range.clone() {
            let b = basis(frame);
            let err = signal[frame] - (coef[0] * b[0] + coef[1] * b[1] + coef[2]);
            err2 += err * err;
        }
        let rms = math::sqrt(err2 / usize_to_f64(range.len()));
        let amp = math::sqrt(coef[0] * coef[0] + coef[1] * coef[1]);
        Fit {
            amp,
            cos_rel: coef[1] / amp,
            thd_n_db: 20.0 * math::log10(rms / (amp / core::f64::consts::SQRT_2)),
        }
    }

    fn det3(m: &[[f64; 3]; 3]) -> f64 {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    /// A `freq` Hz sine at -6 dBFS, 0.5 s, through `in_rate -> out_rate`; fitted over the
    /// middle 0.25 s of the output.
    fn tone_test(in_rate: u32, out_rate: u32, freq: u32) -> Fit {
        let amp = math::db_to_gain(-6.0);
        let frames = to_usize(u64::from(in_rate) / 2);
        let x = sine(in_rate, freq, amp, frames);
        let kernel = kernel(in_rate, out_rate);
        let y = one_shot(&kernel, &[x], 0);
        let n = y[0].len();
        let f = fit(&y[0], out_rate, freq, n / 4..3 * n / 4);
        let gain_db = 20.0 * math::log10(f.amp / amp);
        eprintln!(
            "{in_rate} -> {out_rate}, {freq} Hz: THD+N {:.1} dB, gain {gain_db:.2e} dB, \
             phase {:.1e} rad",
            f.thd_n_db, f.cos_rel
        );
        assert!(
            gain_db.abs() < 1e-4,
            "{in_rate} -> {out_rate}, {freq} Hz: gain {gain_db:e} dB"
        );
        assert!(
            f.cos_rel.abs() < 1e-5,
            "{in_rate} -> {out_rate}, {freq} Hz: not aligned, phase {:e}",
            f.cos_rel
        );
        assert!(
            f.thd_n_db < -100.0,
            "{in_rate} -> {out_rate}, {freq} Hz: THD+N {:.1} dB",
            f.thd_n_db
        );
        f
    }

    #[test]
    fn sines_through_the_common_ratios() {
        for (in_rate, out_rate, freq) in [
            (44_100, 48_000, 1000),
            (48_000, 44_100, 1000),
            (96_000, 48_000, 1000),
            // No images: the 5 kHz tone's image at 19 kHz lies inside the output band.
            (24_000, 48_000, 5000),
            // The passband reaches 20 kHz at 44.1 kHz, both ways.
            (44_100, 48_000, 20_000),
            (48_000, 44_100, 20_000),
        ] {
            tone_test(in_rate, out_rate, freq);
        }
    }

    #[test]
    fn awkward_ratio_interpolated_phases() {
        let k = kernel(44_100, 48_001);
        assert_eq!(k.ratio(), (48_001, 44_100));
        assert!(k.interpolate && k.phases == 4096);
        drop(k);
        tone_test(44_100, 48_001, 1000);
    }

    #[test]
    fn stopband_30k_at_96k_to_48k() {
        let amp = math::db_to_gain(-6.0);
        let x = sine(96_000, 30_000, amp, 48_000);
        let y = one_shot(&kernel(96_000, 48_000), &[x], 0);
        let mid = &y[0][6000..18_000];
        let rms = math::sqrt(mid.iter().map(|v| v * v).sum::<f64>() / usize_to_f64(mid.len()));
        let db = 20.0 * math::log10(rms / (amp / core::f64::consts::SQRT_2));
        eprintln!("96k -> 48k, 30 kHz: {db:.1} dB");
        assert!(db < -100.0, "30 kHz at 96k -> 48k only {db:.1} dB down");
    }

    fn assert_bits_eq(a: &[Vec<f64>], b: &[Vec<f64>], what: &str) {
        assert_eq!(a.len(), b.len());
        for (c, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.len(), y.len(), "{what}: length");
            for (k, (p, q)) in x.iter().zip(y).enumerate() {
                assert_eq!(p.to_bits(), q.to_bits(), "{what}: channel {c} frame {k}");
            }
        }
    }

    #[test]
    fn block_size_invariance() {
        let cases: [(u32, u32, usize); 4] = [
            (44_100, 48_000, 2),
            (48_000, 44_100, 1),
            (96_000, 48_000, 1),
            (44_100, 48_001, 1),
        ];
        for (i, &(a, b, channels)) in cases.iter().enumerate() {
            let kernel = kernel(a, b);
            let input: Vec<Vec<f64>> = (0..channels)
                .map(|c| noise(4200, usize_to_u64(10 * i + c)))
                .collect();
            let reference = one_shot(&kernel, &input, 50);
            for chunks in [
                &[1][..],
                &[7],
                &[64],
                &[1000],
                &[4096],
                &[3, 1, 250, 17, 4096, 2, 999],
            ] {
                let got = chunked(&kernel, &input, chunks, 50);
                assert_bits_eq(&reference, &got, &format!("{a} -> {b}, chunks {chunks:?}"));
            }
        }
    }

    #[test]
    fn interleaved_pushes_match_planar() {
        let kernel = kernel(44_100, 48_000);
        // Values exactly representable in f32.
        let planar: Vec<Vec<f64>> = (0..2)
            .map(|c| {
                noise(3000, 7 + c)
                    .iter()
                    .map(|v| (v * 65536.0).round() / 65536.0)
                    .collect()
            })
            .collect();
        let reference = chunked(&kernel, &planar, &[64], 0);
        for as_f32 in [false, true] {
            let mut r =
                Resampler::with_kernel(Arc::clone(&kernel), 2, 3000, kernel.max_input_frames(64));
            let total = to_usize(r.output_frames());
            let mut out = vec![vec![0.0; total]; 2];
            let (mut done, mut fed) = (0, 0);
            while done < total {
                let n = 64.min(total - done);
                let need = r.input_frames_needed(n);
                let mut inter = Vec::new();
                let span = fed..fed + need;
                for (l, r) in planar[0][span.clone()].iter().zip(&planar[1][span]) {
                    inter.extend([*l, *r]);
                }
                if as_f32 {
                    // cast: exact in f32 (the test signal holds f32 values)
                    let v: Vec<f32> = inter.iter().map(|&s| s as f32).collect();
                    r.push_interleaved_f32(&v);
                } else {
                    r.push_interleaved_f64(&inter);
                }
                fed += need;
                let (l, rt) = out.split_at_mut(1);
                r.pull(&mut [&mut l[0][done..done + n], &mut rt[0][done..done + n]]);
                done += n;
            }
            assert_bits_eq(&reference, &out, &format!("interleaved f32={as_f32}"));
        }
    }

    #[test]
    fn output_length_and_tail() {
        for (a, b) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (96_000, 48_000),
            (44_100, 48_001),
        ] {
            let kernel = kernel(a, b);
            let (l, m) = kernel.ratio();
            for frames in [1u64, 2, 147, 160, 441, 1000, 4410] {
                let r = Resampler::with_kernel(Arc::clone(&kernel), 1, frames, 1);
                let expect = (frames * l).div_ceil(m);
                assert_eq!(r.output_frames(), expect, "{a} -> {b}, {frames} frames");
                // The last output frame is centred inside the source, the next one past it.
                assert!((expect - 1) * m / l < frames && expect * m >= frames * l);
                // Producing every output frame takes the whole source, and no more.
                assert_eq!(
                    r.input_frames_needed(to_usize(expect) + 10),
                    to_usize(frames)
                );
            }

            // A burst followed by silence: exact zeros once the kernel has passed it, and
            // zeros past the resampled source's end.
            let mut x = noise(3000, 99);
            x[1000..].fill(0.0);
            let y = one_shot(&kernel, &[x], 100);
            let out_frames = to_usize((3000 * l).div_ceil(m));
            assert_eq!(y[0].len(), out_frames + 100);
            let first_silent = (0..out_frames)
                .find(|&k| usize_to_u64(k) * m / l >= usize_to_u64(999 + kernel.lead + 1))
                .unwrap();
            assert!(y[0][..first_silent].iter().any(|&v| v != 0.0));
            assert!(
                y[0][first_silent..].iter().all(|&v| v.to_bits() == 0),
                "{a} -> {b}: tail not silent"
            );
        }
    }

    #[test]
    fn equal_rates_are_identity() {
        let mut x = noise(1000, 5);
        x[3] = -0.0;
        x[4] = f64::MIN_POSITIVE / 4.0;
        x[5] = 1e300;
        let kernel = kernel(48_000, 48_000);
        assert_eq!(kernel.taps(), 1);
        let input = vec![x.clone()];
        let y = one_shot(&kernel, &input, 0);
        assert_bits_eq(&input, &y, "identity");
        let y = chunked(&kernel, &input, &[1, 7, 64], 0);
        assert_bits_eq(&input, &y, "identity chunked");
    }

    #[test]
    fn dc_is_unity() {
        for (a, b) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (96_000, 48_000),
            (24_000, 48_000),
            (44_100, 48_001),
        ] {
            let kernel = kernel(a, b);
            let y = one_shot(&kernel, &[vec![1.0; 4000]], 0);
            let n = y[0].len();
            let worst = y[0][n / 4..3 * n / 4]
                .iter()
                .map(|v| (v - 1.0).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-9, "{a} -> {b}: DC error {worst:e}");
        }
    }

    #[test]
    fn deterministic_and_resettable() {
        let input = vec![noise(4000, 3)];
        let kernel = kernel(44_100, 48_001);
        let a = one_shot(&kernel, &input, 0);
        let b = one_shot(&Arc::new(Kernel::new(44_100, 48_001)), &input, 0);
        assert_bits_eq(&a, &b, "two kernels");

        let mut r = Resampler::with_kernel(Arc::clone(&kernel), 1, 4000, 4000);
        let n = to_usize(r.output_frames());
        let mut out = vec![0.0; n];
        r.push(&[&input[0][..500]], 500);
        r.pull(&mut [&mut out[..100]]);
        r.reset();
        r.push(&[&input[0]], 4000);
        r.pull(&mut [&mut out]);
        assert_bits_eq(&a, &[out], "after reset");
    }

    #[test]
    fn rows_sum_to_one_and_mirror() {
        for (a, b) in [(44_100, 48_000), (48_000, 44_100), (44_100, 48_001)] {
            let k = kernel(a, b);
            let t = k.taps;
            let rows = k.coefs.len() / t;
            for r in 0..rows {
                let row = &k.coefs[r * t..][..t];
                let s: f64 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-14, "{a} -> {b} row {r}: sum {s}");
            }
            // Row P/2 (phase 1/2) is symmetric.
            if k.phases % 2 == 0 {
                let row = &k.coefs[to_usize(k.phases / 2) * t..][..t];
                assert!(row.iter().eq(row.iter().rev()));
            }
        }
    }
}
