//! The engine: a plan in, stereo blocks out.
//!
//! The engine's API: construction from a plan, the calls a caller makes block by block,
//! and the output of the last block. How a call runs is [`crate::schedule`]; the master is
//! [`crate::master`].
//!
//! Latency is compensated along every path; the master's remaining delay is removed by a
//! pre-roll: the first call renders that many frames more and keeps only the last block.
//! Stems, taken at the master's input, are delayed by the latency of the master's inserts,
//! so that they line up with the output as well.

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::block::{Conversion, OutputBlock, OutputSource, SourceBlock};
use crate::delay::StereoDelay;
use crate::dither;
pub use crate::dsp::ImpulseResponse;
use crate::dsp::Slot;
use crate::error::{EngineError, Result};
use crate::graph::{InsertChain, Routing};
use crate::master::{MasterState, OutputMeter, Stats};
use crate::meter::{Meter, MeterReport};
use crate::plan::{Insert, Lane, Output, Plan};
use crate::resample::Kernel;
use crate::schedule::{SUB_BLOCK, Scheduler};
use crate::staging::Level;
use crate::strip::{SourceStage, StripSetup, StripState};
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

pub struct Engine {
    /// Output length.
    frames: u64,
    /// Output frames written so far.
    out_pos: u64,
    output_delay: u64,
    /// Length of the last output block.
    block: usize,
    max_block: usize,
    /// Whether `write_stem` may be called (then calls run whole, so that every strip's
    /// output holds the whole block).
    stems: bool,
    output: Output,
    /// The strips, the master and how a call runs them.
    sched: Scheduler,
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
        let mut slot = Slot::build(insert, irs)?;
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
    /// As [`Engine::new`]; [`EngineError::ImpulseResponse`] for an impulse response that is
    /// not 1 or 2 channels of finite samples, [`EngineError::NoImpulseResponse`] for an `ir`
    /// index beyond `irs`.
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
                ir.check().map_err(|reason| EngineError::ImpulseResponse {
                    index: i,
                    path: None,
                    reason,
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
                .map_err(|e| EngineError::ThreadPool {
                    threads: config.threads,
                    reason: e.to_string(),
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
        let routing_output_delay = routing.output_delay;
        let sched = Scheduler {
            clock: 0,
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
            pool,
            stats: Stats::default(),
            meter: None,
        };
        Ok(Self {
            frames: plan.frames,
            out_pos: 0,
            output_delay: routing_output_delay as u64,
            block: 0,
            max_block,
            stems: config.stems,
            output: plan.output.clone(),
            sched,
        })
    }

    /// Meters the master's output from the next block on: `clipped` meters what an output
    /// file holds, otherwise the master after its inserts, gain and loudness gain.
    pub fn enable_meter(&mut self, sample_rate: u32, clipped: bool) {
        self.enable_meter_with(sample_rate, clipped, true);
    }

    /// `enable_meter`, with `octave_bands` false leaving the meter's octave bands out
    /// (`Meter::without_octave_bands`: every other figure the same, for less work).
    pub fn enable_meter_with(&mut self, sample_rate: u32, clipped: bool, octave_bands: bool) {
        let meter = Meter::new(sample_rate, 2).expect("the engine's rates are meterable");
        let meter = if octave_bands {
            meter
        } else {
            meter.without_octave_bands()
        };
        self.sched.meter = Some(OutputMeter {
            meter,
            clipped,
            scratch: [vec![0.0; self.max_block], vec![0.0; self.max_block]],
        });
    }

    /// The output meter's figures, if it is enabled.
    #[must_use]
    pub fn meter_report(&self) -> Option<MeterReport> {
        self.sched.meter.as_ref().map(|m| m.meter.report())
    }

    /// Measures levels at every point of every strip from the next block on (gain staging).
    pub fn enable_levels(&mut self) {
        self.sched
            .strips
            .iter_mut()
            .for_each(StripState::enable_levels);
    }

    /// Per strip (name, levels): tracks `[source, clip gain, after each insert, fader]`,
    /// buses `[input, after each insert, fader]`; empty unless enabled.
    #[must_use]
    pub fn levels(&self) -> Vec<(&str, &[Level])> {
        self.sched
            .strips
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
        self.sched.n_tracks
    }

    /// Frames of latency the engine removes from the output (its pre-roll).
    #[must_use]
    pub fn latency(&self) -> u64 {
        self.output_delay
    }

    #[must_use]
    pub fn stats(&self) -> Stats {
        self.sched.stats
    }

    /// Has the engine read track `track`'s source from `path` itself, decoding each block on
    /// the worker that plays the track and hashing the file on the way (see
    /// [`Engine::source_digests`]). Call before the first block. `Ok(false)` when the file is
    /// not a WAV file the engine reads, or its header does not read as `expected`: the
    /// caller then hands its blocks in as before.
    ///
    /// # Errors
    /// [`EngineError::SourceRead`] when the file cannot be opened,
    /// [`EngineError::NoTrack`] for a track index out of range and
    /// [`EngineError::SourceChannels`] for a source channel count other than the plan's.
    pub fn open_file(&mut self, track: usize, path: &Path, expected: Expected) -> Result<bool> {
        self.open_file_with(track, path, expected, true)
    }

    /// `open_file`, with `digest` false reading the file without hashing it (for a render
    /// that never asks for [`source_digests`](Engine::source_digests), which then fails).
    ///
    /// # Errors
    /// As `open_file`.
    pub fn open_file_with(
        &mut self,
        track: usize,
        path: &Path,
        expected: Expected,
        digest: bool,
    ) -> Result<bool> {
        let max_block = self.sched.strip_block;
        let tracks = self.sched.n_tracks;
        let Some(strip) = self.sched.strips[..tracks].get_mut(track) else {
            return Err(EngineError::NoTrack { track, tracks });
        };
        let channels = strip.source.as_ref().map_or(0, SourceStage::channels);
        if channels != expected.channels {
            return Err(EngineError::SourceChannels {
                track: strip.name.clone(),
                path: path.display().to_string(),
                planned: channels,
                found: expected.channels,
            });
        }
        let file =
            WavSource::open(path, expected, max_block).map_err(|e| EngineError::SourceRead {
                track: strip.name.clone(),
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        strip.file = file;
        if let (false, Some(file)) = (digest, strip.file.as_mut()) {
            file.without_digest();
        }
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
        let tracks = &mut self.sched.strips[..self.sched.n_tracks];
        match &self.sched.pool {
            Some(pool) => pool.install(|| tracks.par_iter_mut().map(digest).collect()),
            None => tracks.iter_mut().map(digest).collect(),
        }
    }

    /// Track-input frames the next call of `n` output frames runs: the pre-roll first.
    fn call_frames(&self, n: usize) -> usize {
        let preroll = self.output_delay.saturating_sub(self.sched.clock);
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
        for (o, strip) in out
            .iter_mut()
            .zip(&self.sched.strips[..self.sched.n_tracks])
        {
            *o = strip
                .source
                .as_ref()
                .map_or(0, |src| src.wanted(self.sched.clock, total));
        }
    }

    /// Renders the next `n` output frames from one source block per track. With one thread
    /// (`threads: 1`) it never allocates (`tests/no_alloc.rs`); with more, the thread pool
    /// allocates a small task record for each span of a split sum (`rayon::scope`), and
    /// nothing else does.
    ///
    /// # Errors
    /// [`EngineError::BlockSize`] past the end or beyond `max_block`,
    /// [`EngineError::SourceLength`] when a block does not hold what was wanted,
    /// [`EngineError::SourceCount`] for another number of blocks than tracks.
    pub fn process_block(&mut self, inputs: &[SourceBlock<'_>], n: usize) -> Result<()> {
        let left = usize::try_from(self.frames - self.out_pos).unwrap_or(usize::MAX);
        if n > self.max_block || n > left {
            return Err(EngineError::BlockSize {
                requested: n,
                allowed: self.max_block.min(left),
            });
        }
        if inputs.len() != self.sched.n_tracks {
            return Err(EngineError::SourceCount {
                given: inputs.len(),
                tracks: self.sched.n_tracks,
            });
        }
        let total = self.call_frames(n);
        for (strip, input) in self.sched.strips.iter().zip(inputs) {
            let src = strip.source.as_ref().expect("tracks have sources");
            // A track whose file the engine reads takes an empty block.
            let expected = if strip.file.is_some() {
                0
            } else {
                src.wanted(self.sched.clock, total) * src.channels()
            };
            if input.len() != expected {
                return Err(EngineError::SourceLength {
                    track: strip.name.clone(),
                    expected,
                    actual: input.len(),
                });
            }
        }
        self.sched.run_call(inputs, total - n, n)?;
        self.out_pos += n as u64;
        self.block = n;
        Ok(())
    }

    /// The master's last block, after its gain, before the clip.
    #[must_use]
    pub fn master_block(&self) -> [&[f64]; 2] {
        let [l, r] = &self.sched.master.sig;
        [&l[..self.block], &r[..self.block]]
    }

    /// How the last block is converted: dithered with the stream `seed`, floats clipped
    /// when `clip`.
    fn conversion(&self, seed: u64, clip: bool) -> Conversion {
        Conversion {
            first: self.out_pos - self.block as u64,
            seed,
            dither: self.output.dither,
            clip,
        }
    }

    /// Converts the last block for the output: clip (floats) or dither and quantise (integers).
    ///
    /// # Errors
    /// [`EngineError::OutputLength`] unless `out` holds exactly two samples per frame.
    pub fn write_output(&self, out: OutputBlock<'_>) -> Result<()> {
        let [l, r] = self.master_block();
        out.fill(l, r, self.conversion(self.output.seed, true))
    }

    /// Names of the master's direct inputs, the stems, in the order they are summed.
    #[must_use]
    pub fn stem_names(&self) -> Vec<&str> {
        self.sched
            .routing
            .master_feeds
            .iter()
            .map(|f| self.sched.strips[f.strip()].name.as_str())
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
    /// [`EngineError::OutputLength`] for a wrong length, [`EngineError::NoStem`] for a bad
    /// `k`, [`EngineError::StemsNotEnabled`] when the engine was built without stems.
    pub fn write_stem(&self, k: usize, out: OutputBlock<'_>) -> Result<()> {
        if k >= self.sched.routing.master_feeds.len() {
            return Err(EngineError::NoStem {
                stem: k,
                stems: self.sched.routing.master_feeds.len(),
            });
        }
        if !self.stems {
            return Err(EngineError::StemsNotEnabled);
        }
        let [l, r] = &self.sched.stem_out[k];
        let seed = dither::stream_seed(self.output.seed, k as u64 + 1);
        out.fill(
            &l[..self.block],
            &r[..self.block],
            self.conversion(seed, false),
        )
    }
}

impl OutputSource for Engine {
    fn block_frames(&self) -> usize {
        self.block
    }

    fn write_output(&self, out: OutputBlock<'_>) -> Result<()> {
        Engine::write_output(self, out)
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
        // cast: small frame numbers
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
        let (tap, channels) = engine.sched.strips[1].key_tap.clone().expect("B keys K");
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
