//! A strip: a track (from its source) or a bus (from its summed inputs) through polarity,
//! clip gain, inserts, fader (plus VCAs), width, pan and mute, to its output and sends.
//!
//! Every lane is read at the strip's own time for the point it controls: a lane's value
//! at timeline frame n applies to the audio that left the source at frame n, however late
//! the latency of earlier inserts makes that audio arrive.

use std::sync::Arc;

use crate::EngineError;
use crate::automation::{CONTROL_GRID, grid_frame};
use crate::block::SourceBlock;
use crate::chain::{Inserts, frames};
use crate::delay::StereoDelay;
use crate::dsp::Slot;
use crate::graph::Timing;
use crate::math::{self, OFF_DB};
use crate::pan;
use crate::plan::{Lane, PanLaw, Strip, Tap};
use crate::resample::{Kernel, Resampler};
use crate::staging::Level;
use crate::wav::WavSource;

/// Where a track's audio comes from: the file's frames as they are, or resampled.
pub(crate) enum SourceStage {
    Direct {
        channels: usize,
        frames: u64,
        offset: u64,
    },
    Resampled {
        channels: usize,
        out_frames: u64,
        offset: u64,
        resampler: Box<Resampler>,
    },
}

impl SourceStage {
    pub(crate) fn channels(&self) -> usize {
        match self {
            Self::Direct { channels, .. } | Self::Resampled { channels, .. } => *channels,
        }
    }

    /// Block-relative `lo .. hi` where the source sounds in the block at `start`.
    fn span(&self, start: u64, n: usize) -> (usize, usize) {
        let (offset, len) = match self {
            Self::Direct { frames, offset, .. } => (*offset, *frames),
            Self::Resampled {
                out_frames, offset, ..
            } => (*offset, *out_frames),
        };
        let end = start + n as u64;
        let lo = offset.clamp(start, end);
        let hi = (offset + len).clamp(start, end);
        // cast: within one block
        ((lo - start) as usize, (hi - start) as usize)
    }

    /// The mix frame at which the block of `n` frames at `start` plays frame `i` of the
    /// source block it consumes. A resampled source's frame `s` (counted from the source's
    /// start) lies at output time `s·L/M` of the resampled source: the nearest output frame
    /// plays it. Call before the block is pushed into the resampler.
    pub(crate) fn mix_frame(&self, start: u64, n: usize, i: usize) -> u64 {
        match self {
            Self::Direct { .. } => start + self.span(start, n).0 as u64 + i as u64,
            Self::Resampled {
                offset, resampler, ..
            } => {
                let s = u128::from(resampler.pushed()) + i as u128;
                let (l, m) = resampler.kernel().ratio();
                let (l, m) = (u128::from(l), u128::from(m));
                let k = (2 * s * l + m) / (2 * m);
                offset + u64::try_from(k).unwrap_or(u64::MAX)
            }
        }
    }

    /// Source frames the block of `n` frames at `start` consumes.
    pub(crate) fn wanted(&self, start: u64, n: usize) -> usize {
        let (lo, hi) = self.span(start, n);
        match self {
            Self::Direct { .. } => hi - lo,
            Self::Resampled { resampler, .. } => resampler.input_frames_needed(hi - lo),
        }
    }
}

/// The levels of one VCA's lane, read at the member's fader time.
struct VcaLane {
    lane: Lane,
    values: Vec<f64>,
    constant: Option<f64>,
}

impl VcaLane {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self.constant.unwrap_or(self.values[i])
    }
}

pub(crate) struct SendState {
    tap: Tap,
    level_db: Lane,
    pan: Lane,
    pub(crate) buf: [Vec<f64>; 2],
    level: Vec<f64>,
    pans: Vec<f64>,
    comp: StereoDelay,
}

impl SendState {
    /// Takes the tap's signal times the send level and places it in stereo.
    fn render(&mut self, sig: &[Vec<f64>; 2], channels: usize, law: PanLaw, at: i64, n: usize) {
        let level = self.level_db.fill(at, &mut self.level[..n]);
        let pan = self.pan.fill(at, &mut self.pans[..n]);
        let gains = |db: f64, p: f64| {
            let g = math::db_to_gain(db);
            let (l, r) = if channels == 1 {
                pan::mono_gains(law, p)
            } else {
                pan::balance(p)
            };
            (g * l, g * r)
        };
        let [bl, br] = &mut self.buf;
        let (xl, xr) = (&sig[0][..n], &sig[channels - 1][..n]);
        if let (Some(db), Some(p)) = (level, pan) {
            let (gl, gr) = gains(db, p);
            for i in 0..n {
                bl[i] = xl[i] * gl;
                br[i] = xr[i] * gr;
            }
        } else {
            for i in 0..n {
                let (gl, gr) = gains(level.unwrap_or(self.level[i]), pan.unwrap_or(self.pans[i]));
                bl[i] = xl[i] * gl;
                br[i] = xr[i] * gr;
            }
        }
    }
}

/// The control grid's cell, in signed frames.
const CELL: i64 = CONTROL_GRID as i64;

pub(crate) struct StripState {
    pub(crate) name: String,
    pub(crate) source: Option<SourceStage>,
    /// The track's file when the engine reads it itself (else the caller hands blocks in).
    pub(crate) file: Option<WavSource>,
    /// Why the last block's source could not be loaded.
    pub(crate) error: Option<EngineError>,
    /// Polarity and clip gain, folded into one factor (a bus has no clip gain: its polarity
    /// alone, applied to its summed input).
    input_gain: f64,
    law: PanLaw,
    gain_db: Lane,
    trim_db: Lane,
    pan: Lane,
    width: Lane,
    mute: Lane,
    solo_muted: bool,
    vcas: Vec<VcaLane>,
    pub(crate) sends: Vec<SendState>,
    pub(crate) inserts: Inserts,
    timing: Timing,
    in_comp: StereoDelay,
    out_comp: StereoDelay,
    /// Channels of `sig` after the inserts that ran so far.
    pub(crate) channels: usize,
    /// The signal through the strip; a bus's input sum is written here.
    pub(crate) sig: [Vec<f64>; 2],
    /// The pre-fader signal, kept when another strip is keyed by this one.
    pub(crate) key_tap: Option<([Vec<f64>; 2], usize)>,
    pub(crate) out: [Vec<f64>; 2],
    gain: Vec<f64>,
    trims: Vec<f64>,
    scratch: Vec<f64>,
    /// Gain staging (when enabled): tracks `[source, clip gain, after each insert, fader]`,
    /// buses `[input, after each insert, fader]`.
    pub(crate) levels: Option<Vec<Level>>,
    /// Timeline frame of the current block at the track inputs.
    clock: u64,
}

/// Block-relative frames where a track's source sounds at a point `delay` frames late: its
/// levels are measured there (a bus: the whole block).
fn active(source: Option<&SourceStage>, clock: u64, delay: usize, n: usize) -> (usize, usize) {
    let Some(src) = source else {
        return (0, n);
    };
    let delay = delay as u64;
    if clock >= delay {
        return src.span(clock - delay, n);
    }
    // The block starts before the timeline: shift into it.
    let skip = usize::try_from(delay - clock).unwrap_or(usize::MAX).min(n);
    let (lo, hi) = src.span(0, n - skip);
    (lo + skip, hi + skip)
}

/// Adds frames `lo .. hi` of a signal of `channels` to `level`.
fn measure(level: &mut Level, sig: &[Vec<f64>; 2], channels: usize, (lo, hi): (usize, usize)) {
    level.add(&sig[0][lo..hi], (channels == 2).then(|| &sig[1][lo..hi]));
}

fn stereo(n: usize) -> [Vec<f64>; 2] {
    [vec![0.0; n], vec![0.0; n]]
}

/// What a strip needs from the engine besides its plan.
pub(crate) struct StripSetup<'a> {
    pub(crate) sample_rate: u32,
    pub(crate) max_block: usize,
    pub(crate) kernels: &'a [(u32, Arc<Kernel>)],
    pub(crate) vca_lanes: &'a [Lane],
    pub(crate) timing: Timing,
    pub(crate) is_key: bool,
}

impl StripState {
    pub(crate) fn new(strip: &Strip, inserts: Vec<Slot>, setup: &StripSetup<'_>) -> Self {
        let max_block = setup.max_block;
        let sample_rate = setup.sample_rate;
        let source = strip.source.as_ref().map(|src| {
            if src.sample_rate == sample_rate {
                SourceStage::Direct {
                    channels: src.channels,
                    frames: src.frames,
                    offset: src.offset,
                }
            } else {
                let (_, kernel) = setup
                    .kernels
                    .iter()
                    .find(|(r, _)| *r == src.sample_rate)
                    .expect("a kernel for every source rate");
                let max_push = kernel.max_input_frames(max_block);
                let resampler =
                    Resampler::with_kernel(Arc::clone(kernel), src.channels, src.frames, max_push);
                SourceStage::Resampled {
                    channels: src.channels,
                    out_frames: resampler.output_frames(),
                    offset: src.offset,
                    resampler: Box::new(resampler),
                }
            }
        });
        let timing = setup.timing.clone();
        let sign = if strip.polarity { -1.0 } else { 1.0 };
        let channels = source.as_ref().map_or(2, SourceStage::channels);
        Self {
            name: strip.name.clone(),
            channels,
            source,
            file: None,
            error: None,
            input_gain: if strip.source.is_some() {
                sign * math::db_to_gain(strip.clip_gain_db)
            } else {
                sign
            },
            law: strip.pan_law,
            gain_db: strip.gain_db.clone(),
            trim_db: strip.trim_db.clone(),
            pan: strip.pan.clone(),
            width: strip.width.clone(),
            mute: strip.mute.clone(),
            solo_muted: strip.solo_muted,
            vcas: strip
                .vcas
                .iter()
                .map(|&v| VcaLane {
                    lane: setup.vca_lanes[v].clone(),
                    values: vec![0.0; max_block],
                    constant: None,
                })
                .collect(),
            sends: strip
                .sends
                .iter()
                .zip(&timing.send_comp)
                .map(|(s, &comp)| SendState {
                    tap: s.tap,
                    level_db: s.level_db.clone(),
                    pan: s.pan.clone(),
                    buf: stereo(max_block),
                    level: vec![0.0; max_block],
                    pans: vec![0.0; max_block],
                    comp: StereoDelay::new(comp),
                })
                .collect(),
            inserts: Inserts::new(inserts, &timing, max_block),
            in_comp: StereoDelay::new(timing.in_comp),
            out_comp: StereoDelay::new(timing.out_comp),
            timing,
            sig: stereo(max_block),
            key_tap: setup.is_key.then(|| (stereo(max_block), channels)),
            out: stereo(max_block),
            gain: vec![0.0; max_block],
            trims: vec![0.0; max_block],
            scratch: vec![0.0; max_block],
            levels: None,
            clock: 0,
        }
    }

    /// Fills `sig` with the source's block (zeros where it does not sound) times the input
    /// gain. `clock` is the block's first frame on the timeline as the source sees it.
    /// Starts measuring levels at every point of the strip.
    pub(crate) fn enable_levels(&mut self) {
        let points = 2 * usize::from(self.source.is_some())
            + self.inserts.len()
            + 1
            + usize::from(self.source.is_none());
        self.levels = Some(vec![Level::default(); points]);
    }

    pub(crate) fn load_source(&mut self, input: &SourceBlock<'_>, clock: u64, n: usize) {
        let src = self.source.as_mut().expect("tracks have sources");
        let channels = src.channels();
        let (lo, hi) = src.span(clock, n);
        let [l, r] = &mut self.sig;
        for c in [&mut *l, &mut *r] {
            c[..lo].fill(0.0);
            c[hi..n].fill(0.0);
        }
        match src {
            SourceStage::Direct { .. } => {
                let (l, r) = (&mut l[lo..hi], &mut r[lo..hi]);
                match (*input, channels) {
                    (SourceBlock::F32(x), 1) => widen(x.iter().map(|&v| f64::from(v)), l),
                    (SourceBlock::F64(x), 1) => widen(x.iter().copied(), l),
                    (SourceBlock::F32(x), _) => deinterleave(x.iter().map(|&v| f64::from(v)), l, r),
                    (SourceBlock::F64(x), _) => deinterleave(x.iter().copied(), l, r),
                }
            }
            SourceStage::Resampled { resampler, .. } => {
                match *input {
                    SourceBlock::F32(x) => resampler.push_interleaved_f32(x),
                    SourceBlock::F64(x) => resampler.push_interleaved_f64(x),
                }
                let mut outs = [&mut l[lo..hi], &mut r[lo..hi]];
                resampler.pull(&mut outs[..channels]);
            }
        }
        if let Some(levels) = &mut self.levels {
            measure(&mut levels[0], &self.sig, channels, (lo, hi));
        }
        let [l, r] = &mut self.sig;
        scale(&mut l[lo..hi], self.input_gain);
        if channels == 2 {
            scale(&mut r[lo..hi], self.input_gain);
        }
        if let Some(levels) = &mut self.levels {
            measure(&mut levels[1], &self.sig, channels, (lo, hi));
        }
        self.channels = channels;
        self.clock = clock;
        self.in_comp.process(&mut self.sig, n);
    }

    /// The strip from its input (in `sig`) to its output and sends. `now` is the block's
    /// first frame at the track inputs; each point reads its lanes `now` minus its delay.
    pub(crate) fn process(&mut self, now: i64, n: usize) {
        let t = &self.timing;
        let (at_in, at_fader) = (now - frames(t.in_delay), now - frames(t.fader_delay));
        // Tracks measured their source and clip gain in `load_source`; a bus measures its input.
        let first = if self.source.is_some() { 2 } else { 1 };
        if self.source.is_none() {
            // A bus's polarity, at the head of its strip: before its taps and inserts.
            let [l, r] = &mut self.sig;
            scale(&mut l[..n], self.input_gain);
            scale(&mut r[..n], self.input_gain);
        }
        if let (Some(levels), None) = (&mut self.levels, &self.source) {
            measure(&mut levels[0], &self.sig, self.channels, (0, n));
        }
        self.run_sends(Tap::PreInserts, at_in, n);
        let [l, r] = &mut self.sig;
        let (levels, source, clock) = (&mut self.levels, self.source.as_ref(), self.clock);
        let sig = (&mut l[..n], &mut r[..n]);
        self.channels = self
            .inserts
            .process(now, self.channels, sig, |i, delay, block| {
                if let Some(levels) = levels {
                    let (lo, hi) = active(source, clock, delay, n);
                    let right = (block.channels == 2).then(|| &block.right[lo..hi]);
                    levels[first + i].add(&block.left[lo..hi], right);
                }
            });
        if let Some((tap, channels)) = &mut self.key_tap {
            for (dst, src) in tap.iter_mut().zip(&self.sig) {
                dst[..n].copy_from_slice(&src[..n]);
            }
            *channels = self.channels;
        }
        self.run_sends(Tap::PreFader, at_fader, n);
        self.fader(at_fader, n);
        if let Some(levels) = &mut self.levels {
            let last = levels.len() - 1;
            let span = active(self.source.as_ref(), self.clock, self.timing.fader_delay, n);
            measure(&mut levels[last], &self.sig, self.channels, span);
        }
        self.run_sends(Tap::PostFader, at_fader, n);
        self.width_and_pan(at_fader, n);
        self.mute(at_in, at_fader, n);
        self.out_comp.process(&mut self.out, n);
        for send in &mut self.sends {
            send.comp.process(&mut send.buf, n);
        }
    }

    fn run_sends(&mut self, tap: Tap, at: i64, n: usize) {
        for send in self.sends.iter_mut().filter(|s| s.tap == tap) {
            send.render(&self.sig, self.channels, self.law, at, n);
        }
    }

    /// The fader: own `gain_db` plus `trim_db` plus every VCA's, added in dB; off at or below
    /// -144 dB in `gain_db` or a VCA (the trim, -48 .. 24 dB, never turns it off).
    fn fader(&mut self, at: i64, n: usize) {
        let own = self.gain_db.constant_over(at, n);
        let trim = self.trim_db.fill(at, &mut self.trims[..n]);
        let mut all_constant = own.is_some() && trim.is_some();
        for vca in &mut self.vcas {
            vca.constant = vca.lane.fill(at, &mut vca.values[..n]);
            all_constant &= vca.constant.is_some();
        }
        let vcas = &self.vcas;
        let trims = &self.trims;
        // `own + trim` first, then the VCAs: with a trim of 0 dB the sum is the fader's own, so
        // a mix without a trim keeps its bits.
        let total = |own_db: f64, i: usize| {
            let mut off = own_db <= OFF_DB;
            let mut db = own_db + trim.unwrap_or(trims[i]);
            for vca in vcas {
                let vdb = vca.at(i);
                off |= vdb <= OFF_DB;
                db += vdb;
            }
            if off { 0.0 } else { math::db_to_gain(db) }
        };
        let channels = self.channels;
        let [l, r] = &mut self.sig;
        if let (true, Some(db)) = (all_constant, own) {
            let g = total(db, 0);
            scale(&mut l[..n], g);
            if channels == 2 {
                scale(&mut r[..n], g);
            }
            return;
        }
        let mut i = 0;
        while i < n {
            // One cell of the control grid at a time. Which path a cell takes, and every
            // value it starts from, depend on the cell alone (never on where the block starts
            // or ends), so the result is the same for every block size. A cell where every
            // lane is constant takes the per-frame sum (the same bits as the whole-block
            // shortcut above). Inside a linear ramp of the fader (or the trim, or both) under
            // VCAs constant over the cell, the gain is exact at the cell's first frame and
            // steps by the ramp's constant ratio from there (one exp per 32 frames, not per
            // frame; within a few ulps of the exact gain).
            let frame = at + frames(i);
            let cell = grid_frame(frame);
            let len = (n - i).min(usize::try_from(cell + CELL - frame).expect("inside the cell"));
            let (own_db, trim_db) = (&self.gain_db, &self.trim_db);
            let start = fast_ramp(own_db, trim_db, vcas, cell)
                .filter(|_| !constant_cell(own_db, trim_db, vcas, cell));
            if let Some((db0, ratio)) = start {
                let mut g = math::db_to_gain(db0);
                for _ in cell..frame {
                    g *= ratio;
                }
                for k in i..i + len {
                    l[k] *= g;
                    if channels == 2 {
                        r[k] *= g;
                    }
                    g *= ratio;
                }
            } else {
                let cell_db = &mut self.gain[i..i + len];
                let flat = self.gain_db.fill(frame, cell_db);
                for k in i..i + len {
                    let g = total(flat.unwrap_or(self.gain[k]), k);
                    l[k] *= g;
                    if channels == 2 {
                        r[k] *= g;
                    }
                }
            }
            i += len;
        }
    }

    fn width_and_pan(&mut self, at: i64, n: usize) {
        let [l, r] = &mut self.sig;
        let [ol, or] = &mut self.out;
        if self.channels == 2 {
            match self.width.fill(at, &mut self.scratch[..n]) {
                // Width 1 is the identity; skipping it keeps a unity strip bit-exact.
                Some(1.0) => {}
                Some(w) => (0..n).for_each(|i| crate::dsp::apply_width(&mut l[i], &mut r[i], w)),
                // Per frame too, width 1 is skipped: the result must not depend on
                // whether the lane happened to be constant over the block.
                None => (0..n).filter(|&i| self.scratch[i] != 1.0).for_each(|i| {
                    crate::dsp::apply_width(&mut l[i], &mut r[i], self.scratch[i]);
                }),
            }
        }
        let mono = self.channels == 1;
        let law = self.law;
        let gains = |p: f64| {
            if mono {
                pan::mono_gains(law, p)
            } else {
                pan::balance(p)
            }
        };
        let xr = if mono { &l[..n] } else { &r[..n] };
        let xl = &l[..n];
        match self.pan.fill(at, &mut self.scratch[..n]) {
            Some(p) => {
                let (gl, gr) = gains(p);
                for i in 0..n {
                    ol[i] = xl[i] * gl;
                    or[i] = xr[i] * gr;
                }
            }
            None => {
                for i in 0..n {
                    let (gl, gr) = gains(self.scratch[i]);
                    ol[i] = xl[i] * gl;
                    or[i] = xr[i] * gr;
                }
            }
        }
    }

    /// Mute (a stepped lane) and solo silence the output and every send, each where the
    /// audio left the source while muted: the output and the pre- and post-fader sends by
    /// the lane at the fader's time, a pre-inserts send by the lane at the strip's input
    /// (earlier by the inserts' latency).
    fn mute(&mut self, at_in: i64, at_fader: i64, n: usize) {
        let muted = self.muted(at_fader, n);
        let mask = &self.scratch[..n];
        silence_muted(&mut self.out, muted, mask);
        for s in self.sends.iter_mut().filter(|s| s.tap != Tap::PreInserts) {
            silence_muted(&mut s.buf, muted, mask);
        }
        if !self.sends.iter().any(|s| s.tap == Tap::PreInserts) {
            return;
        }
        let muted = if at_in == at_fader {
            muted
        } else {
            self.muted(at_in, n)
        };
        let mask = &self.scratch[..n];
        for s in self.sends.iter_mut().filter(|s| s.tap == Tap::PreInserts) {
            silence_muted(&mut s.buf, muted, mask);
        }
    }

    /// Whether the strip is muted over the `n` frames from lane time `at`: `Some` when it is
    /// the same for all of them, else `None` with the lane's values in `scratch` (muted
    /// where `>= 0.5`).
    fn muted(&mut self, at: i64, n: usize) -> Option<bool> {
        if self.solo_muted {
            return Some(true);
        }
        self.mute.fill(at, &mut self.scratch[..n]).map(|m| m >= 0.5)
    }
}

/// Zeroes the frames of `buf` where [`StripState::muted`] says the strip is muted (`mask`:
/// its per-frame values).
fn silence_muted(buf: &mut [Vec<f64>; 2], muted: Option<bool>, mask: &[f64]) {
    let n = mask.len();
    match muted {
        Some(false) => {}
        Some(true) => {
            buf[0][..n].fill(0.0);
            buf[1][..n].fill(0.0);
        }
        None => {
            for i in (0..n).filter(|&i| mask[i] >= 0.5) {
                buf[0][i] = 0.0;
                buf[1][i] = 0.0;
            }
        }
    }
}

/// True when the fader, the trim and every VCA hold one value over the grid cell at
/// `cell`.
fn constant_cell(own: &Lane, trim: &Lane, vcas: &[VcaLane], cell: i64) -> bool {
    let len = CELL as usize;
    own.constant_over(cell, len).is_some()
        && trim.constant_over(cell, len).is_some()
        && vcas
            .iter()
            .all(|v| v.lane.constant_over(cell, len).is_some())
}

/// For the grid cell at `cell`: when the fader is on a linear segment, the trim is constant
/// or linear and every VCA is constant over the whole cell, and neither the fader's own level
/// nor the sum reaches "off" in it, the summed level in dB at the cell's first frame and the
/// gain ratio per frame. (Both levels move linearly in dB, so their ends bound them.)
fn fast_ramp(own: &Lane, trim: &Lane, vcas: &[VcaLane], cell: i64) -> Option<(f64, f64)> {
    let len = CELL as usize;
    let last = cell + CELL - 1;
    let (db0, slope) = own.linear_over(cell, len)?;
    let own_last = own.value_at(last);
    if db0 <= OFF_DB || own_last <= OFF_DB {
        return None;
    }
    let (t0, t_slope) = trim
        .constant_over(cell, len)
        .map(|t| (t, 0.0))
        .or_else(|| trim.linear_over(cell, len))?;
    let mut vca_db = 0.0;
    for vca in vcas {
        vca_db += vca.lane.constant_over(cell, len).filter(|&v| v > OFF_DB)?;
    }
    let first = db0 + t0 + vca_db;
    if first <= OFF_DB || own_last + trim.value_at(last) + vca_db <= OFF_DB {
        return None;
    }
    Some((first, math::db_ratio(slope + t_slope)))
}

#[inline]
pub(crate) fn scale(x: &mut [f64], g: f64) {
    if g != 1.0 {
        x.iter_mut().for_each(|v| *v *= g);
    }
}

fn widen(x: impl Iterator<Item = f64>, out: &mut [f64]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o = v;
    }
}

fn deinterleave(mut x: impl Iterator<Item = f64>, l: &mut [f64], r: &mut [f64]) {
    for (a, b) in l.iter_mut().zip(r.iter_mut()) {
        *a = x.next().unwrap_or(0.0);
        *b = x.next().unwrap_or(0.0);
    }
}
