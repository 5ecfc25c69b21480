//! The engine: a plan in, stereo blocks out.
//!
//! Strips run level by level (see [`crate::graph`]): a level's buses first sum their
//! inputs in declaration order, its keyed inserts copy their keys, then all its strips run,
//! in parallel when the engine has threads. Every strip writes only its own buffers, so the
//! thread count never changes a bit of the output.
//!
//! When no track is keyed by another strip and no stems are asked for, a call runs in
//! sub-blocks of at most [`SUB_BLOCK`] frames as a two-stage pipeline (the tracks, then the
//! buses and master; see `Engine::run_pipelined`): with threads, one sub-block's buses run
//! beside the next one's tracks; strips then hold one sub-block, not a whole call.
//!
//! Latency is compensated along every path; the master's remaining delay is removed by a
//! pre-roll: the first call renders that many frames more and keeps only the last block.
//! Stems, taken at the master's input, are delayed by the latency of the master's inserts,
//! so that they line up with the output as well.

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::delay::StereoDelay;
use crate::dither;
pub use crate::dsp::ImpulseResponse;
use crate::dsp::{AudioBlock, Slot};
use crate::error::{EngineError, Result};
use crate::graph::{Feed, InsertChain, Routing, Timing};

use crate::math;
use crate::meter::{Meter, MeterReport};
use crate::plan::{Insert, Lane, LoudnessAt, Output, Plan};
use crate::resample::Kernel;
use crate::staging::Level;
use crate::strip::{KeyInput, SourceStage, StripSetup, StripState, frames, scale};
use crate::wav::{Expected, WavSource};

/// How the engine runs; none of it changes the output.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// The largest block `process_block` will be given.
    pub max_block: usize,
    /// Worker threads for strips; 1 runs everything on the caller's thread.
    pub threads: usize,
    /// Whether [`Engine::write_stem`] will be called (then blocks run whole, so that every
    /// strip's output holds the whole block).
    pub stems: bool,
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

    fn slice(&self, lo: usize, hi: usize) -> Self {
        match *self {
            Self::F32(s) => Self::F32(&s[lo..hi]),
            Self::F64(s) => Self::F64(&s[lo..hi]),
        }
    }

    /// Index of the first NaN or infinity, if any.
    fn first_non_finite(&self) -> Option<usize> {
        match *self {
            Self::F32(s) => first_non_finite(s, f32::is_finite),
            Self::F64(s) => first_non_finite(s, f64::is_finite),
        }
    }
}

/// Index of the first `x` that is not `finite`. Runs of 64 are checked without a branch, so
/// that the check vectorises: it reads every source sample the render uses.
fn first_non_finite<T: Copy>(x: &[T], finite: impl Fn(T) -> bool) -> Option<usize> {
    const RUN: usize = 64;
    x.chunks(RUN).enumerate().find_map(|(k, run)| {
        let ok = run.iter().fold(true, |ok, &v| ok & finite(v));
        if ok {
            None
        } else {
            run.iter().position(|&v| !finite(v)).map(|i| k * RUN + i)
        }
    })
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
    /// Output length.
    frames: u64,
    /// Output frames written so far.
    out_pos: u64,
    /// Frames the track inputs have advanced: `out_pos` plus the output delay, once running.
    clock: u64,
    output_delay: u64,
    /// Length of the last output block.
    block: usize,
    max_block: usize,
    n_tracks: usize,
    strips: Vec<StripState>,
    routing: Routing,
    level_of: Vec<usize>,
    /// The buses of the level being summed, with their signals taken out meanwhile.
    summing: Vec<(usize, [Vec<f64>; 2])>,
    /// Whether calls run in sub-blocks, each one's buses and master beside the next one's
    /// tracks when there are threads (see `Engine::run_pipelined`).
    pipelined: bool,
    /// When pipelined: per bus, then the master, the tracks' part of the input sum of the
    /// sub-block after the one running.
    inbox: Vec<[Vec<f64>; 2]>,
    /// When pipelined: the master's input sum of the sub-block running.
    master_in: [Vec<f64>; 2],
    /// Whether `write_stem` may be called (then calls run whole, so that every strip's
    /// output holds the whole block).
    stems: bool,
    /// When `stems`: per direct input of the master, its output delayed by the latency of
    /// the master's inserts, so that it lines up with the master's output (whose delay the
    /// pre-roll removes) and with the sources.
    stem_out: Vec<[Vec<f64>; 2]>,
    stem_comp: Vec<StereoDelay>,
    /// The most frames a strip processes at once: a sub-block when pipelined.
    strip_block: usize,
    /// Per track, the source samples consumed so far in the current call.
    cursors: Vec<usize>,
    /// Per track, the source samples of the current sub-block: `cursors[t] .. ranges[t]`.
    ranges: Vec<usize>,
    master: MasterState,
    output: Output,
    pool: Option<rayon::ThreadPool>,
    stats: Stats,
    meter: Option<OutputMeter>,
}

/// The meter on the master's output, in the same pass as the render.
struct OutputMeter {
    meter: Meter,
    /// Meter the clipped output (what the file holds) or the master before the clip.
    clipped: bool,
    scratch: [Vec<f64>; 2],
}

/// Builds and prepares a chain's inserts; a convolution takes its impulse response from
/// `irs` (already at the session's rate) by the plan's index.
fn slots(
    inserts: &[Insert],
    irs: &[Arc<ImpulseResponse>],
    sample_rate: u32,
    max_block: usize,
) -> Result<Vec<Slot>> {
    let mut slots = Vec::with_capacity(inserts.len());
    for insert in inserts {
        let mut slot = match insert {
            Insert::Convolution(p) => {
                let ir = irs.get(p.ir).ok_or_else(|| EngineError::Plan {
                    reason: format!(
                        "convolution \"{}\": impulse response {} was not given ({} given)",
                        p.name,
                        p.ir,
                        irs.len()
                    ),
                })?;
                Slot::convolution(p, Arc::clone(ir))
            }
            _ => Slot::from_plan(insert),
        };
        slot.processor.prepare(f64::from(sample_rate), max_block);
        slots.push(slot);
    }
    Ok(slots)
}

fn chain(slots: &[Slot]) -> InsertChain {
    InsertChain {
        latencies: slots.iter().map(|s| s.processor.latency()).collect(),
        sidechains: slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.sidechain.map(|k| (i, k)))
            .collect(),
    }
}

impl Engine {
    /// Builds and prepares the engine; allocates every buffer it will use. A plan with a
    /// `convolution` insert needs [`Engine::with_impulse_responses`].
    ///
    /// # Errors
    /// [`EngineError::Plan`] for a plan the engine cannot run, and
    /// [`EngineError::RoutingCycle`] for a cycle in outputs, sends and sidechains.
    pub fn new(plan: &Plan, config: EngineConfig) -> Result<Self> {
        Self::with_impulse_responses(plan, config, Vec::new())
    }

    /// [`Engine::new`] with the impulse responses that the plan's `convolution` inserts
    /// index (`ir`). They are data beside the plan, not in it, so that the plan stays small
    /// and canonical. One at another rate than the session's is resampled once, here
    /// ([`ImpulseResponse::resampled`]), and shared by every insert that uses it.
    ///
    /// # Errors
    /// As [`Engine::new`]; [`EngineError::Plan`] also for an impulse response that is not
    /// 1 or 2 channels of finite samples, or an `ir` index beyond `irs`.
    pub fn with_impulse_responses(
        plan: &Plan,
        config: EngineConfig,
        irs: Vec<ImpulseResponse>,
    ) -> Result<Self> {
        let max_block = config.max_block.max(1);
        let sample_rate = plan.sample_rate;
        let irs = irs
            .into_iter()
            .enumerate()
            .map(|(i, ir)| {
                ir.check().map_err(|reason| EngineError::Plan {
                    reason: format!("impulse response {i}: {reason}"),
                })?;
                Ok(Arc::new(if ir.sample_rate == sample_rate {
                    ir
                } else {
                    ir.resampled(sample_rate)
                }))
            })
            .collect::<Result<Vec<_>>>()?;
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
        // Pipelined calls (see `run_pipelined`; one after the other on one thread) need tracks
        // that no other strip keys; their strips then only ever see a sub-block, and hold no
        // more.
        let pipelined = !config.stems
            && plan.strips[..n_tracks]
                .iter()
                .all(|s| s.inserts.iter().all(|i| i.sidechain().is_none()));
        let strip_block = if pipelined {
            SUB_BLOCK.min(max_block)
        } else {
            max_block
        };
        let mut strip_slots: Vec<Vec<Slot>> = plan
            .strips
            .iter()
            .map(|s| slots(&s.inserts, &irs, sample_rate, strip_block))
            .collect::<Result<_>>()?;
        let master_slots = slots(&plan.master.inserts, &irs, sample_rate, max_block)?;
        for (i, slot) in strip_slots
            .iter()
            .flatten()
            .chain(&master_slots)
            .enumerate()
        {
            if slot.sidechain.is_some_and(|k| k >= plan.strips.len()) {
                return Err(EngineError::Plan {
                    reason: format!("insert {i}: sidechain index out of range"),
                });
            }
        }
        let chains: Vec<InsertChain> = strip_slots.iter().map(|s| chain(s)).collect();
        let master_chain = chain(&master_slots);
        let routing = Routing::new(plan, &chains, &master_chain)?;
        let mut level_of = vec![0; plan.strips.len()];
        for (l, level) in routing.levels.iter().enumerate() {
            for &s in level {
                level_of[s] = l;
            }
        }
        let mut is_key = vec![false; plan.strips.len()];
        for &(_, key) in chains
            .iter()
            .chain([&master_chain])
            .flat_map(|c| &c.sidechains)
        {
            is_key[key] = true;
        }

        // One coefficient table per source rate, shared by every track at that rate.
        let mut kernels: Vec<(u32, Arc<Kernel>)> = Vec::new();
        for src in plan.strips.iter().filter_map(|s| s.source.as_ref()) {
            let rate = src.sample_rate;
            if rate != sample_rate && !kernels.iter().any(|(r, _)| *r == rate) {
                kernels.push((rate, Arc::new(Kernel::new(rate, sample_rate))));
            }
        }
        let vca_lanes: Vec<Lane> = plan.vcas.iter().map(|v| v.gain_db.clone()).collect();
        let strips = plan
            .strips
            .iter()
            .zip(strip_slots.drain(..))
            .enumerate()
            .map(|(i, (s, inserts))| {
                let setup = StripSetup {
                    sample_rate,
                    max_block: strip_block,
                    kernels: &kernels,
                    vca_lanes: &vca_lanes,
                    timing: routing.timing[i].clone(),
                    is_key: is_key[i],
                };
                StripState::new(s, inserts, &setup)
            })
            .collect();
        let master = MasterState::new(plan, master_slots, routing.master.clone(), max_block);
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
        debug_assert!(!pipelined || level_of[..n_tracks].iter().all(|&l| l == 0));
        let stem_count = if config.stems {
            routing.master_feeds.len()
        } else {
            0
        };
        let master_latency = routing.master.fader_delay - routing.master.in_delay;
        Ok(Self {
            frames: plan.frames,
            out_pos: 0,
            clock: 0,
            output_delay: routing.output_delay as u64,
            block: 0,
            max_block,
            n_tracks,
            strips,
            routing,
            level_of,
            summing: Vec::with_capacity(plan.strips.len()),
            pipelined,
            inbox: if pipelined {
                (n_tracks..=plan.strips.len())
                    .map(|_| [vec![0.0; strip_block], vec![0.0; strip_block]])
                    .collect()
            } else {
                Vec::new()
            },
            master_in: [vec![0.0; SUB_BLOCK], vec![0.0; SUB_BLOCK]],
            stems: config.stems,
            stem_out: (0..stem_count)
                .map(|_| [vec![0.0; max_block], vec![0.0; max_block]])
                .collect(),
            stem_comp: (0..stem_count)
                .map(|_| StereoDelay::new(master_latency))
                .collect(),
            strip_block,
            cursors: vec![0; n_tracks],
            ranges: vec![0; n_tracks],
            master,
            output: plan.output.clone(),
            pool,
            stats: Stats::default(),
            meter: None,
        })
    }

    /// Meters the master's output from the next block on: `clipped` meters what an output
    /// file holds, otherwise the master after its inserts, gain and loudness gain.
    pub fn enable_meter(&mut self, sample_rate: u32, clipped: bool) {
        let meter = Meter::new(sample_rate, 2).expect("the engine's rates are meterable");
        self.meter = Some(OutputMeter {
            meter,
            clipped,
            scratch: [vec![0.0; self.max_block], vec![0.0; self.max_block]],
        });
    }

    /// The output meter's figures, if it is enabled.
    #[must_use]
    pub fn meter_report(&self) -> Option<MeterReport> {
        self.meter.as_ref().map(|m| m.meter.report())
    }

    /// Measures levels at every point of every strip from the next block on (gain staging).
    pub fn enable_levels(&mut self) {
        self.strips.iter_mut().for_each(StripState::enable_levels);
    }

    /// Per strip (name, levels): tracks `[source, clip gain, after each insert, fader]`,
    /// buses `[input, after each insert, fader]`; empty unless enabled.
    #[must_use]
    pub fn levels(&self) -> Vec<(&str, &[Level])> {
        self.strips
            .iter()
            .map(|s| (s.name.as_str(), s.levels.as_deref().unwrap_or(&[])))
            .collect()
    }

    /// The largest block `process_block` takes.
    #[must_use]
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Output length in frames.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Output frame of the next block.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.out_pos
    }

    /// Number of tracks: `process_block` takes one source block per track.
    #[must_use]
    pub fn tracks(&self) -> usize {
        self.n_tracks
    }

    /// Frames of latency the engine removes from the output (its pre-roll).
    #[must_use]
    pub fn latency(&self) -> u64 {
        self.output_delay
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Has the engine read track `track`'s source from `path` itself, decoding each block on
    /// the worker that plays the track and hashing the file on the way (see
    /// [`Engine::source_digests`]). Call before the first block. `Ok(false)` when the file is
    /// not a WAV file the engine reads, or its header does not read as `expected`: the
    /// caller then hands its blocks in as before.
    ///
    /// # Errors
    /// [`EngineError::SourceRead`] when the file cannot be opened; [`EngineError::Plan`]
    /// for a track index out of range or a source channel count other than the plan's.
    pub fn open_file(&mut self, track: usize, path: &Path, expected: Expected) -> Result<bool> {
        let max_block = self.strip_block;
        let Some(strip) = self.strips[..self.n_tracks].get_mut(track) else {
            return Err(EngineError::Plan {
                reason: format!("no track {track}"),
            });
        };
        let channels = strip.source.as_ref().map_or(0, SourceStage::channels);
        if channels != expected.channels {
            return Err(EngineError::Plan {
                reason: format!(
                    "track \"{}\" has {channels} source channels in the plan, {} in {}",
                    strip.name,
                    expected.channels,
                    path.display()
                ),
            });
        }
        let file =
            WavSource::open(path, expected, max_block).map_err(|e| EngineError::SourceRead {
                track: strip.name.clone(),
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        strip.file = file;
        Ok(strip.file.is_some())
    }

    /// Per track, the SHA-256 of the file the engine read (all of it: what the render did
    /// not need is read now), or `None` for a track whose blocks the caller handed in.
    ///
    /// # Errors
    /// [`EngineError::SourceRead`] when reading the rest of a file fails.
    pub fn source_digests(&mut self) -> Result<Vec<Option<[u8; 32]>>> {
        let digest = |s: &mut StripState| {
            let name = s.name.clone();
            s.file
                .as_mut()
                .map(|f| {
                    f.digest().map_err(|e| EngineError::SourceRead {
                        track: name,
                        path: f.path().display().to_string(),
                        reason: e.to_string(),
                    })
                })
                .transpose()
        };
        let tracks = &mut self.strips[..self.n_tracks];
        match &self.pool {
            Some(pool) => pool.install(|| tracks.par_iter_mut().map(digest).collect()),
            None => tracks.iter_mut().map(digest).collect(),
        }
    }

    /// Track-input frames the next call of `n` output frames runs: the pre-roll first.
    fn call_frames(&self, n: usize) -> usize {
        let preroll = self.output_delay.saturating_sub(self.clock);
        usize::try_from(preroll).expect("pre-roll fits in memory") + n
    }

    /// The source frames each track needs for the next block of `n` frames: read exactly
    /// that many frames (in order, from the start of the source) and pass them to
    /// [`Engine::process_block`].
    ///
    /// # Panics
    /// If `out` is shorter than [`Engine::tracks`].
    pub fn source_frames_wanted(&self, n: usize, out: &mut [usize]) {
        let total = self.call_frames(n);
        for (o, strip) in out.iter_mut().zip(&self.strips[..self.n_tracks]) {
            *o = strip
                .source
                .as_ref()
                .map_or(0, |src| src.wanted(self.clock, total));
        }
    }

    /// Renders the next `n` output frames from one source block per track; never allocates.
    ///
    /// # Errors
    /// [`EngineError::BlockSize`] past the end or beyond `max_block`,
    /// [`EngineError::SourceLength`] when a block does not hold what was wanted.
    pub fn process_block(&mut self, inputs: &[SourceBlock<'_>], n: usize) -> Result<()> {
        let left = usize::try_from(self.frames - self.out_pos).unwrap_or(usize::MAX);
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
        let total = self.call_frames(n);
        for (strip, input) in self.strips.iter().zip(inputs) {
            let src = strip.source.as_ref().expect("tracks have sources");
            // A track whose file the engine reads takes an empty block.
            let expected = if strip.file.is_some() {
                0
            } else {
                src.wanted(self.clock, total) * src.channels()
            };
            if input.len() != expected {
                return Err(EngineError::SourceLength {
                    track: strip.name.clone(),
                    expected,
                    actual: input.len(),
                });
            }
        }
        self.cursors.fill(0);
        let preroll = total - n;
        if self.pipelined {
            self.run_pipelined(inputs, preroll, n)?;
        } else {
            for span in spans(preroll, n, self.max_block) {
                self.step(inputs, span.len, span.keep)?;
            }
        }
        self.out_pos += n as u64;
        self.block = n;
        Ok(())
    }

    /// The call in sub-blocks of at most [`SUB_BLOCK`] frames, each one's buses and master
    /// running beside the next one's tracks (one after the other without threads). The two stages share no buffer: the tracks end by
    /// summing their feeds into an inbox per bus (and the master), which takes the place of
    /// the bus's input once both stages are done. Every bus lists its track feeds first, so
    /// each sum is the same additions in the same order as whole blocks make: the same bits.
    fn run_pipelined(
        &mut self,
        inputs: &[SourceBlock<'_>],
        preroll: usize,
        n: usize,
    ) -> Result<()> {
        let Self {
            strips,
            routing,
            level_of,
            summing,
            cursors,
            ranges,
            master,
            pool,
            stats,
            meter,
            n_tracks,
            clock,
            inbox,
            master_in,
            strip_block,
            ..
        } = self;
        let (n_tracks, pool) = (*n_tracks, pool.as_ref());
        let (tracks, buses) = strips.split_at_mut(n_tracks);
        let mut front = |tracks: &mut [StripState], inbox: &mut [[Vec<f64>; 2]], clock, n| {
            run_tracks(
                pool,
                tracks,
                inputs,
                (&mut *cursors, &mut *ranges),
                clock,
                n,
            )?;
            harvest(pool, tracks, routing, inbox, n);
            Ok::<(), EngineError>(())
        };
        let mut spans = spans(preroll, n, *strip_block);
        let Some(first) = spans.next() else {
            return Ok(());
        };
        front(tracks, inbox, *clock, first.len)?;
        let mut back = Back {
            buses,
            master,
            master_in,
            routing,
            level_of,
            summing,
            stats,
            meter,
            n_tracks,
        };
        back.take(tracks, inbox, first.len);
        let mut prev = (first, *clock);
        *clock += first.len as u64;
        for span in spans {
            let now = *clock;
            match pool {
                Some(p) => {
                    let (_, ahead) = p.install(|| {
                        rayon::join(
                            || back.run(pool, prev.0, prev.1),
                            || front(tracks, inbox, now, span.len),
                        )
                    });
                    ahead?;
                }
                None => {
                    back.run(None, prev.0, prev.1);
                    front(tracks, inbox, now, span.len)?;
                }
            }
            back.take(tracks, inbox, span.len);
            prev = (span, now);
            *clock += span.len as u64;
        }
        back.run(pool, prev.0, prev.1);
        Ok(())
    }

    /// Runs every strip and the master over the next `n` frames of the track inputs.
    fn step(&mut self, inputs: &[SourceBlock<'_>], n: usize, keep: bool) -> Result<()> {
        let tracks = &self.strips[..self.n_tracks];
        set_ranges(tracks, (&self.cursors, &mut self.ranges), self.clock, n);
        let clock = self.clock;
        let now = i64::try_from(clock).expect("clock fits in i64");
        for level in 0..self.routing.levels.len() {
            // The level's buses sum their inputs first, all at once, split over the threads.
            for &s in &self.routing.levels[level] {
                if s >= self.n_tracks {
                    let sig = std::mem::take(&mut self.strips[s].sig);
                    self.summing.push((s, sig));
                }
            }
            if !self.summing.is_empty() {
                let feeds = &self.routing.feeds;
                let sums = self
                    .summing
                    .iter_mut()
                    .map(|(s, sig)| (&feeds[*s][..], sig));
                sum_all(self.pool.as_ref(), &self.strips, sums, n);
                while let Some((s, sig)) = self.summing.pop() {
                    self.strips[s].sig = sig;
                    self.strips[s].channels = 2;
                }
            }
            for &s in &self.routing.levels[level] {
                let mut keys = std::mem::take(&mut self.strips[s].keys);
                load_keys_from(&self.strips, 0, &mut keys, n);
                self.strips[s].keys = keys;
            }
            let (cursors, ranges, level_of) = (&self.cursors, &self.ranges, &self.level_of);
            let n_tracks = self.n_tracks;
            let run = |(i, strip): (usize, &mut StripState)| {
                if level_of[i] != level {
                    return;
                }
                if i < n_tracks && !load_track(strip, &inputs[i], (cursors[i], ranges[i]), clock, n)
                {
                    return;
                }
                strip.process(now, n);
            };
            match &self.pool {
                Some(pool) => pool.install(|| {
                    // One strip per task: strips cost alike, so the two threads stay balanced.
                    self.strips
                        .par_iter_mut()
                        .with_max_len(1)
                        .enumerate()
                        .for_each(run);
                }),
                None => self.strips.iter_mut().enumerate().for_each(run),
            }
        }
        self.cursors.copy_from_slice(&self.ranges);
        source_errors(&mut self.strips[..self.n_tracks])?;
        // Every span, the pre-roll's too, goes through the stems' delays.
        let stems = self.stem_out.iter_mut().zip(&mut self.stem_comp);
        for ((out, comp), feed) in stems.zip(&self.routing.master_feeds) {
            for (dst, src) in out.iter_mut().zip(&self.strips[feed.strip()].out) {
                dst[..n].copy_from_slice(&src[..n]);
            }
            comp.process(out, n);
        }

        let feeds = &self.routing.master_feeds[..];
        let sums = std::iter::once((feeds, &mut self.master.sig));
        sum_all(self.pool.as_ref(), &self.strips, sums, n);
        let mut keys = std::mem::take(&mut self.master.keys);
        load_keys_from(&self.strips, 0, &mut keys, n);
        self.master.keys = keys;
        let span = Span {
            len: n,
            keep,
            out: 0,
        };
        self.master.run(now, span, &mut self.stats, &mut self.meter);
        self.clock += n as u64;
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
        let [l, r] = self.master_block();
        self.convert(l, r, out, self.output.seed, true)
    }

    /// Names of the master's direct inputs, the stems, in the order they are summed.
    #[must_use]
    pub fn stem_names(&self) -> Vec<&str> {
        self.routing
            .master_feeds
            .iter()
            .map(|f| self.strips[f.strip()].name.as_str())
            .collect()
    }

    /// Writes the last block of stem `k`: a direct input of the master as the master sums
    /// it, delayed by the latency of the master's inserts, so that every stem lines up with
    /// the master's output and with the sources, whatever latency sits on tracks, buses or
    /// the master. Floats are not clipped, so that the stems sum to the master's input (as
    /// a render without the master's inserts and gain has it); integers are dithered with
    /// noise independent of the master's.
    ///
    /// # Errors
    /// [`EngineError::OutputLength`] for a wrong length, [`EngineError::Plan`] for a bad `k`.
    pub fn write_stem(&self, k: usize, out: OutputBlock<'_>) -> Result<()> {
        if k >= self.routing.master_feeds.len() {
            return Err(EngineError::Plan {
                reason: format!("no stem {k}"),
            });
        }
        if !self.stems {
            return Err(EngineError::Plan {
                reason: "stems were not asked for when the engine was built".to_owned(),
            });
        }
        let [l, r] = &self.stem_out[k];
        let seed = dither::stream_seed(self.output.seed, k as u64 + 1);
        self.convert(&l[..self.block], &r[..self.block], out, seed, false)
    }

    fn convert(
        &self,
        l: &[f64],
        r: &[f64],
        out: OutputBlock<'_>,
        seed: u64,
        clip: bool,
    ) -> Result<()> {
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
        let first = self.out_pos - n as u64;
        let dither = self.output.dither;
        let noise = |i: usize, c: u64| {
            if dither {
                dither::tpdf(seed, first + i as u64, c)
            } else {
                0.0
            }
        };
        let limit = if clip { 1.0 } else { f64::INFINITY };
        match out {
            OutputBlock::F32(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    #[allow(clippy::cast_possible_truncation)] // float output is float32
                    let (a, b) = (
                        l[i].clamp(-limit, limit) as f32,
                        r[i].clamp(-limit, limit) as f32,
                    );
                    f[0] = a;
                    f[1] = b;
                }
            }
            OutputBlock::F64(o) => {
                for (i, f) in o.chunks_exact_mut(2).enumerate() {
                    f[0] = l[i].clamp(-limit, limit);
                    f[1] = r[i].clamp(-limit, limit);
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

/// Frames per sub-block when the stages of a call run side by side. The threads meet at
/// the end of each, and wait there for the last strip: 4096 frames make a fourth of the
/// meetings 1024 did, while one strip's buffers still fit its core's cache (measured
/// against 1024, 2048 and 8192, with calls of 65536 frames).
const SUB_BLOCK: usize = 4096;

/// A stretch of a call: `len` frames, kept (at `out` in the call's output) or pre-roll.
#[derive(Debug, Clone, Copy)]
struct Span {
    len: usize,
    keep: bool,
    out: usize,
}

/// A call of `preroll` frames to drop and `n` to keep, in stretches of at most `size`.
fn spans(preroll: usize, n: usize, size: usize) -> impl Iterator<Item = Span> {
    let pre = (0..preroll).step_by(size).map(move |o| Span {
        len: size.min(preroll - o),
        keep: false,
        out: 0,
    });
    let kept = (0..n).step_by(size).map(move |o| Span {
        len: size.min(n - o),
        keep: true,
        out: o,
    });
    pre.chain(kept)
}

/// Loads and runs every track (all of level 0) over `n` frames from `clock`.
fn run_tracks(
    pool: Option<&rayon::ThreadPool>,
    tracks: &mut [StripState],
    inputs: &[SourceBlock<'_>],
    (cursors, ranges): (&mut [usize], &mut [usize]),
    clock: u64,
    n: usize,
) -> Result<()> {
    set_ranges(tracks, (cursors, ranges), clock, n);
    let now = i64::try_from(clock).expect("clock fits in i64");
    let (cursors_now, ranges_now) = (&*cursors, &*ranges);
    let run = |(i, strip): (usize, &mut StripState)| {
        if load_track(strip, &inputs[i], (cursors_now[i], ranges_now[i]), clock, n) {
            strip.process(now, n);
        }
    };
    match pool {
        Some(pool) => pool.install(|| {
            tracks
                .par_iter_mut()
                .with_max_len(1)
                .enumerate()
                .for_each(run);
        }),
        None => tracks.iter_mut().enumerate().for_each(run),
    }
    cursors.copy_from_slice(ranges);
    source_errors(tracks)
}

/// Per track, the end of its next `n` frames in its input block: `cursor + wanted`.
fn set_ranges(
    tracks: &[StripState],
    (cursors, ranges): (&[usize], &mut [usize]),
    clock: u64,
    n: usize,
) {
    for ((strip, range), &cursor) in tracks.iter().zip(ranges.iter_mut()).zip(cursors) {
        let src = strip.source.as_ref().expect("tracks have sources");
        *range = cursor + src.wanted(clock, n) * src.channels();
    }
}

/// Loads a track's source block (from its file, or `input[lo..hi]`); false when its file
/// failed or the block holds a sample no mix can carry (the error is kept in the strip).
fn load_track(
    strip: &mut StripState,
    input: &SourceBlock<'_>,
    (lo, hi): (usize, usize),
    clock: u64,
    n: usize,
) -> bool {
    let channels = strip.source.as_ref().map_or(1, SourceStage::channels);
    let mut file = strip.file.take();
    let block = match &mut file {
        None => input.slice(lo, hi),
        Some(f) => match f.read((hi - lo) / channels) {
            Ok(x) => SourceBlock::F64(x),
            Err(e) => {
                strip.error = Some(EngineError::SourceRead {
                    track: strip.name.clone(),
                    path: f.path().display().to_string(),
                    reason: e.to_string(),
                });
                strip.file = file;
                return false;
            }
        },
    };
    // A NaN or infinity would run on through every filter state after it, silently.
    match block.first_non_finite() {
        Some(i) => {
            let src = strip.source.as_ref().expect("tracks have sources");
            strip.error = Some(EngineError::SourceNotFinite {
                track: strip.name.clone(),
                path: file.as_ref().map(|f| f.path().display().to_string()),
                frame: src.mix_frame(clock, n, i / channels),
            });
        }
        None => strip.load_source(&block, clock, n),
    }
    strip.file = file;
    strip.error.is_none()
}

/// The first error of the block (a file that failed, a sample that cannot be mixed), by
/// track order.
fn source_errors(strips: &mut [StripState]) -> Result<()> {
    match strips.iter_mut().find_map(|s| s.error.take()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Copies into `keys` those whose key strip is one of `strips` (numbered from `base`).
fn load_keys_from(strips: &[StripState], base: usize, keys: &mut [KeyInput], n: usize) {
    for key in keys
        .iter_mut()
        .filter(|k| (base..base + strips.len()).contains(&k.key))
    {
        let (tap, channels) = strips[key.key - base]
            .key_tap
            .as_ref()
            .expect("key strips keep their tap");
        key.load(tap, *channels, n);
    }
}

/// A strip's feeds from tracks (which come first) and from buses.
fn split_feeds(feeds: &[Feed], n_tracks: usize) -> (&[Feed], &[Feed]) {
    feeds.split_at(feeds.partition_point(|f| f.strip() < n_tracks))
}

/// The tracks' part of every input sum of a sub-block, into `inbox` (per bus, then the
/// master): from 0, each feed from a track in order (a bus lists those first).
fn harvest(
    pool: Option<&rayon::ThreadPool>,
    tracks: &[StripState],
    routing: &Routing,
    inbox: &mut [[Vec<f64>; 2]],
    n: usize,
) {
    let nt = tracks.len();
    let all = routing.feeds[nt..].iter().chain([&routing.master_feeds]);
    let sums = all.zip(inbox).map(|(f, sig)| (split_feeds(f, nt).0, sig));
    // Split over the threads even for a sub-block: every track feeds here, and the stage
    // beside it may be done already.
    add_all(pool, (tracks, 0), sums, 0, n, true);
}

/// The second stage of a pipelined call: buses and master, over what the tracks left.
struct Back<'a> {
    buses: &'a mut [StripState],
    master: &'a mut MasterState,
    master_in: &'a mut [Vec<f64>; 2],
    routing: &'a Routing,
    level_of: &'a [usize],
    summing: &'a mut Vec<(usize, [Vec<f64>; 2])>,
    stats: &'a mut Stats,
    meter: &'a mut Option<OutputMeter>,
    n_tracks: usize,
}

impl Back<'_> {
    /// Takes the next sub-block's inboxes as the buses' and the master's inputs, and the
    /// keys the tracks give, once neither stage runs.
    fn take(&mut self, tracks: &[StripState], inbox: &mut [[Vec<f64>; 2]], n: usize) {
        let (boxes, master_box) = inbox.split_at_mut(self.buses.len());
        for (bus, sig) in self.buses.iter_mut().zip(boxes) {
            std::mem::swap(&mut bus.sig, sig);
            bus.channels = 2;
            load_keys_from(tracks, 0, &mut bus.keys, n);
        }
        for (dst, src) in self.master_in.iter_mut().zip(&master_box[0]) {
            dst[..n].copy_from_slice(&src[..n]);
        }
        load_keys_from(tracks, 0, &mut self.master.keys, n);
    }

    /// Runs the buses level by level, then the master, over `span` from `clock`.
    fn run(&mut self, pool: Option<&rayon::ThreadPool>, span: Span, clock: u64) {
        let (n, nt) = (span.len, self.n_tracks);
        let now = i64::try_from(clock).expect("clock fits in i64");
        let bus_feeds = |feeds| split_feeds(feeds, nt).1;
        for (level, strips) in self.routing.levels.iter().enumerate() {
            for &s in strips.iter().filter(|&&s| s >= nt) {
                let sig = std::mem::take(&mut self.buses[s - nt].sig);
                self.summing.push((s, sig));
            }
            if self.summing.is_empty() {
                continue;
            }
            let feeds = &self.routing.feeds;
            let sums = self
                .summing
                .iter_mut()
                .map(|(s, sig)| (bus_feeds(&feeds[*s]), sig));
            add_all(None, (&*self.buses, nt), sums, 0, n, false);
            while let Some((s, sig)) = self.summing.pop() {
                self.buses[s - nt].sig = sig;
                let mut keys = std::mem::take(&mut self.buses[s - nt].keys);
                load_keys_from(self.buses, nt, &mut keys, n);
                self.buses[s - nt].keys = keys;
            }
            let level_of = &self.level_of[nt..];
            let run = |(j, bus): (usize, &mut StripState)| {
                if level_of[j] == level {
                    bus.process(now, n);
                }
            };
            match pool {
                Some(pool) => pool.install(|| {
                    self.buses
                        .par_iter_mut()
                        .with_max_len(1)
                        .enumerate()
                        .for_each(run);
                }),
                None => self.buses.iter_mut().enumerate().for_each(run),
            }
        }
        let sums = std::iter::once((bus_feeds(&self.routing.master_feeds), &mut *self.master_in));
        add_all(None, (&*self.buses, nt), sums, 0, n, false);
        for (dst, src) in self.master.sig.iter_mut().zip(&*self.master_in) {
            dst[span.out..span.out + n].copy_from_slice(&src[..n]);
        }
        load_keys_from(self.buses, nt, &mut self.master.keys, n);
        self.master.run(now, span, self.stats, self.meter);
    }
}

/// Frames per task when sums are split over threads.
const SUM_SPAN: usize = 1024;

/// Sums each `(feeds, sig)`: every frame of `sig` from 0, plus its feeds in their fixed
/// order. With a pool, the sums are split by channel and span of frames over the threads:
/// each frame's sum is still the same additions in the same order.
fn sum_all<'a>(
    pool: Option<&rayon::ThreadPool>,
    strips: &[StripState],
    sums: impl Iterator<Item = (&'a [Feed], &'a mut [Vec<f64>; 2])> + Send,
    n: usize,
) {
    // Small sums cost less than handing them to another thread.
    let pool = pool.filter(|_| n >= 2 * SUM_SPAN);
    add_all(pool, (strips, 0), sums, 0, n, true);
}

/// [`sum_all`] in parts: adds `feeds` to frames `off .. off + n` of each signal (after
/// zeroing them when `zero`), reading the first `n` frames of strips `base ..` from
/// `strips`; split over the `pool`'s threads by signal, channel and span when given.
fn add_all<'a>(
    pool: Option<&rayon::ThreadPool>,
    (strips, base): (&[StripState], usize),
    sums: impl Iterator<Item = (&'a [Feed], &'a mut [Vec<f64>; 2])> + Send,
    off: usize,
    n: usize,
    zero: bool,
) {
    let sum = |feeds: &[Feed], c: usize, lo: usize, out: &mut [f64]| {
        if zero {
            out.fill(0.0);
        }
        let len = out.len();
        let src = |feed: &Feed| {
            let x = match *feed {
                Feed::Output(s) => &strips[s - base].out[c],
                Feed::Send(s, k) => &strips[s - base].sends[k].buf[c],
            };
            &x[lo..lo + len]
        };
        // Four feeds per pass over `out`, added one after the other as single passes would.
        let mut quads = feeds.chunks_exact(4);
        for q in &mut quads {
            let (a, b, c, d) = (src(&q[0]), src(&q[1]), src(&q[2]), src(&q[3]));
            for ((((o, a), b), c), d) in out.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                *o = (((*o + a) + b) + c) + d;
            }
        }
        for feed in quads.remainder() {
            add(out, src(feed));
        }
    };
    match pool {
        Some(pool) => pool.install(|| {
            rayon::scope(|scope| {
                for (feeds, sig) in sums {
                    for (c, x) in sig.iter_mut().enumerate() {
                        for (k, out) in x[off..off + n].chunks_mut(SUM_SPAN).enumerate() {
                            scope.spawn(move |_| sum(feeds, c, k * SUM_SPAN, out));
                        }
                    }
                }
            });
        }),
        _ => {
            for (feeds, sig) in sums {
                for (c, x) in sig.iter_mut().enumerate() {
                    sum(feeds, c, 0, &mut x[off..off + n]);
                }
            }
        }
    }
}

#[inline]
fn add(acc: &mut [f64], x: &[f64]) {
    for (a, b) in acc.iter_mut().zip(x) {
        *a += b;
    }
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

struct MasterState {
    gain_db: Lane,
    /// The loudness normalisation's one gain, after `gain_db` or (with a limiter among the
    /// inserts) before the inserts.
    loudness_gain: f64,
    loudness_at: LoudnessAt,
    inserts: Vec<Slot>,
    keys: Vec<KeyInput>,
    timing: Timing,
    sig: [Vec<f64>; 2],
    gain: Vec<f64>,
}

impl MasterState {
    fn new(plan: &Plan, inserts: Vec<Slot>, timing: Timing, max_block: usize) -> Self {
        let keys = KeyInput::for_chain(&inserts, &timing.key_comp, max_block);
        Self {
            gain_db: plan.master.gain_db.clone(),
            loudness_gain: math::db_to_gain(plan.master.loudness_gain_db),
            loudness_at: plan.master.loudness_gain_at,
            inserts,
            keys,
            timing,
            sig: [vec![0.0; max_block], vec![0.0; max_block]],
            gain: vec![0.0; max_block],
        }
    }

    /// Runs `span` of the master's summed signal (at `span.out`) through its inserts and
    /// gain; a kept span is then measured and metered.
    fn run(&mut self, now: i64, span: Span, stats: &mut Stats, meter: &mut Option<OutputMeter>) {
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
        let mut block = AudioBlock {
            start: now,
            channels: 2,
            left: &mut l[..],
            right: &mut r[..],
            sidechain: None,
        };
        let mut keys = self.keys.iter().peekable();
        for (i, slot) in self.inserts.iter_mut().enumerate() {
            block.start = now - frames(self.timing.insert_delay[i]);
            block.sidechain = keys.next_if(|k| k.insert == i).map(|k| k.sidechain(n));
            slot.process(&mut block);
        }
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
        for (c, x) in self.sig.iter().enumerate() {
            for &v in &x[off..off + n] {
                let a = v.abs();
                stats.peak[c] = stats.peak[c].max(a);
                if a > 1.0 {
                    stats.clipped[c] += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn lane(v: f64) -> Value {
        json!({"points": [[0, v, "linear", 0.0]]})
    }

    fn strip(name: &str, source: Value, polarity: bool, inserts: Value) -> Value {
        json!({
            "name": name, "source": source, "clip_gain_db": 0.0, "polarity": polarity,
            "pan_law": "-3dB", "gain_db": lane(0.0), "pan": lane(0.0), "width": lane(1.0),
            "mute": lane(0.0), "solo_muted": false, "vcas": [], "output": "master",
            "sends": [], "inserts": inserts,
        })
    }

    /// The pre-fader key that bus "B" (fed by track "T", through a saturation) gives the
    /// compressor on bus "K", after one block.
    fn key_of_b(polarity: bool) -> [Vec<f64>; 2] {
        let n = 2000;
        let source = json!({"channels": 1, "sample_rate": 48000, "frames": n, "offset": 0});
        let mut t = strip("T", source, false, json!([]));
        t["output"] = json!({"strip": 1});
        let saturation = json!([{"type": "saturation", "name": "sat", "bypass": false,
            "drive_db": lane(9.0), "shape": "tanh", "oversample": 2, "output_db": lane(0.0),
            "mix": lane(1.0)}]);
        let b = strip("B", Value::Null, polarity, saturation);
        let compressor = json!([{"type": "compressor", "name": "comp", "bypass": false,
            "threshold_db": lane(-30.0), "ratio": lane(4.0), "knee_db": lane(0.0),
            "attack_ms": lane(1.0), "release_ms": lane(50.0), "makeup_db": lane(0.0),
            "detector": "peak", "rms_ms": lane(10.0), "sidechain": 1,
            "sidechain_hpf_hz": null, "stereo_link": true, "mix": lane(1.0)}]);
        let k = strip("K", Value::Null, false, compressor);
        let plan = json!({
            "version": 1, "sample_rate": 48000, "frames": n, "strips": [t, b, k], "vcas": [],
            "master": {"gain_db": lane(0.0), "inserts": []},
            "output": {"bit_depth": 32, "dither": false, "seed": 0},
        });
        let plan = Plan::from_json(plan.to_string().as_bytes()).expect("a valid plan");
        let config = EngineConfig {
            max_block: n,
            threads: 1,
            stems: false,
        };
        let mut engine = Engine::new(&plan, config).expect("an engine");
        // Lopsided: large positive half-waves, small negative ones.
        #[allow(clippy::cast_precision_loss)] // small frame numbers
        let src: Vec<f32> = (0..n)
            .map(|i| {
                let v = libm::sinf(i as f32 * 0.05) * 0.5;
                if v > 0.0 { v } else { 0.2 * v }
            })
            .collect();
        let mut wanted = [0];
        engine.source_frames_wanted(n, &mut wanted);
        engine
            .process_block(&[SourceBlock::F32(&src[..wanted[0]])], n)
            .expect("a block");
        let (tap, channels) = engine.strips[1].key_tap.clone().expect("B keys K");
        assert_eq!(channels, 2);
        tap
    }

    #[test]
    fn a_key_tapped_from_an_inverted_bus_is_inverted() {
        // Every detector is blind to the sign, so only the tap itself shows it.
        let (plain, inverted) = (key_of_b(false), key_of_b(true));
        assert!(plain[0].iter().any(|&v| v > 0.1), "B sounds");
        for c in 0..2 {
            assert!(inverted[c].iter().zip(&plain[c]).all(|(&a, &b)| a == -b));
        }
    }
}
