//! `delay`: a feedback delay, plain or ping-pong, with a low-cut and a high-cut in its loop
//! (J. O. Smith, *Physical Audio Signal Processing*, 2010, "Feedback Comb Filters" and
//! "Delay-Line Interpolation"; U. Zoelzer (ed.), *DAFX*, 2nd ed. 2011, ch. 2, delays).
//!
//! Per channel, with `D` the delay in frames, `g` the feedback and `F` the loop filters:
//! `w[n] = v[n - D]` (the wet signal), `v[n] = F(x[n] + g w[n])` (what the line stores).
//! So an impulse comes back at `D`, `2D`, `3D`, ... with gains `1, g, g^2, ...` times `F`,
//! `F^2`, `F^3`, ...: the filters sit in the loop at the line's input, every repeat (the
//! first too) has been through them once more than the one before, and a negative `g`
//! flips the polarity of every other repeat. `F` is a cookbook 2nd-order high-pass at
//! `lowcut_hz` then a cookbook 2nd-order low-pass at `highcut_hz` (Butterworth, Q 0.7071:
//! -3.01 dB at the corner and never above 0 dB, so the loop gain stays below 1); either is
//! absent when its key is null.
//!
//! Ping-pong: the input's mono sum `(L + R) / 2` (a mono input as it is) enters the left
//! line, the left line's output feeds the right line and the right's feeds the left, each
//! through `g` and `F`: repeats alternate left, right, left, ... (`1` on the left at `D`,
//! `g` on the right at `2D`, `g^2` on the left at `3D`). A mono input leaves stereo.
//! Otherwise each channel has its own line and a mono input stays mono.
//!
//! Time: the spec's static delay, `D = round(time_ms / 1000 * fs)` frames, read on the
//! control grid. Below one frame (`D = 0`, or a glide between 0 and 1) the loop is open, as
//! a loop without a frame of delay cannot run: each line stores `F` of its input alone (the
//! feedback has no effect) and the wet signal is read `D` frames behind the sample just
//! stored, so `D = 0` passes `F(x)` (the input itself without filters). A change of `D`
//! glides (see [`crate::dsp::ring`]: a speed-limited one-pole with Catmull-Rom reads), so time
//! automation never clicks, and a constant time reads whole frames: a bit-exact delay of
//! the input. `feedback`, `lowcut_hz` and `highcut_hz` are read on the grid, `mix` per
//! frame: `(1 - mix) dry + mix wet`. Latency 0 (the delay is the effect, not a latency to
//! compensate).

use crate::dsp::biquad::{Biquad, BiquadCoefficients, Omega};
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::ring::{Glide, Ring, flush};
use crate::dsp::{AudioBlock, Processor};
use crate::plan::{DelayParams, Lane};

/// A loop filter read on the grid: its corner's lane, design and one state per line.
struct LoopFilter {
    hz: GridParam,
    highpass: bool,
    c: BiquadCoefficients,
    state: [Biquad; 2],
}

impl LoopFilter {
    fn new(lane: &Lane, highpass: bool) -> Self {
        Self {
            hz: GridParam::new(lane),
            highpass,
            c: BiquadCoefficients::IDENTITY,
            state: [Biquad::default(); 2],
        }
    }

    fn update(&mut self, grid: i64, sample_rate: f64) {
        if let (f, true) = self.hz.at(grid) {
            // The plan's range is 1 Hz .. 0.49 fs; the clamp only keeps a design stable.
            let w = Omega::new(f.clamp(1.0, 0.49 * sample_rate), sample_rate);
            let q = core::f64::consts::FRAC_1_SQRT_2;
            self.c = if self.highpass {
                BiquadCoefficients::highpass(w, q)
            } else {
                BiquadCoefficients::lowpass(w, q)
            };
        }
    }
}

/// Which lines run and how they are wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mono,
    Stereo,
    PingPong,
}

/// The `delay` insert. Latency 0; allocates in `prepare` (its lines, sized for the longest
/// time the lane asks for), which must run before `process`; never after.
pub struct Delay {
    time_ms: GridParam,
    feedback: GridParam,
    /// High-pass then low-pass, in the loop; `None` when the key is null.
    filters: [Option<LoopFilter>; 2],
    mix: Lane,
    ping_pong: bool,
    /// The longest delay the time lane asks for, in ms (sizes the lines).
    max_ms: f64,
    sample_rate: f64,
    lines: [Ring; 2],
    glide: Glide,
    g: f64,
    mix_buf: [f64; GRID],
}

impl Delay {
    #[must_use]
    pub fn new(p: &DelayParams) -> Self {
        let max_ms = p.time_ms.points.iter().map(|pt| pt.1).fold(0.0, f64::max);
        Self {
            time_ms: GridParam::new(&p.time_ms),
            feedback: GridParam::new(&p.feedback),
            filters: [
                p.lowcut_hz.as_ref().map(|l| LoopFilter::new(l, true)),
                p.highcut_hz.as_ref().map(|l| LoopFilter::new(l, false)),
            ],
            mix: p.mix.clone(),
            ping_pong: p.ping_pong,
            max_ms,
            sample_rate: 48000.0,
            lines: [Ring::default(), Ring::default()],
            glide: Glide::new(48000.0),
            g: 0.0,
            mix_buf: [0.0; GRID],
        }
    }

    /// The spec's static delay in frames: `round(t * fs)` (0 for 0 ms).
    fn frames(&self, ms: f64) -> f64 {
        (ms / 1000.0 * self.sample_rate).round()
    }

    fn invalidate(&mut self) {
        self.time_ms.invalidate();
        self.feedback.invalidate();
        for f in self.filters.iter_mut().flatten() {
            f.hz.invalidate();
        }
    }

    /// Reads the grid keys at `grid`.
    fn update(&mut self, grid: i64) {
        if let (ms, true) = self.time_ms.at(grid) {
            let d = self.frames(ms);
            self.glide.set_target(d);
        }
        if let (g, true) = self.feedback.at(grid) {
            self.g = g;
        }
        let fs = self.sample_rate;
        for f in self.filters.iter_mut().flatten() {
            f.update(grid, fs);
        }
    }

    /// `F(x)` on line `ch`: the loop filters, then the denormal flush.
    #[inline]
    fn filter(filters: &mut [Option<LoopFilter>; 2], ch: usize, x: f64) -> f64 {
        let mut y = x;
        for f in filters.iter_mut().flatten() {
            y = f.state[ch].process(&f.c, y);
        }
        flush(y)
    }
}

/// `(1 - m) dry + m wet`, exactly `dry` at 0 and exactly `wet` at 1.
#[inline]
pub(crate) fn mix(dry: f64, wet: f64, m: f64) -> f64 {
    if m == 1.0 {
        wet
    } else if m == 0.0 {
        dry
    } else {
        (1.0 - m) * dry + m * wet
    }
}

impl Processor for Delay {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        self.sample_rate = sample_rate;
        let longest = self.frames(self.max_ms);
        // cast: <= 10 s of frames
        let longest = longest as usize;
        self.lines = [Ring::new(longest), Ring::new(longest)];
        self.glide = Glide::new(sample_rate);
        self.invalidate();
        self.reset();
    }

    fn reset(&mut self) {
        self.lines.iter_mut().for_each(Ring::reset);
        self.glide.reset();
        for f in self.filters.iter_mut().flatten() {
            f.state = [Biquad::default(); 2];
        }
        // The glide takes the next target at once: read it again.
        self.time_ms.invalidate();
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let mode = match (self.ping_pong, block.channels) {
            (true, _) => Mode::PingPong,
            (false, 1) => Mode::Mono,
            (false, _) => Mode::Stereo,
        };
        let mono_in = block.channels == 1;
        for chunk in grid::chunks(block.start, block.len()) {
            self.update(chunk.grid);
            let mixes = grid::per_frame(&self.mix, chunk.frame, &mut self.mix_buf, chunk.len);
            let g = self.g;
            for (j, i) in chunk.range().enumerate() {
                let m = mixes.unwrap_or(self.mix_buf[j]);
                // Whole frames while settled: the delay is then bit-exact.
                let d = self.glide.tick();
                let [a, b] = &mut self.lines;
                let xl = block.left[i];
                if d < 1.0 {
                    // The open loop (module doc): push, then read `d` behind the push.
                    let back = d + 1.0;
                    let f = &mut self.filters;
                    match mode {
                        Mode::Mono => {
                            a.push(Self::filter(f, 0, xl));
                            block.left[i] = mix(xl, a.read(back), m);
                        }
                        Mode::Stereo => {
                            let xr = block.right[i];
                            a.push(Self::filter(f, 0, xl));
                            b.push(Self::filter(f, 1, xr));
                            block.left[i] = mix(xl, a.read(back), m);
                            block.right[i] = mix(xr, b.read(back), m);
                        }
                        Mode::PingPong => {
                            let xr = if mono_in { xl } else { block.right[i] };
                            let input = if mono_in { xl } else { 0.5 * (xl + xr) };
                            a.push(Self::filter(f, 0, input));
                            b.push(Self::filter(f, 1, 0.0));
                            block.left[i] = mix(xl, a.read(back), m);
                            block.right[i] = mix(xr, b.read(back), m);
                        }
                    }
                    continue;
                }
                match mode {
                    Mode::Mono => {
                        let w = a.read(d);
                        a.push(Self::filter(&mut self.filters, 0, xl + g * w));
                        block.left[i] = mix(xl, w, m);
                    }
                    Mode::Stereo => {
                        let xr = block.right[i];
                        let (wl, wr) = (a.read(d), b.read(d));
                        a.push(Self::filter(&mut self.filters, 0, xl + g * wl));
                        b.push(Self::filter(&mut self.filters, 1, xr + g * wr));
                        block.left[i] = mix(xl, wl, m);
                        block.right[i] = mix(xr, wr, m);
                    }
                    Mode::PingPong => {
                        let xr = if mono_in { xl } else { block.right[i] };
                        let input = if mono_in { xl } else { 0.5 * (xl + xr) };
                        let (wl, wr) = (a.read(d), b.read(d));
                        a.push(Self::filter(&mut self.filters, 0, input + g * wr));
                        b.push(Self::filter(&mut self.filters, 1, g * wl));
                        block.left[i] = mix(xl, wl, m);
                        block.right[i] = mix(xr, wr, m);
                    }
                }
            }
            if chunk.ends_cell() {
                for f in self.filters.iter_mut().flatten() {
                    f.state.iter_mut().for_each(Biquad::flush);
                }
            }
        }
        if mode == Mode::PingPong {
            block.channels = 2;
        }
    }
}
