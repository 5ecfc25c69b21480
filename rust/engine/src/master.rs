//! The master: the sum of its direct inputs through its inserts, gain and loudness gain,
//! beside the strips (it has no sends, no pan, no output of its own); and what is measured
//! at its output (peaks, clips, the output meter).

use crate::chain::{Inserts, frames};
use crate::dsp::Slot;
use crate::graph::Timing;
use crate::math;
use crate::meter::Meter;
use crate::plan::{Lane, LoudnessAt, Plan};
use crate::strip::scale;

/// A stretch of a call: `len` frames, kept (at `out` in the call's output) or pre-roll.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) len: usize,
    pub(crate) keep: bool,
    pub(crate) out: usize,
}

/// What the render has seen at the master's output so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Largest `|x|` per channel before the clip.
    pub peak: [f64; 2],
    /// Samples with `|x| > 1` per channel, before dither.
    pub clipped: [u64; 2],
}

/// The meter on the master's output, in the same pass as the render.
pub(crate) struct OutputMeter {
    pub(crate) meter: Meter,
    /// Meter the clipped output (what the file holds) or the master before the clip.
    pub(crate) clipped: bool,
    pub(crate) scratch: [Vec<f64>; 2],
}

impl OutputMeter {
    fn process(&mut self, sig: &[Vec<f64>; 2], off: usize, n: usize) {
        if !self.clipped {
            self.meter
                .process(&[&sig[0][off..off + n], &sig[1][off..off + n]]);
            return;
        }
        for (dst, src) in self.scratch.iter_mut().zip(sig) {
            for (d, &s) in dst[..n].iter_mut().zip(&src[off..off + n]) {
                *d = s.clamp(-1.0, 1.0);
            }
        }
        let [l, r] = &self.scratch;
        self.meter.process(&[&l[..n], &r[..n]]);
    }
}

pub(crate) struct MasterState {
    gain_db: Lane,
    /// The loudness normalisation's one gain, after `gain_db` or (with a limiter among the
    /// inserts) before the inserts.
    loudness_gain: f64,
    loudness_at: LoudnessAt,
    pub(crate) inserts: Inserts,
    timing: Timing,
    pub(crate) sig: [Vec<f64>; 2],
    gain: Vec<f64>,
}

impl MasterState {
    pub(crate) fn new(plan: &Plan, inserts: Vec<Slot>, timing: Timing, max_block: usize) -> Self {
        Self {
            gain_db: plan.master.gain_db.clone(),
            loudness_gain: math::db_to_gain(plan.master.loudness_gain_db),
            loudness_at: plan.master.loudness_gain_at,
            inserts: Inserts::new(inserts, &timing, max_block),
            timing,
            sig: [vec![0.0; max_block], vec![0.0; max_block]],
            gain: vec![0.0; max_block],
        }
    }

    /// Runs `span` of the master's summed signal (at `span.out`) through its inserts and
    /// gain; a kept span is then measured and metered.
    pub(crate) fn run(
        &mut self,
        now: i64,
        span: Span,
        stats: &mut Stats,
        meter: &mut Option<OutputMeter>,
    ) {
        let (off, n) = (span.out, span.len);
        self.process(now, off, n);
        if span.keep {
            self.measure(off, n, stats);
            if let Some(m) = meter {
                m.process(&self.sig, off, n);
            }
        }
    }

    /// `inserts -> gain_db` over frames `off .. off + n` of the summed signal, with the
    /// loudness gain before the inserts or after the gain.
    fn process(&mut self, now: i64, off: usize, n: usize) {
        let [l, r] = &mut self.sig;
        let (l, r) = (&mut l[off..off + n], &mut r[off..off + n]);
        let loudness = self.loudness_gain;
        if self.loudness_at == LoudnessAt::Input {
            scale(l, loudness);
            scale(r, loudness);
        }
        self.inserts
            .process(now, 2, (&mut l[..], &mut r[..]), |_, _, _| {});
        let at = now - frames(self.timing.fader_delay);
        match self.gain_db.fill(at, &mut self.gain[..n]) {
            Some(db) => {
                let g = math::db_to_gain(db);
                scale(&mut l[..n], g);
                scale(&mut r[..n], g);
            }
            None => {
                for i in 0..n {
                    let g = math::db_to_gain(self.gain[i]);
                    l[i] *= g;
                    r[i] *= g;
                }
            }
        }
        // A separate multiply, so that a mix without normalisation keeps its bits.
        if self.loudness_at == LoudnessAt::Output {
            scale(&mut l[..n], loudness);
            scale(&mut r[..n], loudness);
        }
    }

    fn measure(&self, off: usize, n: usize, stats: &mut Stats) {
        // Independent running maxima and counts: the loop vectorises (a maximum and a
        // count do not depend on the order they are taken in, so the figures are the same).
        const LANES: usize = 8;
        for (c, x) in self.sig.iter().enumerate() {
            let x = &x[off..off + n];
            let mut peak = [0.0f64; LANES];
            let mut clipped = [0u64; LANES];
            let mut chunks = x.chunks_exact(LANES);
            for chunk in &mut chunks {
                for k in 0..LANES {
                    let a = chunk[k].abs();
                    peak[k] = peak[k].max(a);
                    clipped[k] += u64::from(a > 1.0);
                }
            }
            for &v in chunks.remainder() {
                let a = v.abs();
                peak[0] = peak[0].max(a);
                clipped[0] += u64::from(a > 1.0);
            }
            stats.peak[c] = peak.iter().fold(stats.peak[c], |m, &p| m.max(p));
            stats.clipped[c] += clipped.iter().sum::<u64>();
        }
    }
}
