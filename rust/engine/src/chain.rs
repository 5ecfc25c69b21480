//! An insert chain as a strip or the master runs it: the prepared slots, the delay at
//! each insert's input and the sidechain keys of its keyed inserts, and the one loop that
//! runs a block through them.

use crate::delay::StereoDelay;
use crate::dsp::{AudioBlock, Sidechain, Slot};
use crate::graph::Timing;

/// Frames as a signed count, for lane time.
#[inline]
pub(crate) fn frames(n: usize) -> i64 {
    i64::try_from(n).expect("delays fit in i64")
}

/// A sidechain key copied from another strip, delayed to the keyed insert's input.
pub(crate) struct KeyInput {
    pub(crate) insert: usize,
    pub(crate) key: usize,
    pub(crate) channels: usize,
    pub(crate) buf: [Vec<f64>; 2],
    comp: StereoDelay,
}

impl KeyInput {
    pub(crate) fn new(insert: usize, key: usize, comp: usize, max_block: usize) -> Self {
        Self {
            insert,
            key,
            channels: 2,
            buf: [vec![0.0; max_block], vec![0.0; max_block]],
            comp: StereoDelay::new(comp),
        }
    }

    /// Copies the key strip's pre-fader block, delayed to the keyed insert's input.
    pub(crate) fn load(&mut self, tap: &[Vec<f64>; 2], channels: usize, n: usize) {
        self.channels = channels;
        for (dst, src) in self.buf.iter_mut().zip(tap) {
            dst[..n].copy_from_slice(&src[..n]);
        }
        self.comp.process(&mut self.buf, n);
    }

    pub(crate) fn sidechain(&self, n: usize) -> Sidechain<'_> {
        Sidechain {
            channels: self.channels,
            left: &self.buf[0][..n],
            right: &self.buf[self.channels - 1][..n],
        }
    }
}

/// A strip's or the master's inserts, in order.
pub(crate) struct Inserts {
    slots: Vec<Slot>,
    /// Per insert: the delay at its input (`Timing::insert_delay`); its lanes are read that
    /// much before the block's time at the strip's input.
    delays: Vec<usize>,
    /// One per keyed insert, in order, each delayed by its `Timing::key_comp`.
    pub(crate) keys: Vec<KeyInput>,
}

impl Inserts {
    pub(crate) fn new(slots: Vec<Slot>, timing: &Timing, max_block: usize) -> Self {
        let keys = slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.sidechain.map(|key| (i, key)))
            .zip(&timing.key_comp)
            .map(|((insert, key), &comp)| KeyInput::new(insert, key, comp, max_block))
            .collect();
        Self {
            slots,
            delays: timing.insert_delay.clone(),
            keys,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Runs `left`/`right` (`channels` of them used) through every insert, each reading
    /// its lanes at `now` less the delay at its input and given its key; `after(i, delay,
    /// block)` sees the block after insert `i`, `delay` being the delay at that insert's
    /// output (its input's plus its latency). Returns the channels after the last insert.
    pub(crate) fn process(
        &mut self,
        now: i64,
        channels: usize,
        (left, right): (&mut [f64], &mut [f64]),
        mut after: impl FnMut(usize, usize, &AudioBlock<'_>),
    ) -> usize {
        let n = left.len();
        let mut block = AudioBlock {
            start: now,
            channels,
            left,
            right,
            sidechain: None,
        };
        let mut keys = self.keys.iter().peekable();
        for (i, (slot, &delay)) in self.slots.iter_mut().zip(&self.delays).enumerate() {
            block.start = now - frames(delay);
            block.sidechain = keys.next_if(|k| k.insert == i).map(|k| k.sidechain(n));
            slot.process(&mut block);
            after(i, delay + slot.processor.latency(), &block);
        }
        block.channels
    }
}
