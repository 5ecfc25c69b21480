//! `limiter`: a lookahead peak limiter, GMR's infinite-ratio gain computer (D. Giannoulis,
//! M. Massberg and J. D. Reiss, JAES 2012) with a lookahead attack, in the reference
//! design of the project's DSP references (section 6), and an optional true-peak detector
//! with the ITU-R BS.1770-4 Annex 2 4x interpolator.
//!
//! With `L = round(lookahead_ms fs / 1000)` and `c` the ceiling in dB, per input frame k:
//! 1. `p[k]`: the channel-linked peak, `max(|xL[k]|, |xR[k]|)`; in `true_peak` mode the
//!    largest of the samples and of the 4x interpolated values (BS.1770 Annex 2, 48 taps)
//!    within 6 frames of frame k (the interpolator's reach), so every frame that shapes an
//!    inter-sample peak gets a gain that holds that peak at the ceiling;
//! 2. the wanted gain `h0[k] = min(0, c - 20 log10 p[k])` dB;
//! 3. a minimum over the last `L + 1` frames, `h[k] = min h0[k-L ..= k]`;
//! 4. release: `r[k] = min(h[k], a r[k-1] + (1 - a) h[k])`, `a = exp(-1 / (tau fs))` for
//!    `release_ms` (the gain in dB rises `1 - 1/e` of its way in `tau`; attack is instant
//!    here, the lookahead ramp below is the attack);
//! 5. a box-car mean over the last `L + 1` frames: `g[k] = mean r[k-L ..= k]`,
//!
//! and the output is `x[k - L] 10^(g[k]/20)`. Every `r` in the box-car's window is at most
//! `h0[k - L]`, so the gain reaches the wanted gain at the peak, never overshoots, and the
//! sample peak never passes the ceiling; a final clamp to the ceiling only absorbs the last
//! ulp of rounding. Material below the ceiling passes bit-exact (the gain is exactly 1).
//!
//! Latency: `L` frames, plus 12 in `true_peak` mode (the interpolator's half length and the
//! neighbourhood's, so the detector has seen a frame's neighbourhood before its gain is
//! decided).
//! `ceiling_db` and `release_ms` are read on the control grid at the input's frames.

use crate::delay::DelayLine;
use crate::dsp::envelope::{self, SNAP_DB};
use crate::dsp::grid::{self, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::math;
// The interpolator is the meter's: the limiter is judged by the meter it must satisfy.
use crate::meter::true_peak::{PHASE_0, PHASE_1, TAPS};
use crate::plan::LimiterParams;

/// Frames the interpolator lags its input (its centre).
const INTERPOLATOR_DELAY: usize = 6;
/// Half width of the neighbourhood whose peaks limit a frame in true-peak mode: the
/// interpolator's reach, so the frames that shape an inter-sample peak all get its gain.
const NEIGHBOURHOOD: usize = 6;
/// Frames the true-peak detector lags its input.
pub const TRUE_PEAK_DELAY: usize = INTERPOLATOR_DELAY + NEIGHBOURHOOD;

/// One channel's interpolator history, newest first in `hist[pos..pos + TAPS]`.
#[derive(Debug, Clone, Copy)]
struct Interpolator {
    hist: [f64; 2 * TAPS],
    pos: usize,
}

impl Interpolator {
    const fn new() -> Self {
        Self {
            hist: [0.0; 2 * TAPS],
            pos: 0,
        }
    }

    /// Pushes `x[n]`; returns the largest `|y|` of the four phases (the interval
    /// `(n - 6, n - 5)`).
    #[inline]
    fn push(&mut self, x: f64) -> f64 {
        self.pos = if self.pos == 0 {
            TAPS - 1
        } else {
            self.pos - 1
        };
        self.hist[self.pos] = x;
        self.hist[self.pos + TAPS] = x;
        let w = &self.hist[self.pos..self.pos + TAPS];
        let (mut y0, mut y1, mut y2, mut y3) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..TAPS {
            let v = w[j];
            y0 += PHASE_0[j] * v;
            y1 += PHASE_1[j] * v;
            y2 += PHASE_1[TAPS - 1 - j] * v;
            y3 += PHASE_0[TAPS - 1 - j] * v;
        }
        y0.abs().max(y1.abs()).max(y2.abs()).max(y3.abs())
    }
}

/// Running minimum over a window of frames (a monotonic wedge in fixed ring buffers).
#[derive(Debug, Clone, Default)]
struct MinHold {
    idx: Vec<u64>,
    val: Vec<f64>,
    head: usize,
    len: usize,
    window: u64,
}

impl MinHold {
    fn new(window: usize) -> Self {
        Self {
            idx: vec![0; window + 1],
            val: vec![0.0; window + 1],
            head: 0,
            len: 0,
            window: window as u64,
        }
    }

    fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Pushes value `v` of frame `i`; returns the minimum over frames `i - window + 1 ..= i`.
    #[inline]
    fn push(&mut self, i: u64, v: f64) -> f64 {
        let cap = self.idx.len();
        while self.len > 0 {
            let back = (self.head + self.len - 1) % cap;
            if self.val[back] >= v {
                self.len -= 1;
            } else {
                break;
            }
        }
        let slot = (self.head + self.len) % cap;
        self.idx[slot] = i;
        self.val[slot] = v;
        self.len += 1;
        while self.idx[self.head] + self.window <= i {
            self.head = (self.head + 1) % cap;
            self.len -= 1;
        }
        self.val[self.head]
    }
}

/// Mean over a window of frames; the sum is recomputed exactly once per window so that
/// rounding never accumulates, and a window of zeros gives exactly 0.
#[derive(Debug, Clone, Default)]
struct BoxCar {
    ring: Vec<f64>,
    pos: usize,
    sum: f64,
    nonzero: usize,
}

impl BoxCar {
    fn new(window: usize) -> Self {
        Self {
            ring: vec![0.0; window],
            ..Self::default()
        }
    }

    fn reset(&mut self) {
        self.ring.fill(0.0);
        self.pos = 0;
        self.sum = 0.0;
        self.nonzero = 0;
    }

    #[inline]
    fn push(&mut self, v: f64) -> f64 {
        let old = core::mem::replace(&mut self.ring[self.pos], v);
        self.nonzero = self.nonzero + usize::from(v != 0.0) - usize::from(old != 0.0);
        self.sum += v - old;
        self.pos += 1;
        if self.pos == self.ring.len() {
            self.pos = 0;
            self.sum = self.ring.iter().sum();
        }
        if self.nonzero == 0 {
            self.sum = 0.0;
            return 0.0;
        }
        // cast: windows are far below 2^53
        let n = self.ring.len() as f64;
        (self.sum / n).min(0.0)
    }
}

/// The `limiter` insert. Latency `round(lookahead_ms fs / 1000)` (+ [`TRUE_PEAK_DELAY`]
/// in true-peak mode); allocates in `new` and `prepare` only. Bypassed, it delays by its
/// latency.
pub struct Limiter {
    ceiling: GridParam,
    release: GridParam,
    lookahead_ms: f64,
    true_peak: bool,
    sample_rate: f64,
    lookahead: usize,
    latency: usize,
    ceiling_db: f64,
    ceiling_lin: f64,
    release_a: f64,
    /// The audio, delayed by the latency.
    audio: [DelayLine; 2],
    /// The ceiling (linear) of each input frame, delayed by the latency, for the clamp.
    clamp: DelayLine,
    /// True-peak mode: interpolators, the sample peak and ceiling delayed to the detector.
    interp: [Interpolator; 2],
    last_interval: f64,
    peak_delay: DelayLine,
    /// The last `2 NEIGHBOURHOOD + 1` point peaks (true-peak mode).
    near: [f64; 2 * NEIGHBOURHOOD + 1],
    near_pos: usize,
    ceiling_delay: DelayLine,
    ceiling_lin_delay: DelayLine,
    hold: MinHold,
    boxcar: BoxCar,
    r: f64,
    frame: u64,
}

impl Limiter {
    #[must_use]
    pub fn new(p: &LimiterParams) -> Self {
        let mut l = Self {
            ceiling: GridParam::new(&p.ceiling_db),
            release: GridParam::new(&p.release_ms),
            lookahead_ms: p.lookahead_ms,
            true_peak: p.true_peak,
            sample_rate: 48000.0,
            lookahead: 0,
            latency: 0,
            ceiling_db: 0.0,
            ceiling_lin: 1.0,
            release_a: 0.0,
            audio: [DelayLine::default(), DelayLine::default()],
            clamp: DelayLine::default(),
            interp: [Interpolator::new(); 2],
            last_interval: 0.0,
            peak_delay: DelayLine::default(),
            near: [0.0; 2 * NEIGHBOURHOOD + 1],
            near_pos: 0,
            ceiling_delay: DelayLine::default(),
            ceiling_lin_delay: DelayLine::default(),
            hold: MinHold::default(),
            boxcar: BoxCar::default(),
            r: 0.0,
            frame: 0,
        };
        l.prepare(48000.0, 0);
        l
    }

    /// One frame: detector, gain, delayed output. `x` holds the channels' inputs and
    /// receives the outputs.
    #[inline]
    fn tick(&mut self, x: &mut [f64; 2], channels: usize) {
        let (p, c_db, c_lin) = if self.true_peak {
            let mut interval = 0.0f64;
            let mut sample = 0.0f64;
            for (interp, &v) in self.interp.iter_mut().zip(x.iter()).take(channels) {
                interval = interval.max(interp.push(v));
                sample = sample.max(v.abs());
            }
            // The frame `INTERPOLATOR_DELAY` back and the intervals either side of it.
            let sample = self.peak_delay.tick(sample);
            self.near[self.near_pos] = sample.max(interval).max(self.last_interval);
            self.near_pos = (self.near_pos + 1) % self.near.len();
            self.last_interval = interval;
            // The largest over that frame's neighbourhood, centred `TRUE_PEAK_DELAY` back.
            let p = self.near.iter().fold(0.0f64, |m, &v| m.max(v));
            (
                p,
                self.ceiling_delay.tick(self.ceiling_db),
                self.ceiling_lin_delay.tick(self.ceiling_lin),
            )
        } else {
            let p = if channels == 2 {
                x[0].abs().max(x[1].abs())
            } else {
                x[0].abs()
            };
            (p, self.ceiling_db, self.ceiling_lin)
        };
        let wanted = if p > c_lin {
            (c_db - 20.0 * math::log10(p)).min(0.0)
        } else {
            0.0
        };
        let h = self.hold.push(self.frame, wanted);
        self.frame += 1;
        let a = self.release_a;
        self.r = h.min(a * self.r + (1.0 - a) * h);
        if h == 0.0 && self.r > -SNAP_DB {
            self.r = 0.0;
        }
        let g_db = self.boxcar.push(self.r);
        let g = if g_db == 0.0 {
            1.0
        } else {
            math::db_to_gain(g_db)
        };
        let limit = self.clamp.tick(self.ceiling_lin);
        for (ch, v) in x.iter_mut().enumerate().take(channels) {
            let y = self.audio[ch].tick(*v) * g;
            *v = y.clamp(-limit, limit);
        }
    }
}

impl Processor for Limiter {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        // cast: 0 ..= 100 ms
        let lookahead =
            (self.lookahead_ms.clamp(0.0, 100.0) * sample_rate / 1000.0).round() as usize;
        let detector = if self.true_peak { TRUE_PEAK_DELAY } else { 0 };
        self.lookahead = lookahead;
        self.latency = lookahead + detector;
        self.audio = [DelayLine::new(self.latency), DelayLine::new(self.latency)];
        self.clamp = DelayLine::new(self.latency);
        self.peak_delay = DelayLine::new(if self.true_peak {
            INTERPOLATOR_DELAY
        } else {
            0
        });
        self.ceiling_delay = DelayLine::new(detector);
        self.ceiling_lin_delay = DelayLine::new(detector);
        self.hold = MinHold::new(lookahead + 1);
        self.boxcar = BoxCar::new(lookahead + 1);
        self.sample_rate = sample_rate;
        self.ceiling.invalidate();
        self.release.invalidate();
        self.reset();
    }

    fn reset(&mut self) {
        self.audio.iter_mut().for_each(DelayLine::reset);
        self.clamp.reset();
        self.interp = [Interpolator::new(); 2];
        self.last_interval = 0.0;
        self.peak_delay.reset();
        self.near = [0.0; 2 * NEIGHBOURHOOD + 1];
        self.near_pos = 0;
        self.ceiling_delay.reset();
        self.ceiling_lin_delay.reset();
        self.hold.reset();
        self.boxcar.reset();
        self.r = 0.0;
        self.frame = 0;
    }

    fn latency(&self) -> usize {
        self.latency
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let channels = block.channels.min(2);
        for chunk in grid::chunks(block.start, block.len()) {
            if let (c, true) = self.ceiling.at(chunk.grid) {
                self.ceiling_db = c;
                self.ceiling_lin = math::db_to_gain(c);
            }
            if let (ms, true) = self.release.at(chunk.grid) {
                self.release_a = envelope::coefficient(ms, self.sample_rate);
            }
            for i in chunk.range() {
                let mut x = [block.left[i], 0.0];
                if channels == 2 {
                    x[1] = block.right[i];
                }
                self.tick(&mut x, channels);
                block.left[i] = x[0];
                if channels == 2 {
                    block.right[i] = x[1];
                }
            }
        }
    }

    fn process_bypassed(&mut self, block: &mut AudioBlock<'_>) {
        self.audio[0].process(block.left);
        if block.channels == 2 {
            self.audio[1].process(block.right);
        }
    }
}
