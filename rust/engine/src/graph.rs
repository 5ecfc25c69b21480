//! The routing graph: who feeds whom, in which order buses run, and cycles.

use crate::error::{EngineError, Result};
use crate::plan::{Destination, Plan};

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

/// Inputs of every strip (empty for tracks) and of the master, and the order buses run in.
#[derive(Debug, Clone)]
pub struct Routing {
    /// `feeds[s]`: what sums into strip `s`, in declaration order of the feeding strips.
    pub feeds: Vec<Vec<Feed>>,
    pub master_feeds: Vec<Feed>,
    /// Buses in an order where every bus comes after all that feed it (ties: declaration order).
    pub bus_order: Vec<usize>,
}

impl Routing {
    /// # Errors
    /// [`EngineError::RoutingCycle`] when outputs and sends form a cycle.
    pub fn new(plan: &Plan) -> Result<Self> {
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

        let is_bus = |s: usize| plan.strips[s].source.is_none();
        let mut done: Vec<bool> = (0..n).map(|s| !is_bus(s)).collect();
        let mut bus_order = Vec::new();
        loop {
            let next = (0..n).find(|&b| !done[b] && feeds[b].iter().all(|f| done[f.strip()]));
            match next {
                Some(b) => {
                    done[b] = true;
                    bus_order.push(b);
                }
                None => break,
            }
        }
        if let Some(start) = (0..n).find(|&b| !done[b]) {
            return Err(EngineError::RoutingCycle {
                names: find_cycle(plan, &feeds, &done, start),
            });
        }
        Ok(Self {
            feeds,
            master_feeds,
            bus_order,
        })
    }
}

/// Walks back along unfinished feeders from `start` until a strip repeats.
fn find_cycle(plan: &Plan, feeds: &[Vec<Feed>], done: &[bool], start: usize) -> Vec<String> {
    let mut path = vec![start];
    let mut at = start;
    // Every unfinished bus has an unfinished feeder, or it would have run.
    while let Some(prev) = feeds[at].iter().map(|f| f.strip()).find(|&s| !done[s]) {
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
