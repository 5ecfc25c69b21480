//! Linear-phase polyphase oversampling by 2, 4, 8 or 16: a cascade of half-band FIR
//! stages (Kaiser-windowed sinc, J. F. Kaiser's design formulas), each used as a two-phase
//! polyphase interpolator on the way up and a decimator on the way down.
//!
//! Stage `k` runs at `2^k fs`. Every stage passes 0 .. `PASS` x fs (20 kHz at 48 kHz) and
//! stops from `2^(k-1) fs - PASS fs` with at least [`STOPBAND_DB`] of attenuation, so
//! images of the input (going up) and content that would fold onto the passband (going
//! down) are at least that far down. The first stage has the narrow transition band
//! (20 .. 28 kHz at 48 kHz) and most taps; the later ones are short. Each half-band's taps
//! are normalised so that both polyphase branches have a DC gain of exactly 1.
//!
//! The round trip (up, then down, with nothing in between) is a pure delay of
//! [`Oversampler::latency`] base-rate frames (within the passband ripple): each decimator
//! keeps the even or the odd samples, whichever makes the delay a whole number of frames,
//! so no fractional-delay padding is needed.

use crate::math;

/// Stopband attenuation of every stage, dB.
pub const STOPBAND_DB: f64 = 120.0;
/// Passband edge as a fraction of the base sample rate (20 kHz at 48 kHz).
pub const PASS: f64 = 20.0 / 48.0;

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut term, mut sum, mut k) = (1.0, 1.0, 1.0);
    while term > sum * 1e-18 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// The odd-offset taps of a half-band filter for stage `stage` (1-based), scaled for
/// interpolation: `c[j]` multiplies the inputs `j + 1/2` samples either side of the
/// interpolated point, and `2 sum c = 1`. The length starts at Kaiser's estimate and grows
/// until the stopband (checked on a dense grid) meets [`STOPBAND_DB`].
fn half_band(stage: u32) -> Vec<f64> {
    let scale = f64::from(1u32 << stage);
    // Transition width as a fraction of the stage's rate.
    let df = 0.5 - 2.0 * PASS / scale;
    let taps_minus_1 = (STOPBAND_DB - 7.95) / (2.285 * core::f64::consts::TAU * df);
    // cast: a few dozen
    let mut j = ((taps_minus_1 + 2.0) / 4.0).ceil().max(1.0) as usize;
    loop {
        let c = kaiser_half_band(j);
        if stopband_peak(&c, 0.5 - PASS / scale) <= math::db_to_gain(-STOPBAND_DB) {
            return c;
        }
        j += 1;
    }
}

fn kaiser_half_band(j: usize) -> Vec<f64> {
    // Kaiser's beta for 10 dB more than the target: a half-band's stopband is bounded by
    // the window's sidelobes, which sit a few dB above Kaiser's estimate.
    let beta = 0.1102 * (STOPBAND_DB + 10.0 - 8.7);
    let m = 2.0 * j as f64;
    let i0_beta = bessel_i0(beta);
    let mut c: Vec<f64> = (0..j)
        .map(|i| {
            let o = (2 * i + 1) as f64;
            let window = bessel_i0(beta * math::sqrt(1.0 - (o / m) * (o / m))) / i0_beta;
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            // 2 h(o) with h(o) = sin(pi o / 2) / (pi o): the interpolator's gain of 2.
            2.0 * sign / (core::f64::consts::PI * o) * window
        })
        .collect();
    let sum: f64 = c.iter().sum();
    c.iter_mut().for_each(|v| *v /= 2.0 * sum);
    c
}

/// |H| of a stage's decimation filter (centre 1/2, odd taps c/2) at `f` cycles per sample.
fn magnitude(c: &[f64], f: f64) -> f64 {
    let mut h = 0.5;
    for (k, ck) in c.iter().enumerate() {
        let o = (2 * k + 1) as f64;
        h += ck * math::cos(core::f64::consts::TAU * f * o);
    }
    h.abs()
}

/// The largest |H| from `edge` to 0.5 cycles per sample.
fn stopband_peak(c: &[f64], edge: f64) -> f64 {
    (0..=1000)
        .map(|i| magnitude(c, edge + (0.5 - edge) * f64::from(i) / 1000.0))
        .fold(0.0, f64::max)
}

/// `sum a[k] b[k]` with four partial sums in a fixed order (the same bits on every
/// machine), so the compiler can keep them in registers and vectorise.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[l] += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// One channel of one stage: the interpolator's and the decimator's input histories.
#[derive(Debug, Clone)]
struct StageState {
    /// `[history (2J - 1) | new inputs]` for the interpolator.
    up: Vec<f64>,
    /// The decimator's input split by parity: the stream its taps read
    /// (`[history (2J - 1) | new]`) and the stream its centre reads (`[history J | new]`).
    taps: Vec<f64>,
    centre: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Stage {
    /// The odd-offset taps, `c[k]` at `+-(k + 1/2)` input samples from the interpolated point.
    c: Vec<f64>,
    /// The same taps in window order, `c[J-1] .. c[0], c[0] .. c[J-1]`.
    window: Vec<f64>,
    /// Decimator phase: 0 keeps the even samples, 1 the odd ones.
    phase: usize,
}

impl Stage {
    fn new(c: Vec<f64>) -> Self {
        let window = c.iter().rev().chain(c.iter()).copied().collect();
        Self {
            c,
            window,
            phase: 0,
        }
    }

    fn j(&self) -> usize {
        self.c.len()
    }

    fn state(&self, max_in: usize) -> StageState {
        let j = self.j();
        StageState {
            up: vec![0.0; 2 * j - 1 + max_in],
            taps: vec![0.0; 2 * j - 1 + max_in],
            centre: vec![0.0; j + max_in],
        }
    }

    /// `input` (n) -> `out` (2n): the point half a sample before the centre, interpolated,
    /// then the centre sample itself.
    fn up(&self, st: &mut StageState, input: &[f64], out: &mut [f64]) {
        let j = self.j();
        let h = 2 * j - 1;
        let n = input.len();
        let w = &mut st.up;
        w[h..h + n].copy_from_slice(input);
        for (i, o) in out.chunks_exact_mut(2).take(n).enumerate() {
            // The newest input is at h + i, the centre at m.
            let m = h + i + 1 - j;
            o[0] = dot(&self.window, &w[m - j..m + j]);
            o[1] = w[m];
        }
        w.copy_within(n..n + h, 0);
    }

    /// `input` (2n) -> `out` (n). Output i is centred on input `2i + phase - (2J - 1)`;
    /// its taps are the samples of the other parity, contiguous in `taps`.
    fn down(&self, st: &mut StageState, input: &[f64], out: &mut [f64]) {
        let j = self.j();
        let n = input.len() / 2;
        // phase 1: taps on the odd samples, centre on the even ones; phase 0: the reverse.
        let (tp, cp) = if self.phase == 1 { (1, 0) } else { (0, 1) };
        let (ht, hc) = (2 * j - 1, j);
        for (i, pair) in input.chunks_exact(2).enumerate() {
            st.taps[ht + i] = pair[tp];
            st.centre[hc + i] = pair[cp];
        }
        for (i, o) in out.iter_mut().take(n).enumerate() {
            // Newest tap-stream sample at ht + i; the window is the last 2J of them.
            let taps = &st.taps[ht + i + 1 - 2 * j..=ht + i];
            let centre = st.centre[hc + i + self.phase - j];
            *o = 0.5 * (centre + dot(&self.window, taps));
        }
        st.taps.copy_within(n..n + ht, 0);
        st.centre.copy_within(n..n + hc, 0);
    }
}

/// Oversampling by `2^stages` around a memoryless function, for up to two channels and
/// chunks of up to `max_chunk` base-rate frames. Allocates only in [`Oversampler::new`].
#[derive(Debug, Clone)]
pub struct Oversampler {
    stages: Vec<Stage>,
    /// Per channel, per stage.
    state: [Vec<StageState>; 2],
    /// Work buffers per rate: `levels[k]` holds `max_chunk << k` samples.
    levels: Vec<Vec<f64>>,
    latency: usize,
    max_chunk: usize,
}

impl Oversampler {
    /// An oversampler by `factor` (1, 2, 4, 8 or 16; others are rounded down to a power
    /// of two, at most 16).
    #[must_use]
    pub fn new(factor: u32, max_chunk: usize) -> Self {
        let count = factor.clamp(1, 16).ilog2();
        let mut stages: Vec<Stage> = (1..=count).map(|k| Stage::new(half_band(k))).collect();
        // Delay of the round trip below stage k, in samples at its rate, from the top down.
        let mut inner = 0usize;
        for st in stages.iter_mut().rev() {
            let c = 2 * st.j() - 1;
            st.phase = inner % 2;
            inner = (2 * c + inner - st.phase) / 2;
        }
        let state = |_| {
            stages
                .iter()
                .enumerate()
                .map(|(k, s)| s.state(max_chunk << k))
                .collect()
        };
        let state = [state(0), state(1)];
        let levels = (0..=count).map(|k| vec![0.0; max_chunk << k]).collect();
        Self {
            stages,
            state,
            levels,
            latency: inner,
            max_chunk,
        }
    }

    /// Frames of delay of the round trip at the base rate.
    #[must_use]
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// The oversampling factor.
    #[must_use]
    pub fn factor(&self) -> usize {
        1 << self.stages.len()
    }

    /// Clears the filters' histories.
    pub fn reset(&mut self) {
        for ch in &mut self.state {
            for s in ch {
                s.up.fill(0.0);
                s.taps.fill(0.0);
                s.centre.fill(0.0);
            }
        }
    }

    /// Upsamples `x` (channel `ch`, at most `max_chunk` frames), applies `f` to every
    /// oversampled value, and writes the decimated result back into `x`.
    pub fn process(&mut self, ch: usize, x: &mut [f64], mut f: impl FnMut(f64) -> f64) {
        let n = x.len();
        assert!(
            n <= self.max_chunk,
            "chunk of {n} frames over {}",
            self.max_chunk
        );
        let count = self.stages.len();
        if count == 0 {
            x.iter_mut().for_each(|v| *v = f(*v));
            return;
        }
        let state = &mut self.state[ch];
        let levels = &mut self.levels;
        levels[0][..n].copy_from_slice(x);
        for k in 0..count {
            let (lo, hi) = levels.split_at_mut(k + 1);
            self.stages[k].up(&mut state[k], &lo[k][..n << k], &mut hi[0][..n << (k + 1)]);
        }
        for v in &mut levels[count][..n << count] {
            *v = f(*v);
        }
        for k in (0..count).rev() {
            let (lo, hi) = levels.split_at_mut(k + 1);
            self.stages[k].down(&mut state[k], &hi[0][..n << (k + 1)], &mut lo[k][..n << k]);
        }
        x.copy_from_slice(&levels[0][..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_meet_their_stopband() {
        for stage in 1..=4u32 {
            let c = half_band(stage);
            let scale = f64::from(1u32 << stage);
            let (fp, fs) = (PASS / scale, 0.5 - PASS / scale);
            let mut worst_stop: f64 = 0.0;
            let mut worst_pass: f64 = 0.0;
            for i in 0..=2003 {
                let t = f64::from(i) / 2003.0;
                worst_pass = worst_pass.max((magnitude(&c, t * fp) - 1.0).abs());
                worst_stop = worst_stop.max(magnitude(&c, fs + t * (0.5 - fs)));
            }
            let stop_db = 20.0 * math::log10(worst_stop);
            assert!(
                stop_db < -STOPBAND_DB + 0.5,
                "stage {stage}: stopband {stop_db:.1} dB ({} taps)",
                c.len()
            );
            assert!(
                worst_pass < 1e-5,
                "stage {stage}: passband ripple {worst_pass:e}"
            );
        }
    }

    #[test]
    fn latencies() {
        let l: Vec<usize> = [1, 2, 4, 8, 16]
            .iter()
            .map(|&f| Oversampler::new(f, 32).latency())
            .collect();
        let taps: Vec<usize> = (1..=4).map(|k| half_band(k).len()).collect();
        assert_eq!(l[0], 0);
        eprintln!("latencies {l:?}, taps per side {taps:?}");
    }

    #[test]
    fn round_trip_is_a_delay() {
        for factor in [2, 4, 8, 16] {
            let mut os = Oversampler::new(factor, 32);
            let lat = os.latency();
            let n = 4096u32;
            let x: Vec<f64> = (0..n)
                .map(|i| math::sin(core::f64::consts::TAU * 1000.0 * f64::from(i) / 48000.0))
                .collect();
            let mut y = x.clone();
            for c in y.chunks_mut(32) {
                os.process(0, c, |v| v);
            }
            let mut err: f64 = 0.0;
            for i in 1000..x.len() {
                err = err.max((y[i] - x[i - lat]).abs());
            }
            assert!(err < 1e-5, "x{factor}: latency {lat}, error {err:e}");
        }
    }
}
