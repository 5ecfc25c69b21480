//! The routing graph: who feeds whom, which strips can run together, and the delays that
//! align every path (plugin delay compensation).
//!
//! A strip depends on what sums into it (outputs and sends) and on the keys of its
//! sidechains. Strips are grouped into levels: a strip's level is one more than the highest
//! level it depends on, so the strips of one level can run in parallel.
//!
//! Delays are counted in frames from the source. A track's input has delay 0 unless one of
//! its sidechains needs it later; an insert's input has its strip's input delay plus the
//! latencies of the inserts before it. Every feed into a bus or the master is delayed to the
//! latest of them, and a sidechain key is delayed to the keyed insert's input, so that every
//! path arrives aligned. The master's delay is removed from the output.

use crate::error::{EngineError, Result};
use crate::plan::{Destination, Plan, Tap};

/// One input of a bus or of the master, in the fixed order the sum is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// The strip's main output.
    Output(usize),
    /// The strip's send number `.1`.
    Send(usize, usize),
}

impl Feed {
    #[must_use]
    pub fn strip(self) -> usize {
        match self {
            Self::Output(s) | Self::Send(s, _) => s,
        }
    }
}

/// What the graph needs to know of a strip's (or the master's) inserts.
#[derive(Debug, Clone, Default)]
pub struct InsertChain {
    /// Latency of each insert, in order (bypassed ones included: bypass never shifts time).
    pub latencies: Vec<usize>,
    /// `(insert index, key strip)` for every insert keyed by another strip.
    pub sidechains: Vec<(usize, usize)>,
}

impl InsertChain {
    fn total(&self) -> usize {
        self.latencies.iter().sum()
    }

    /// Latency before insert `i`.
    fn before(&self, i: usize) -> usize {
        self.latencies[..i].iter().sum()
    }
}

/// Delays at the points of one strip, or of the master.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timing {
    /// Delay of the strip's input (after `in_comp` for a track; of the aligned sum for a bus).
    pub in_delay: usize,
    /// Frames a track's source is delayed by before its strip (0 for buses and the master).
    pub in_comp: usize,
    /// Delay at each insert's input.
    pub insert_delay: Vec<usize>,
    /// Delay after the inserts: at the fader, pan, mute, and the pre- and post-fader taps.
    pub fader_delay: usize,
    /// Frames the main output is delayed by to align with its destination's other inputs.
    pub out_comp: usize,
    /// The same for each send.
    pub send_comp: Vec<usize>,
    /// For each sidechain (in [`InsertChain::sidechains`] order): frames the key is delayed by.
    pub key_comp: Vec<usize>,
}

/// Inputs, run order and delays of every strip and of the master.
#[derive(Debug, Clone)]
pub struct Routing {
    /// `feeds[s]`: what sums into strip `s`, in declaration order of the feeding strips.
    pub feeds: Vec<Vec<Feed>>,
    pub master_feeds: Vec<Feed>,
    /// Strips by level; a level's strips depend only on earlier levels.
    pub levels: Vec<Vec<usize>>,
    pub timing: Vec<Timing>,
    pub master: Timing,
    /// The master output's delay: removed by rendering that much longer and skipping it.
    pub output_delay: usize,
}

impl Routing {
    /// `chains[s]` describes strip `s`'s inserts, `master` the master's.
    ///
    /// # Errors
    /// [`EngineError::RoutingCycle`] when outputs, sends and sidechains form a cycle.
    pub fn new(plan: &Plan, chains: &[InsertChain], master: &InsertChain) -> Result<Self> {
        let n = plan.strips.len();
        let mut feeds = vec![Vec::new(); n];
        let mut master_feeds = Vec::new();
        for (i, strip) in plan.strips.iter().enumerate() {
            match strip.output {
                Destination::Master => master_feeds.push(Feed::Output(i)),
                Destination::Strip(b) => feeds[b].push(Feed::Output(i)),
            }
            for (k, send) in strip.sends.iter().enumerate() {
                feeds[send.to].push(Feed::Send(i, k));
            }
        }
        // Sorting by feeding strip keeps declaration order; a strip's output comes before its sends.
        for f in &mut feeds {
            f.sort_by_key(|feed| (feed.strip(), matches!(feed, Feed::Send(..))));
        }
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|s| {
                let mut d: Vec<usize> = feeds[s].iter().map(|f| f.strip()).collect();
                d.extend(chains[s].sidechains.iter().map(|&(_, key)| key));
                d.sort_unstable();
                d.dedup();
                d
            })
            .collect();

        let (order, level_of) = levels(plan, &deps)?;
        let mut levels_out: Vec<Vec<usize>> = Vec::new();
        for &s in &order {
            let l = level_of[s];
            if levels_out.len() <= l {
                levels_out.resize(l + 1, Vec::new());
            }
            levels_out[l].push(s);
        }
        for level in &mut levels_out {
            level.sort_unstable();
        }

        let mut timing = vec![Timing::default(); n];
        for &s in &order {
            let mut t = plan_timing(plan, &feeds[s], &chains[s], &timing, chains);
            if plan.strips[s].source.is_none() {
                t.in_comp = 0; // a bus's feeds are aligned to its input delay instead
            }
            t.send_comp = vec![0; plan.strips[s].sends.len()];
            timing[s] = t;
        }
        let mut master_timing = plan_timing(plan, &master_feeds, master, &timing, chains);
        master_timing.in_comp = 0;
        for s in 0..n {
            let delay = timing[s].in_delay;
            align_feeds(&mut timing, &feeds[s], delay, plan);
        }
        align_feeds(&mut timing, &master_feeds, master_timing.in_delay, plan);
        let output_delay = master_timing.fader_delay;
        Ok(Self {
            feeds,
            master_feeds,
            levels: levels_out,
            timing,
            master: master_timing,
            output_delay,
        })
    }
}

/// The delay at which a feed arrives (before its compensation).
fn feed_delay(plan: &Plan, feed: Feed, timing: &[Timing]) -> usize {
    match feed {
        Feed::Output(s) => timing[s].fader_delay,
        Feed::Send(s, k) => match plan.strips[s].sends[k].tap {
            Tap::PreInserts => timing[s].in_delay,
            Tap::PreFader | Tap::PostFader => timing[s].fader_delay,
        },
    }
}

/// Input, insert and fader delays of a strip (or the master) from its feeds and keys.
fn plan_timing(
    plan: &Plan,
    feeds: &[Feed],
    chain: &InsertChain,
    timing: &[Timing],
    chains: &[InsertChain],
) -> Timing {
    let fed = feeds
        .iter()
        .map(|&f| feed_delay(plan, f, timing))
        .max()
        .unwrap_or(0);
    let key_tap = |k: usize| timing[k].in_delay + chains[k].total();
    let keyed = chain
        .sidechains
        .iter()
        .map(|&(i, k)| key_tap(k).saturating_sub(chain.before(i)))
        .max()
        .unwrap_or(0);
    let in_delay = fed.max(keyed);
    Timing {
        in_delay,
        in_comp: in_delay,
        insert_delay: (0..chain.latencies.len())
            .map(|i| in_delay + chain.before(i))
            .collect(),
        fader_delay: in_delay + chain.total(),
        out_comp: 0,
        send_comp: Vec::new(),
        key_comp: chain
            .sidechains
            .iter()
            .map(|&(i, k)| in_delay + chain.before(i) - key_tap(k))
            .collect(),
    }
}

/// Sets each feed's compensation so that all of them arrive at `delay`.
fn align_feeds(timing: &mut [Timing], feeds: &[Feed], delay: usize, plan: &Plan) {
    for &f in feeds {
        let comp = delay - feed_delay(plan, f, timing);
        match f {
            Feed::Output(s) => timing[s].out_comp = comp,
            Feed::Send(s, k) => timing[s].send_comp[k] = comp,
        }
    }
}

/// A topological order (ties in declaration order) and each strip's level.
fn levels(plan: &Plan, deps: &[Vec<usize>]) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = deps.len();
    let mut level = vec![0usize; n];
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let Some(s) = (0..n).find(|&s| !done[s] && deps[s].iter().all(|&d| done[d])) else {
            let start = (0..n).find(|&s| !done[s]).expect("an unfinished strip");
            return Err(EngineError::RoutingCycle {
                names: find_cycle(plan, deps, &done, start),
            });
        };
        level[s] = deps[s].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
        done[s] = true;
        order.push(s);
    }
    Ok((order, level))
}

/// Walks back along unfinished dependencies from `start` until a strip repeats.
fn find_cycle(plan: &Plan, deps: &[Vec<usize>], done: &[bool], start: usize) -> Vec<String> {
    let mut path = vec![start];
    let mut at = start;
    // Every unfinished strip has an unfinished dependency, or it would have been ordered.
    while let Some(prev) = deps[at].iter().copied().find(|&s| !done[s]) {
        if let Some(pos) = path.iter().position(|&s| s == prev) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            cycle.reverse(); // signal flow: feeder first
            cycle.push(cycle[0]);
            return cycle.iter().map(|&s| plan.strips[s].name.clone()).collect();
        }
        path.push(prev);
        at = prev;
    }
    path.iter().map(|&s| plan.strips[s].name.clone()).collect()
}
