//! The engine: a plan in, stereo blocks out.
//!
//! Each block runs every track (in parallel when the engine has threads: tracks are
//! independent), then every bus in routing order, then the master. Every strip writes
//! its own buffers; buses and the master sum their inputs afterwards in declaration
//! order, so the thread count never changes a bit of the output.

use std::sync::Arc;

use rayon::prelude::*;

use crate::dither;
use crate::dsp::{AudioBlock, Slot};
use crate::error::{EngineError, Result};
use crate::graph::{Feed, Routing};
use crate::math::{self, OFF_DB};
use crate::pan;
use crate::plan::{Lane, Output, PanLaw, Plan, Tap};
use crate::resample::{Kernel, Resampler};

/// How the engine runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// The largest block `process_block` will be given.
    pub max_block: usize,
    /// Worker threads for tracks; 1 runs everything on the caller's thread.
    pub threads: usize,
}

/// A block of one track's source audio, interleaved, as read from the file.
#[derive(Debug, Clone, Copy)]
pub enum SourceBlock<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl SourceBlock<'_> {
    fn len(&self) -> usize {
        match self {
            Self::F32(s) => s.len(),
            Self::F64(s) => s.len(),
        }
    }
}

/// Where the master's block goes, interleaved stereo.
pub enum OutputBlock<'a> {
    /// Clipped to full scale, no dither.
    F32(&'a mut [f32]),
    /// Clipped to full scale, no dither.
    F64(&'a mut [f64]),
    /// 16-bit integers, dithered as the plan says.
    I16(&'a mut [i16]),
    /// 24-bit integers shifted left by 8 (the top three bytes of an i32), dithered as the plan says.
    I24(&'a mut [i32]),
}

/// What the render has seen at the master's output so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Largest `|x|` per channel before the clip.
    pub peak: [f64; 2],
    /// Samples with `|x| > 1` per channel, before dither.
    pub clipped: [u64; 2],
}

pub struct Engine {
    frames: u64,
    pos: u64,
    block: usize,
    max_block: usize,
    n_tracks: usize,
    strips: Vec<StripState>,
    routing: Routing,
    vcas: Vec<VcaState>,
    master: MasterState,
    output: Output,
    pool: Option<rayon::ThreadPool>,
    stats: Stats,
}

impl Engine {
    /// Builds and prepares the engine; allocates every buffer it will use.
    ///
    /// # Errors
    /// [`EngineError::Plan`] for a plan the engine cannot run, and
    /// [`EngineError::RoutingCycle`] for a cycle in outputs and sends.
    pub fn new(plan: &Plan, config: EngineConfig) -> Result<Self> {
        let max_block = config.max_block.max(1);
        let routing = Routing::new(plan)?;
        let n_tracks = plan
            .strips
            .iter()
            .take_while(|s| s.source.is_some())
            .count();
        if plan.strips[n_tracks..].iter().any(|s| s.source.is_some()) {
            return Err(EngineError::Plan {
                reason: "tracks must come before buses".into(),
            });
        }
        let sample_rate = plan.sample_rate;
        // One coefficient table per source rate, shared by every track at that rate.
        let mut kernels: Vec<(u32, Arc<Kernel>)> = Vec::new();
        for src in plan.strips.iter().filter_map(|s| s.source.as_ref()) {
            let rate = src.sample_rate;
            if rate != sample_rate && !kernels.iter().any(|(r, _)| *r == rate) {
                kernels.push((rate, Arc::new(Kernel::new(rate, sample_rate))));
            }
        }
        let strips = plan
            .strips
            .iter()
            .map(|s| StripState::new(s, sample_rate, max_block, &kernels))
            .collect();
        let vcas = plan
            .vcas
            .iter()
            .map(|v| VcaState {
                lane: v.gain_db.clone(),
                values: vec![0.0; max_block],
                constant: None,
            })
            .collect();
        let mut master = MasterState {
            gain_db: plan.master.gain_db.clone(),
            inserts: plan.master.inserts.iter().map(Slot::from_plan).collect(),
            sig: [vec![0.0; max_block], vec![0.0; max_block]],
            gain: vec![0.0; max_block],
        };
        for slot in &mut master.inserts {
            slot.processor.prepare(f64::from(sample_rate), max_block);
        }
        let pool = if config.threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(config.threads)
                .build()
                .map_err(|e| EngineError::Plan {
                    reason: format!("cannot start {} threads: {e}", config.threads),
                })?;
            Some(pool)
        } else {
            None
        };
        Ok(Self {
            frames: plan.frames,
            pos: 0,
            block: 0,
            max_block,
            n_tracks,
            strips,
            routing,
            vcas,
            master,
            output: plan.output.clone(),
            pool,
            stats: Stats::default(),
        })
    }

    /// Output length in frames.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Timeline frame of the next block.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Number of tracks: `process_block` takes one source block per track.
    #[must_use]
    pub fn tracks(&self) -> usize {
        self.n_tracks
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The source frames each track needs for the next block of `n` frames: read exactly
    /// that many frames (in order, from the start of the source) and pass them to
    /// [`Engine::process_block`].
    ///
    /// # Panics
    /// If `out` is shorter than [`Engine::tracks`].
    pub fn source_frames_wanted(&self, n: usize, out: &mut [usize]) {
        for (o, strip) in out.iter_mut().zip(&self.strips[..self.n_tracks]) {
            *o = strip
                .source
                .as_ref()
                .map_or(0, |src| src.wanted(self.pos, n));
        }
    }

    /// Renders the next `n` frames from one source block per track; never allocates.
    ///
    /// # Errors
    /// [`EngineError::BlockSize`] past the end or beyond `max_block`,
    /// [`EngineError::SourceLength`] when a block does not hold what was wanted.
    pub fn process_block(&mut self, inputs: &[SourceBlock<'_>], n: usize) -> Result<()> {
        let left = usize::try_from(self.frames - self.pos).unwrap_or(usize::MAX);
        if n > self.max_block || n > left {
            return Err(EngineError::BlockSize {
                requested: n,
                allowed: self.max_block.min(left),
            });
        }
        if inputs.len() != self.n_tracks {
            return Err(EngineError::Plan {
                reason: format!(
                    "{} source blocks for {} tracks",
                    inputs.len(),
                    self.n_tracks
                ),
            });
        }
        let start = self.pos;
        for (strip, input) in self.strips.iter().zip(inputs) {
            let src = strip.source.as_ref().expect("tracks have sources");
            let expected = src.wanted(start, n) * src.channels();
            if input.len() != expected {
                return Err(EngineError::SourceLength {
                    track: strip.name.clone(),
                    expected,
                    actual: input.len(),
                });
            }
        }

        for vca in &mut self.vcas {
            vca.constant = vca.lane.fill(start, &mut vca.values[..n]);
        }
        let vcas = &self.vcas;
        let (tracks, buses) = self.strips.split_at_mut(self.n_tracks);
        let run = |(strip, input): (&mut StripState, &SourceBlock<'_>)| {
            strip.load_source(input, start, n);
            strip.process(start, n, vcas);
        };
        match &self.pool {
            Some(pool) => {
                pool.install(|| tracks.par_iter_mut().zip(inputs.par_iter()).for_each(run))
            }
            None => tracks.iter_mut().zip(inputs.iter()).for_each(run),
        }
        let _ = buses;

        for &b in &self.routing.bus_order {
            let mut sig = std::mem::take(&mut self.strips[b].sig);
            sum_feeds(&self.strips, &self.routing.feeds[b], &mut sig, n);
            let bus = &mut self.strips[b];
            bus.sig = sig;
            bus.channels = 2;
            bus.process(start, n, &self.vcas);
        }

        let mut sig = std::mem::take(&mut self.master.sig);
        sum_feeds(&self.strips, &self.routing.master_feeds, &mut sig, n);
        self.master.sig = sig;
        self.master.process(start, n, &mut self.stats);

        self.pos += n as u64;
        self.block = n;
        Ok(())
    }

    /// The master's last block, after its gain, before the clip.
    #[must_use]
    pub fn master_block(&self) -> [&[f64]; 2] {
        let [l, r] = &self.master.sig;
        [&l[..self.block], &r[..self.block]]
    }

    /// Converts the last block for the output: clip (floats) or dither and quantise (integers).
    ///
    /// # Errors
    /// [`EngineError::OutputLength`] unless `out` holds exactly two samples per frame.
    pub fn write_output(&self, out: OutputBlock<'_>) -> Result<()> {
        let n = self.block;
        let len = match &out {
            OutputBlock::F32(o) => o.len(),
            OutputBlock::F64(o) => o.len(),
            OutputBlock::I16(o) => o.len(),
            OutputBlock::I24(o) => o.len(),
        };
        if len != 2 * n {
            return Err(EngineError::OutputLength {
                expected: 2 * n,
                actual: len,
            });
        }
        let [l, r] = self.master_block();
        let first = self.pos - n as u64;
        let dither = self.output.dither;
        let seed = self.output.seed;
        let noise = |i: usize, c: u64| {
            if dither {
                dither::tpdf(seed, first + i as u64, c)
            } else {
                0.0
            }
        };
        match out {
            OutputBlock::F32(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    #[allow(clippy::cast_possible_truncation)] // float output is float32
                    let (a, b) = (l[i].clamp(-1.0, 1.0) as f32, r[i].clamp(-1.0, 1.0) as f32);
                    f[0] = a;
                    f[1] = b;
                }
            }
            OutputBlock::F64(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    f[0] = l[i].clamp(-1.0, 1.0);
                    f[1] = r[i].clamp(-1.0, 1.0);
                }
            }
            OutputBlock::I16(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    #[allow(clippy::cast_possible_truncation)] // quantised to 16 bits
                    {
                        f[0] = dither::quantize(l[i], 16, noise(i, 0)) as i16;
                        f[1] = dither::quantize(r[i], 16, noise(i, 1)) as i16;
                    }
                }
            }
            OutputBlock::I24(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    f[0] = dither::quantize(l[i], 24, noise(i, 0)) << 8;
                    f[1] = dither::quantize(r[i], 24, noise(i, 1)) << 8;
                }
            }
        }
        Ok(())
    }
}

/// Sums `feeds` into `sig` (zeroed first), in their fixed order.
fn sum_feeds(strips: &[StripState], feeds: &[Feed], sig: &mut [Vec<f64>; 2], n: usize) {
    let [sl, sr] = sig;
    sl[..n].fill(0.0);
    sr[..n].fill(0.0);
    for feed in feeds {
        let [fl, fr] = match *feed {
            Feed::Output(s) => &strips[s].out,
            Feed::Send(s, k) => &strips[s].sends[k].buf,
        };
        add(&mut sl[..n], &fl[..n]);
        add(&mut sr[..n], &fr[..n]);
    }
}

#[inline]
fn add(acc: &mut [f64], x: &[f64]) {
    for (a, b) in acc.iter_mut().zip(x) {
        *a += b;
    }
}

#[inline]
fn scale(x: &mut [f64], g: f64) {
    if g != 1.0 {
        x.iter_mut().for_each(|v| *v *= g);
    }
}

struct VcaState {
    lane: Lane,
    values: Vec<f64>,
    constant: Option<f64>,
}

impl VcaState {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self.constant.unwrap_or(self.values[i])
    }
}

/// Where a track's audio comes from: the file's frames as they are, or resampled.
enum SourceStage {
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
    fn channels(&self) -> usize {
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
        #[allow(clippy::cast_possible_truncation)] // within one block
        let span = ((lo - start) as usize, (hi - start) as usize);
        span
    }

    fn wanted(&self, start: u64, n: usize) -> usize {
        let (lo, hi) = self.span(start, n);
        match self {
            Self::Direct { .. } => hi - lo,
            Self::Resampled { resampler, .. } => resampler.input_frames_needed(hi - lo),
        }
    }
}

struct SendState {
    tap: Tap,
    level_db: Lane,
    pan: Lane,
    buf: [Vec<f64>; 2],
    level: Vec<f64>,
    pans: Vec<f64>,
}

impl SendState {
    /// Takes the tap's signal times the send level and places it in stereo.
    fn render(&mut self, sig: &[Vec<f64>; 2], channels: usize, law: PanLaw, start: u64, n: usize) {
        let level = self.level_db.fill(start, &mut self.level[..n]);
        let pan = self.pan.fill(start, &mut self.pans[..n]);
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

    fn silence(&mut self, n: usize) {
        self.buf[0][..n].fill(0.0);
        self.buf[1][..n].fill(0.0);
    }
}

/// A track or a bus: source (tracks), inserts, fader, width, pan, mute, sends.
struct StripState {
    name: String,
    source: Option<SourceStage>,
    /// Polarity and clip gain, folded into one factor.
    input_gain: f64,
    law: PanLaw,
    gain_db: Lane,
    pan: Lane,
    width: Lane,
    mute: Lane,
    solo_muted: bool,
    vcas: Vec<usize>,
    sends: Vec<SendState>,
    inserts: Vec<Slot>,
    /// Channels of `sig` after the inserts that ran so far.
    channels: usize,
    sig: [Vec<f64>; 2],
    out: [Vec<f64>; 2],
    gain: Vec<f64>,
    scratch: Vec<f64>,
}

impl StripState {
    fn new(
        strip: &crate::plan::Strip,
        sample_rate: u32,
        max_block: usize,
        kernels: &[(u32, Arc<Kernel>)],
    ) -> Self {
        let buf = || [vec![0.0; max_block], vec![0.0; max_block]];
        let source = strip.source.as_ref().map(|src| {
            if src.sample_rate == sample_rate {
                SourceStage::Direct {
                    channels: src.channels,
                    frames: src.frames,
                    offset: src.offset,
                }
            } else {
                let (_, kernel) = kernels
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
        let sign = if strip.polarity { -1.0 } else { 1.0 };
        let mut inserts: Vec<Slot> = strip.inserts.iter().map(Slot::from_plan).collect();
        for slot in &mut inserts {
            slot.processor.prepare(f64::from(sample_rate), max_block);
        }
        Self {
            name: strip.name.clone(),
            channels: source.as_ref().map_or(2, SourceStage::channels),
            source,
            input_gain: sign * math::db_to_gain(strip.clip_gain_db),
            law: strip.pan_law,
            gain_db: strip.gain_db.clone(),
            pan: strip.pan.clone(),
            width: strip.width.clone(),
            mute: strip.mute.clone(),
            solo_muted: strip.solo_muted,
            vcas: strip.vcas.clone(),
            sends: strip
                .sends
                .iter()
                .map(|s| SendState {
                    tap: s.tap,
                    level_db: s.level_db.clone(),
                    pan: s.pan.clone(),
                    buf: buf(),
                    level: vec![0.0; max_block],
                    pans: vec![0.0; max_block],
                })
                .collect(),
            inserts,
            sig: buf(),
            out: buf(),
            gain: vec![0.0; max_block],
            scratch: vec![0.0; max_block],
        }
    }

    /// Fills `sig` with the source's block (zeros where it does not sound) times the input gain.
    fn load_source(&mut self, input: &SourceBlock<'_>, start: u64, n: usize) {
        let src = self.source.as_mut().expect("tracks have sources");
        let channels = src.channels();
        let (lo, hi) = src.span(start, n);
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
        scale(&mut l[lo..hi], self.input_gain);
        if channels == 2 {
            scale(&mut r[lo..hi], self.input_gain);
        }
        self.channels = channels;
    }

    /// The strip from its input (in `sig`) to its output and sends.
    fn process(&mut self, start: u64, n: usize, vcas: &[VcaState]) {
        self.run_sends(Tap::PreInserts, start, n);
        {
            let [l, r] = &mut self.sig;
            let mut block = AudioBlock {
                start,
                channels: self.channels,
                left: &mut l[..n],
                right: &mut r[..n],
                sidechain: None,
            };
            for slot in &mut self.inserts {
                slot.process(&mut block);
            }
            self.channels = block.channels;
        }
        self.run_sends(Tap::PreFader, start, n);
        self.fader(start, n, vcas);
        self.run_sends(Tap::PostFader, start, n);
        self.width_and_pan(start, n);
        self.mute(start, n);
    }

    fn run_sends(&mut self, tap: Tap, start: u64, n: usize) {
        for send in self.sends.iter_mut().filter(|s| s.tap == tap) {
            send.render(&self.sig, self.channels, self.law, start, n);
        }
    }

    /// The fader: own `gain_db` plus every VCA's, added in dB; off at or below -144 dB.
    fn fader(&mut self, start: u64, n: usize, vcas: &[VcaState]) {
        let own = self.gain_db.fill(start, &mut self.gain[..n]);
        let total = |own_db: f64, i: usize| {
            let mut off = own_db <= OFF_DB;
            let mut db = own_db;
            for &v in &self.vcas {
                let vdb = vcas[v].at(i);
                off |= vdb <= OFF_DB;
                db += vdb;
            }
            if off { 0.0 } else { math::db_to_gain(db) }
        };
        let channels = self.channels;
        let [l, r] = &mut self.sig;
        if let Some(db) = own.filter(|_| self.vcas.iter().all(|&v| vcas[v].constant.is_some())) {
            let g = total(db, 0);
            scale(&mut l[..n], g);
            if channels == 2 {
                scale(&mut r[..n], g);
            }
            return;
        }
        for i in 0..n {
            let g = total(own.unwrap_or(self.gain[i]), i);
            l[i] *= g;
            if channels == 2 {
                r[i] *= g;
            }
        }
    }

    fn width_and_pan(&mut self, start: u64, n: usize) {
        let [l, r] = &mut self.sig;
        let [ol, or] = &mut self.out;
        if self.channels == 2 {
            match self.width.fill(start, &mut self.scratch[..n]) {
                Some(1.0) => {}
                Some(w) => (0..n).for_each(|i| crate::dsp::apply_width(&mut l[i], &mut r[i], w)),
                None => (0..n)
                    .for_each(|i| crate::dsp::apply_width(&mut l[i], &mut r[i], self.scratch[i])),
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
        match self.pan.fill(start, &mut self.scratch[..n]) {
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

    /// Mute (a stepped lane) and solo silence the output and every send.
    fn mute(&mut self, start: u64, n: usize) {
        let muted = if self.solo_muted {
            Some(1.0)
        } else {
            self.mute.fill(start, &mut self.scratch[..n])
        };
        match muted {
            Some(m) if m < 0.5 => {}
            Some(_) => {
                self.out[0][..n].fill(0.0);
                self.out[1][..n].fill(0.0);
                self.sends.iter_mut().for_each(|s| s.silence(n));
            }
            None => {
                for i in (0..n).filter(|&i| self.scratch[i] >= 0.5) {
                    self.out[0][i] = 0.0;
                    self.out[1][i] = 0.0;
                    for s in &mut self.sends {
                        s.buf[0][i] = 0.0;
                        s.buf[1][i] = 0.0;
                    }
                }
            }
        }
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

struct MasterState {
    gain_db: Lane,
    inserts: Vec<Slot>,
    sig: [Vec<f64>; 2],
    gain: Vec<f64>,
}

impl MasterState {
    fn process(&mut self, start: u64, n: usize, stats: &mut Stats) {
        let [l, r] = &mut self.sig;
        let mut block = AudioBlock {
            start,
            channels: 2,
            left: &mut l[..n],
            right: &mut r[..n],
            sidechain: None,
        };
        for slot in &mut self.inserts {
            slot.process(&mut block);
        }
        match self.gain_db.fill(start, &mut self.gain[..n]) {
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
        for (c, x) in [&l[..n], &r[..n]].into_iter().enumerate() {
            for &v in x {
                let a = v.abs();
                stats.peak[c] = stats.peak[c].max(a);
                if a > 1.0 {
                    stats.clipped[c] += 1;
                }
            }
        }
    }
}
