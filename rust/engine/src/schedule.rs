//! The scheduler: how one call of the engine runs its strips and the master.
//!
//! Strips run level by level (see [`crate::graph`]): a level's buses first sum their
//! inputs in declaration order, its keyed inserts copy their keys, then all its strips run,
//! in parallel when the engine has threads. Every strip writes only its own buffers, so the
//! thread count never changes a bit of the output.
//!
//! When no track is keyed by another strip and no stems are asked for, a call runs in
//! sub-blocks of at most [`SUB_BLOCK`] frames as a two-stage pipeline (the tracks, then the
//! buses and master; see `Scheduler::run_pipelined`): with threads, one sub-block's buses run
//! beside the next one's tracks; strips then hold one sub-block, not a whole call.

use rayon::prelude::*;

use crate::block::SourceBlock;
use crate::chain::KeyInput;
use crate::delay::StereoDelay;
use crate::error::{EngineError, Result};
use crate::graph::{Feed, Routing};
use crate::master::{MasterState, OutputMeter, Span, Stats};
use crate::strip::{SourceStage, StripState};

/// The strips, the master and the state of the calls that run them; the engine's API
/// ([`crate::Engine`]) owns one.
pub(crate) struct Scheduler {
    /// Frames the track inputs have advanced: the output position plus the output delay,
    /// once running.
    pub(crate) clock: u64,
    /// The largest call.
    pub(crate) max_block: usize,
    pub(crate) n_tracks: usize,
    pub(crate) strips: Vec<StripState>,
    pub(crate) routing: Routing,
    pub(crate) level_of: Vec<usize>,
    /// The buses of the level being summed, with their signals taken out meanwhile.
    pub(crate) summing: Vec<(usize, [Vec<f64>; 2])>,
    /// Whether calls run in sub-blocks, each one's buses and master beside the next one's
    /// tracks when there are threads (see `Scheduler::run_pipelined`).
    pub(crate) pipelined: bool,
    /// When pipelined: per bus, then the master, the tracks' part of the input sum of the
    /// sub-block after the one running.
    pub(crate) inbox: Vec<[Vec<f64>; 2]>,
    /// When pipelined: the master's input sum of the sub-block running.
    pub(crate) master_in: [Vec<f64>; 2],
    /// When stems were asked for: per direct input of the master, its output delayed by
    /// the latency of the master's inserts, so that it lines up with the master's output
    /// (whose delay the pre-roll removes) and with the sources.
    pub(crate) stem_out: Vec<[Vec<f64>; 2]>,
    pub(crate) stem_comp: Vec<StereoDelay>,
    /// The most frames a strip processes at once: a sub-block when pipelined.
    pub(crate) strip_block: usize,
    /// Per track, the source samples consumed so far in the current call.
    pub(crate) cursors: Vec<usize>,
    /// Per track, the source samples of the current sub-block: `cursors[t] .. ranges[t]`.
    pub(crate) ranges: Vec<usize>,
    pub(crate) master: MasterState,
    pub(crate) pool: Option<rayon::ThreadPool>,
    pub(crate) stats: Stats,
    pub(crate) meter: Option<OutputMeter>,
}

impl Scheduler {
    /// Runs one call: `preroll` frames to drop, then `n` to keep, from `inputs` (checked by
    /// the caller): pipelined, or whole spans of at most `max_block`.
    pub(crate) fn run_call(
        &mut self,
        inputs: &[SourceBlock<'_>],
        preroll: usize,
        n: usize,
    ) -> Result<()> {
        self.cursors.fill(0);
        if self.pipelined {
            self.run_pipelined(inputs, preroll, n)
        } else {
            for span in spans(preroll, n, self.max_block) {
                self.step(inputs, span.len, span.keep)?;
            }
            Ok(())
        }
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
        let (cursors, ranges) = (&self.cursors, &self.ranges);
        let graph = Graph {
            routing: &self.routing,
            level_of: &self.level_of,
            n_tracks: self.n_tracks,
        };
        run_levels(
            self.pool.as_ref(),
            (&mut self.strips, 0),
            &mut self.summing,
            &graph,
            false,
            (now, n),
            |i, strip| load_track(strip, &inputs[i], (cursors[i], ranges[i]), clock, n),
        );
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
        let mut keys = std::mem::take(&mut self.master.inserts.keys);
        load_keys_from(&self.strips, 0, &mut keys, n);
        self.master.inserts.keys = keys;
        let span = Span {
            len: n,
            keep,
            out: 0,
        };
        self.master.run(now, span, &mut self.stats, &mut self.meter);
        self.clock += n as u64;
        Ok(())
    }
}

/// Frames per sub-block when the stages of a call run side by side. The threads meet at
/// the end of each, and wait there for the last strip: 4096 frames make a fourth of the
/// meetings 1024 did, while one strip's buffers still fit its core's cache (measured
/// against 1024, 2048 and 8192, with calls of 65536 frames).
pub(crate) const SUB_BLOCK: usize = 4096;

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
    each_strip(pool, tracks, run);
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
            load_keys_from(tracks, 0, &mut bus.inserts.keys, n);
        }
        for (dst, src) in self.master_in.iter_mut().zip(&master_box[0]) {
            dst[..n].copy_from_slice(&src[..n]);
        }
        load_keys_from(tracks, 0, &mut self.master.inserts.keys, n);
    }

    /// Runs the buses level by level, then the master, over `span` from `clock`.
    fn run(&mut self, pool: Option<&rayon::ThreadPool>, span: Span, clock: u64) {
        let (n, nt) = (span.len, self.n_tracks);
        let now = i64::try_from(clock).expect("clock fits in i64");
        let bus_feeds = |feeds| split_feeds(feeds, nt).1;
        let graph = Graph {
            routing: self.routing,
            level_of: self.level_of,
            n_tracks: nt,
        };
        // The tracks' part of each sum is in the buses' signals already (see `take`).
        run_levels(
            pool,
            (self.buses, nt),
            self.summing,
            &graph,
            true,
            (now, n),
            |_, _| true,
        );
        let sums = std::iter::once((bus_feeds(&self.routing.master_feeds), &mut *self.master_in));
        add_all(None, (&*self.buses, nt), sums, 0, n, false);
        for (dst, src) in self.master.sig.iter_mut().zip(&*self.master_in) {
            dst[span.out..span.out + n].copy_from_slice(&src[..n]);
        }
        load_keys_from(self.buses, nt, &mut self.master.inserts.keys, n);
        self.master.run(now, span, self.stats, self.meter);
    }
}

/// What the level loop reads of the graph.
struct Graph<'a> {
    routing: &'a Routing,
    /// Per strip, its level.
    level_of: &'a [usize],
    n_tracks: usize,
}

/// The level loop of both ways a call runs: over `strips` (numbered from `base`: all
/// strips, or the buses of a pipelined call), level by level, the level's buses sum their
/// inputs in declaration order (all at once, split over the threads), its strips load their
/// keys, then its strips run, one per task when there are threads. A track runs once `load`
/// has loaded its source (false: it failed, the error kept in the strip). `tracks_summed`:
/// the buses' signals hold their tracks' part of the sum already (a pipelined call), so only
/// the feeds from buses are added, without zeroing.
fn run_levels(
    pool: Option<&rayon::ThreadPool>,
    (strips, base): (&mut [StripState], usize),
    summing: &mut Vec<(usize, [Vec<f64>; 2])>,
    graph: &Graph<'_>,
    tracks_summed: bool,
    (now, n): (i64, usize),
    load: impl Fn(usize, &mut StripState) -> bool + Sync,
) {
    let Graph {
        routing,
        level_of,
        n_tracks,
    } = *graph;
    // Small sums cost less than handing them to another thread; a pipelined call sums beside
    // the next sub-block's tracks, on this thread.
    let sum_pool = pool.filter(|_| !tracks_summed && n >= 2 * SUM_SPAN);
    for (level, members) in routing.levels.iter().enumerate() {
        if !members.iter().any(|&s| s >= base) {
            continue;
        }
        for &s in members.iter().filter(|&&s| s >= n_tracks) {
            let sig = std::mem::take(&mut strips[s - base].sig);
            summing.push((s, sig));
        }
        if !summing.is_empty() {
            let feeds = |s: usize| {
                let all = &routing.feeds[s][..];
                if tracks_summed {
                    split_feeds(all, n_tracks).1
                } else {
                    all
                }
            };
            let sums = summing.iter_mut().map(|(s, sig)| (feeds(*s), sig));
            add_all(sum_pool, (&*strips, base), sums, 0, n, !tracks_summed);
            while let Some((s, sig)) = summing.pop() {
                strips[s - base].sig = sig;
                strips[s - base].channels = 2;
            }
        }
        for &s in members.iter().filter(|&&s| s >= base) {
            let mut keys = std::mem::take(&mut strips[s - base].inserts.keys);
            load_keys_from(strips, base, &mut keys, n);
            strips[s - base].inserts.keys = keys;
        }
        let run = |(j, strip): (usize, &mut StripState)| {
            let i = base + j;
            if level_of[i] == level && (i >= n_tracks || load(i, strip)) {
                strip.process(now, n);
            }
        };
        each_strip(pool, strips, run);
    }
}

/// Calls `run` with each strip and its index, on the pool's threads when given: one strip
/// per task, since strips cost alike and so the two threads stay balanced.
fn each_strip(
    pool: Option<&rayon::ThreadPool>,
    strips: &mut [StripState],
    run: impl Fn((usize, &mut StripState)) + Send + Sync,
) {
    match pool {
        Some(pool) => pool.install(|| {
            strips
                .par_iter_mut()
                .with_max_len(1)
                .enumerate()
                .for_each(run);
        }),
        None => strips.iter_mut().enumerate().for_each(run),
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
