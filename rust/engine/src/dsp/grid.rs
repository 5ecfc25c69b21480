//! The control grid as processors see it: blocks split at multiples of
//! [`CONTROL_GRID`](crate::automation::CONTROL_GRID) timeline frames, and lanes read once
//! per grid cell.
//!
//! The spec: gain-type keys (`gain_db`, `makeup_db`, `output_db`, `mix`, ...) follow their
//! lanes per frame; every other insert key takes its lane's value at frames 0, 32, 64, ...
//! and holds it for those 32 frames. A processor walks its block in [`chunks`], each inside
//! one grid cell, reads its grid keys at the cell's first frame and recomputes coefficients
//! only when a value changed. Nothing depends on where a block starts or ends, so the
//! output is bit-identical for every block size.

use crate::automation::{CONTROL_GRID, grid_frame};
use crate::plan::Lane;

/// Frames in one grid cell.
pub(crate) const GRID: usize = CONTROL_GRID as usize;

/// A run of frames of one block that lies inside one grid cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Index of the first frame in the block.
    pub(crate) offset: usize,
    /// Frames in the run (1 ..= [`GRID`]).
    pub(crate) len: usize,
    /// Timeline frame of the first frame.
    pub(crate) frame: i64,
    /// The grid frame at or before `frame`: where grid keys are read.
    pub(crate) grid: i64,
}

impl Chunk {
    /// Block indices of the run.
    #[inline]
    pub(crate) fn range(&self) -> core::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// True when the run ends on the last frame of its grid cell.
    #[inline]
    pub(crate) fn ends_cell(&self) -> bool {
        (self.frame + self.len as i64).rem_euclid(GRID as i64) == 0
    }
}

/// Splits the block of `len` frames starting at timeline frame `start` at grid boundaries.
pub(crate) fn chunks(start: i64, len: usize) -> impl Iterator<Item = Chunk> {
    let mut offset = 0;
    core::iter::from_fn(move || {
        if offset >= len {
            return None;
        }
        let frame = start + offset as i64;
        let grid = grid_frame(frame);
        // cast: 1 ..= 32
        let room = (grid + GRID as i64 - frame) as usize;
        let n = room.min(len - offset);
        let chunk = Chunk {
            offset,
            len: n,
            frame,
            grid,
        };
        offset += n;
        Some(chunk)
    })
}

/// A lane read on the grid, remembering the last value so that a processor recomputes
/// its coefficients only when the value changes.
#[derive(Debug, Clone)]
pub(crate) struct GridParam {
    lane: Lane,
    last: Option<f64>,
}

impl GridParam {
    pub(crate) fn new(lane: &Lane) -> Self {
        Self {
            lane: lane.clone(),
            last: None,
        }
    }

    /// The value at grid frame `grid`, and whether it differs from the last call's.
    #[inline]
    pub(crate) fn at(&mut self, grid: i64) -> (f64, bool) {
        let v = if self.lane.points.len() == 1 {
            self.lane.points[0].1
        } else {
            self.lane.value_at(grid)
        };
        let changed = self.last.is_none_or(|l| l.to_bits() != v.to_bits());
        self.last = Some(v);
        (v, changed)
    }

    /// Forgets the last value, so the next [`GridParam::at`] reports a change.
    pub(crate) fn invalidate(&mut self) {
        self.last = None;
    }
}

/// A lane read per frame over one chunk: `Some(v)` when constant, else the values in `buf`.
#[inline]
pub(crate) fn per_frame(lane: &Lane, frame: i64, buf: &mut [f64; GRID], len: usize) -> Option<f64> {
    if lane.points.len() == 1 {
        return Some(lane.points[0].1);
    }
    lane.fill(frame, &mut buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_on_the_grid() {
        let c: Vec<Chunk> = chunks(30, 40).collect();
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[0].offset, c[0].len, c[0].frame, c[0].grid),
            (0, 2, 30, 0)
        );
        assert!(c[0].ends_cell());
        assert_eq!(
            (c[1].offset, c[1].len, c[1].frame, c[1].grid),
            (2, 32, 32, 32)
        );
        assert_eq!(
            (c[2].offset, c[2].len, c[2].frame, c[2].grid),
            (34, 6, 64, 64)
        );
        assert!(!c[2].ends_cell());
        let neg: Vec<Chunk> = chunks(-5, 10).collect();
        assert_eq!((neg[0].len, neg[0].grid), (5, -32));
        assert_eq!((neg[1].len, neg[1].grid), (5, 0));
        assert_eq!(chunks(0, 0).count(), 0);
    }
}
