//! `compressor`: a feed-forward, log-domain compressor after D. Giannoulis, M. Massberg and
//! J. D. Reiss, *Digital Dynamic Range Compressor Design: A Tutorial and Analysis*, JAES
//! 60(6), 2012 (GMR), in their recommended order: level, gain computer, then the smooth
//! branching detector on the gain reduction in dB.
//!
//! Per sample, with `k` the key (the block's sidechain when the engine routes one, else the
//! insert's own input), optionally high-passed (cookbook 2nd order, Q 0.7071):
//! 1. level: peak `x_G = 20 log10 |k|`, or RMS `x_G = 10 log10 m`,
//!    `m[n] = a m[n-1] + (1 - a) k[n]^2` with `a` from `rms_ms`; with `stereo_link` the
//!    detector sees `max(|kL|, |kR|)` (peak) or `(kL^2 + kR^2) / 2` (RMS) and one gain
//!    drives both channels, else each channel has its own detector and gain;
//! 2. `x_L = x_G - y_G` with `y_G` the static curve (GMR eq. 4, soft knee of `knee_db`);
//! 3. `y_L`: smooth branching (GMR eq. 16) with `alpha = exp(-1 / (tau fs))` for `attack_ms`
//!    and `release_ms` (a step reaches `1 - 1/e` of its way in `tau`);
//! 4. `y = x 10^((makeup_db - y_L) / 20)`, then `(1 - mix) x + mix y`.
//!
//! `makeup_db` and `mix` follow their lanes per frame; the other keys are read on the
//! control grid. A mono strip has one detector (its key linked as above). Latency 0.

use crate::dsp::biquad::{Biquad, BiquadCoefficients, Omega};
use crate::dsp::envelope::{self, SmoothBranching};
use crate::dsp::grid::{self, GRID, GridParam};
use crate::dsp::{AudioBlock, Processor};
use crate::math;
use crate::plan::{CompressorDetector as DetectorKind, CompressorParams, Lane};

/// The static curve and ballistics, as read from the grid.
#[derive(Debug, Clone, Copy)]
struct Curve {
    threshold: f64,
    ratio: f64,
    knee: f64,
    /// Levels at or below this (linear; squared for RMS) ask for no reduction.
    quiet: f64,
    attack: f64,
    release: f64,
    rms: f64,
}

impl Curve {
    /// `x_L` for a linear peak level.
    #[inline]
    fn reduction_of_peak(&self, level: f64) -> f64 {
        if level <= self.quiet {
            return 0.0;
        }
        envelope::reduction(math::level_db(level), self.threshold, self.ratio, self.knee)
    }

    /// `x_L` for a mean square.
    #[inline]
    fn reduction_of_power(&self, power: f64) -> f64 {
        if power <= self.quiet * self.quiet {
            return 0.0;
        }
        let x = 10.0 * math::log10(power);
        envelope::reduction(x, self.threshold, self.ratio, self.knee)
    }
}

/// One detector: the RMS average (when used) and the smoothed reduction.
#[derive(Debug, Clone, Copy, Default)]
struct Detector {
    power: f64,
    env: SmoothBranching,
}

impl Detector {
    /// Takes the key's peak `|k|` and mean square; returns `y_L` in dB.
    #[inline]
    fn step(&mut self, c: &Curve, rms: bool, peak: f64, square: f64) -> f64 {
        let x_l = if rms {
            self.power = c.rms * self.power + (1.0 - c.rms) * square;
            c.reduction_of_power(self.power)
        } else {
            c.reduction_of_peak(peak)
        };
        self.env.step(x_l, c.attack, c.release)
    }
}

/// The `compressor` insert. Latency 0; allocates nothing after [`Compressor::new`].
pub struct Compressor {
    threshold: GridParam,
    ratio: GridParam,
    knee: GridParam,
    attack: GridParam,
    release: GridParam,
    rms_ms: GridParam,
    hpf_hz: Option<GridParam>,
    makeup_db: Lane,
    mix: Lane,
    rms: bool,
    link: bool,
    sample_rate: f64,
    curve: Curve,
    hpf: BiquadCoefficients,
    hpf_state: [Biquad; 2],
    detectors: [Detector; 2],
    makeup_buf: [f64; GRID],
    mix_buf: [f64; GRID],
    scratch: [f64; GRID],
}

impl Compressor {
    #[must_use]
    pub fn new(p: &CompressorParams) -> Self {
        Self {
            threshold: GridParam::new(&p.threshold_db),
            ratio: GridParam::new(&p.ratio),
            knee: GridParam::new(&p.knee_db),
            attack: GridParam::new(&p.attack_ms),
            release: GridParam::new(&p.release_ms),
            rms_ms: GridParam::new(&p.rms_ms),
            hpf_hz: p.sidechain_hpf_hz.as_ref().map(GridParam::new),
            makeup_db: p.makeup_db.clone(),
            mix: p.mix.clone(),
            rms: p.detector == DetectorKind::Rms,
            link: p.stereo_link,
            sample_rate: 48000.0,
            curve: Curve {
                threshold: 0.0,
                ratio: 1.0,
                knee: 0.0,
                quiet: 1.0,
                attack: 0.0,
                release: 0.0,
                rms: 0.0,
            },
            hpf: BiquadCoefficients::IDENTITY,
            hpf_state: [Biquad::default(); 2],
            detectors: [Detector::default(); 2],
            makeup_buf: [0.0; GRID],
            mix_buf: [0.0; GRID],
            scratch: [0.0; GRID],
        }
    }

    fn invalidate(&mut self) {
        for p in [
            &mut self.threshold,
            &mut self.ratio,
            &mut self.knee,
            &mut self.attack,
            &mut self.release,
            &mut self.rms_ms,
        ] {
            p.invalidate();
        }
        if let Some(p) = &mut self.hpf_hz {
            p.invalidate();
        }
    }

    /// Reads the grid keys at `grid`, recomputing what changed.
    fn update(&mut self, grid: i64) {
        let fs = self.sample_rate;
        let (t, t_new) = self.threshold.at(grid);
        let (r, r_new) = self.ratio.at(grid);
        let (w, w_new) = self.knee.at(grid);
        if t_new || r_new || w_new {
            let w = w.max(0.0);
            self.curve.threshold = t;
            self.curve.ratio = r.max(1.0);
            self.curve.knee = w;
            self.curve.quiet = math::db_to_gain(t - w / 2.0).max(f64::MIN_POSITIVE);
        }
        if let (a, true) = self.attack.at(grid) {
            self.curve.attack = envelope::coefficient(a, fs);
        }
        if let (a, true) = self.release.at(grid) {
            self.curve.release = envelope::coefficient(a, fs);
        }
        if let (a, true) = self.rms_ms.at(grid) {
            self.curve.rms = envelope::coefficient(a, fs);
        }
        if let Some(p) = &mut self.hpf_hz {
            if let (f, true) = p.at(grid) {
                let f = f.clamp(1e-3, 0.4999 * fs);
                self.hpf = BiquadCoefficients::highpass(
                    Omega::new(f, fs),
                    core::f64::consts::FRAC_1_SQRT_2,
                );
            }
        }
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, sample_rate: f64, _max_block: usize) {
        self.sample_rate = sample_rate;
        self.invalidate();
        self.reset();
    }

    fn reset(&mut self) {
        self.hpf_state = [Biquad::default(); 2];
        self.detectors = [Detector::default(); 2];
    }

    fn process(&mut self, block: &mut AudioBlock<'_>) {
        let channels = block.channels;
        let key = block.sidechain;
        let has_hpf = self.hpf_hz.is_some();
        for chunk in grid::chunks(block.start, block.len()) {
            self.update(chunk.grid);
            let makeup = grid::per_frame(
                &self.makeup_db,
                chunk.frame,
                &mut self.makeup_buf,
                chunk.len,
            );
            let mix = grid::per_frame(&self.mix, chunk.frame, &mut self.mix_buf, chunk.len);
            let steady_gain = makeup.map(math::db_to_gain);
            let c = self.curve;
            if let (Some(mk), Some(1.0), false, false, true) =
                (makeup, mix, has_hpf, self.rms, self.link || channels == 1)
            {
                // The common case (one peak detector, steady make-up, fully wet) without
                // per-sample branches: GMR's hard-knee reduction is `max(0, (x_G - T)(1 -
                // 1/R))`, and a reduction of 0 gives the make-up gain anyway.
                let slope = 1.0 - 1.0 / c.ratio;
                let range = chunk.range();
                let left = &mut block.left[range.clone()];
                let right: &mut [f64] = if channels == 2 {
                    &mut block.right[range.clone()]
                } else {
                    &mut []
                };
                let key = key.map(|k| (&k.left[range.clone()], &k.right[range]));
                // In passes over the chunk: the key's peaks, their reductions, the
                // detector's recursion (its state in a register), the gains, applied.
                let n = left.len();
                let peaks = &mut self.scratch[..n];
                match (key, channels) {
                    (None, 2) => {
                        for ((p, l), r) in peaks.iter_mut().zip(&*left).zip(&*right) {
                            *p = l.abs().max(r.abs());
                        }
                    }
                    (None, _) => {
                        for (p, l) in peaks.iter_mut().zip(&*left) {
                            *p = l.abs();
                        }
                    }
                    (Some((kl, kr)), _) => {
                        for ((p, a), b) in peaks.iter_mut().zip(kl).zip(kr) {
                            *p = a.abs().max(b.abs());
                        }
                    }
                }
                // Only the middle step is a recursion; the others vectorise. A level at or
                // below `quiet` asks for no reduction, exactly: a chunk of them (often half
                // of a track's) needs no logarithm.
                let quiet = c.quiet;
                let mut y = self.detectors[0].env.y;
                if peaks.iter().all(|&p| p <= quiet) {
                    // Release all the way: `smooth` towards 0 is `release * y` (its `+ (1 -
                    // release) 0` adds nothing to a y >= 0), with the same snap.
                    for p in peaks.iter_mut() {
                        let down = c.release * y;
                        y = if down < envelope::SNAP_DB { 0.0 } else { down };
                        *p = mk - y;
                    }
                } else {
                    if c.knee == 0.0 {
                        for p in peaks.iter_mut() {
                            let x_l = ((math::level_db(*p) - c.threshold) * slope).max(0.0);
                            *p = if *p <= quiet { 0.0 } else { x_l };
                        }
                    } else {
                        for p in peaks.iter_mut() {
                            let x_l = envelope::reduction(
                                math::level_db(*p),
                                c.threshold,
                                c.ratio,
                                c.knee,
                            );
                            *p = if *p <= quiet { 0.0 } else { x_l };
                        }
                    }
                    for p in peaks.iter_mut() {
                        y = envelope::smooth(y, *p, c.attack, c.release);
                        *p = mk - y;
                    }
                }
                self.detectors[0].env.y = y;
                for p in peaks.iter_mut() {
                    *p = math::db_to_gain(*p);
                }
                let gains = &*peaks;
                if channels == 2 {
                    for ((l, r), g) in left.iter_mut().zip(right.iter_mut()).zip(gains) {
                        *l *= g;
                        *r *= g;
                    }
                } else {
                    for (l, g) in left.iter_mut().zip(gains) {
                        *l *= g;
                    }
                }
            } else {
                for (j, i) in chunk.range().enumerate() {
                    // The key, per channel.
                    let (mut kl, mut kr) = match key {
                        Some(k) => (k.left[i], k.right[i]),
                        None if channels == 2 => (block.left[i], block.right[i]),
                        None => (block.left[i], block.left[i]),
                    };
                    if has_hpf {
                        kl = self.hpf_state[0].process(&self.hpf, kl);
                        kr = self.hpf_state[1].process(&self.hpf, kr);
                    }
                    let mk = makeup.unwrap_or(self.makeup_buf[j]);
                    let gain = |y_l: f64| match steady_gain {
                        Some(g) if y_l == 0.0 => g,
                        _ => math::db_to_gain(mk - y_l),
                    };
                    let m = mix.unwrap_or(self.mix_buf[j]);
                    let apply = |x: &mut f64, g: f64| {
                        let wet = *x * g;
                        *x = if m == 1.0 {
                            wet
                        } else {
                            (1.0 - m) * *x + m * wet
                        };
                    };
                    if self.link || channels == 1 {
                        let peak = kl.abs().max(kr.abs());
                        let square = (kl * kl + kr * kr) * 0.5;
                        let g = gain(self.detectors[0].step(&c, self.rms, peak, square));
                        apply(&mut block.left[i], g);
                        if channels == 2 {
                            apply(&mut block.right[i], g);
                        }
                    } else {
                        let gl = gain(self.detectors[0].step(&c, self.rms, kl.abs(), kl * kl));
                        let gr = gain(self.detectors[1].step(&c, self.rms, kr.abs(), kr * kr));
                        apply(&mut block.left[i], gl);
                        apply(&mut block.right[i], gr);
                    }
                }
            }
            if chunk.ends_cell() {
                self.hpf_state.iter_mut().for_each(Biquad::flush);
                for d in &mut self.detectors {
                    if d.power < 1e-300 {
                        d.power = 0.0;
                    }
                }
            }
        }
    }
}
