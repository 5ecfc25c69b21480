//! Automation lanes: breakpoints on frames, evaluated per frame or on the control grid.
//!
//! A lane holds its first value before the first point and its last after the last.
//! Between points on frames `n0 < n1`, `f = (n - n0) / (n1 - n0)` and the value is
//! `v0 + (v1 - v0) s(f)` with the segment's shape `s`. Points on one frame make a jump:
//! the last of them holds from that frame on.

use crate::math;
use crate::plan::{Lane, Point, Shape};

/// Frames between updates of lanes that change filter or dynamics coefficients,
/// anchored at timeline frame 0 so that the result never depends on the block size.
pub const CONTROL_GRID: u64 = 32;

impl Shape {
    /// `s(f)` for `f` in `[0, 1)`; `tension` is used by [`Shape::Bezier`] only.
    #[inline]
    #[must_use]
    pub fn ease(self, f: f64, tension: f64) -> f64 {
        match self {
            Self::Linear => f,
            Self::Step => 0.0,
            Self::Smooth => (1.0 - math::cos(core::f64::consts::PI * f)) / 2.0,
            Self::FastStart => f + f * (1.0 - f),
            Self::FastEnd => f - f * (1.0 - f),
            Self::Bezier => f + tension * f * (1.0 - f),
        }
    }
}

impl Lane {
    /// True when the lane holds one value everywhere.
    #[must_use]
    pub fn is_static(&self) -> bool {
        let v = self.points[0].1;
        self.points.iter().all(|p| p.1.to_bits() == v.to_bits())
    }

    /// Index of the first point strictly after `frame`.
    #[inline]
    fn next_index(&self, frame: i64) -> usize {
        // Frames before the timeline (negative: audio still in a latency pre-roll) come
        // before every point.
        let Ok(frame) = u64::try_from(frame) else {
            return 0;
        };
        self.points.partition_point(|p| p.0 <= frame)
    }

    /// The value at timeline frame `n` (before frame 0: the first value).
    #[must_use]
    pub fn value_at(&self, n: i64) -> f64 {
        segment_value(&self.points, self.next_index(n), n)
    }

    /// The value on the control grid: the value at the last grid frame at or before `n`.
    #[must_use]
    pub fn grid_value_at(&self, n: i64) -> f64 {
        self.value_at(grid_frame(n))
    }

    /// If the lane holds one value over frames `start .. start + len`, that value.
    #[must_use]
    pub fn constant_over(&self, start: i64, len: usize) -> Option<f64> {
        let end = start + len as i64; // exclusive
        let pts = &self.points;
        if self.is_static() {
            return Some(pts[0].1);
        }
        let i = self.next_index(start);
        if i == pts.len() {
            return Some(pts[i - 1].1);
        }
        // The next point must not fall inside the range, except where a flat region continues.
        let flat = i == 0 || pts[i - 1].2 == Shape::Step || pts[i - 1].1 == pts[i].1;
        (flat && frame_i64(pts[i].0) >= end).then(|| segment_value(pts, i, start))
    }

    /// If frames `start .. start + len` lie inside one linear segment (its end point
    /// excluded), the value at `start` and the change per frame.
    #[must_use]
    pub fn linear_over(&self, start: i64, len: usize) -> Option<(f64, f64)> {
        let pts = &self.points;
        let i = self.next_index(start);
        if i == 0 || i == pts.len() {
            return None;
        }
        let (Point(n0, v0, shape, _), Point(n1, v1, ..)) = (pts[i - 1], pts[i]);
        let end = start + len as i64;
        if shape != Shape::Linear || end > frame_i64(n1) || start < frame_i64(n0) {
            return None;
        }
        // cast: frames below 2^53
        let slope = (v1 - v0) / (n1 - n0) as f64;
        Some((segment_value(pts, i, start), slope))
    }

    /// Writes the value of every frame `start .. start + out.len()` into `out`.
    /// Returns the value when it is constant over the range (then `out` is not written).
    pub fn fill(&self, start: i64, out: &mut [f64]) -> Option<f64> {
        if let Some(v) = self.constant_over(start, out.len()) {
            return Some(v);
        }
        let pts = &self.points;
        let mut i = self.next_index(start);
        for (k, o) in out.iter_mut().enumerate() {
            let n = start + k as i64;
            while i < pts.len() && frame_i64(pts[i].0) <= n {
                i += 1;
            }
            *o = segment_value(pts, i, n);
        }
        None
    }
}

/// The last frame of the control grid at or before `n`.
#[inline]
#[must_use]
pub fn grid_frame(n: i64) -> i64 {
    n - n.rem_euclid(CONTROL_GRID as i64)
}

#[inline]
fn frame_i64(frame: u64) -> i64 {
    i64::try_from(frame).unwrap_or(i64::MAX)
}

/// The value at frame `n`, where `i` is the index of the first point after `n`.
#[inline]
fn segment_value(pts: &[Point], i: usize, n: i64) -> f64 {
    if i == 0 {
        return pts[0].1;
    }
    let Point(n0, v0, shape, tension) = pts[i - 1];
    let Some(&Point(n1, v1, ..)) = pts.get(i) else {
        return v0;
    };
    if shape == Shape::Step {
        return v0;
    }
    // cast: frames below 2^53
    let f = (n - frame_i64(n0)) as f64 / (n1 - n0) as f64;
    v0 + (v1 - v0) * shape.ease(f, tension)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(points: &[(u64, f64, Shape)]) -> Lane {
        Lane {
            points: points
                .iter()
                .map(|&(n, v, s)| Point(n, v, s, 0.0))
                .collect(),
        }
    }

    #[test]
    fn holds_before_and_after() {
        let l = lane(&[(10, 1.0, Shape::Linear), (20, 3.0, Shape::Linear)]);
        assert_eq!(l.value_at(0), 1.0);
        assert_eq!(l.value_at(10), 1.0);
        assert_eq!(l.value_at(15), 2.0);
        assert_eq!(l.value_at(20), 3.0);
        assert_eq!(l.value_at(1000), 3.0);
    }

    #[test]
    fn jump_takes_the_last_point_on_a_frame() {
        let l = lane(&[
            (0, 0.0, Shape::Linear),
            (10, 5.0, Shape::Linear),
            (10, -5.0, Shape::Linear),
            (20, -5.0, Shape::Linear),
        ]);
        assert_eq!(l.value_at(9), 4.5);
        assert_eq!(l.value_at(10), -5.0);
    }

    #[test]
    fn shapes_follow_the_spec() {
        for (shape, f, want) in [
            (
                Shape::Smooth,
                0.25,
                (1.0 - math::cos(core::f64::consts::PI * 0.25)) / 2.0,
            ),
            (Shape::FastStart, 0.25, 0.25 + 0.25 * 0.75),
            (Shape::FastEnd, 0.25, 0.25 - 0.25 * 0.75),
            (Shape::Step, 0.9, 0.0),
        ] {
            let l = lane(&[(0, 0.0, shape), (100, 1.0, Shape::Linear)]);
            let n = (f * 100.0) as i64;
            assert!((l.value_at(n) - want).abs() < 1e-15, "{shape:?}");
        }
        let b = Lane {
            points: vec![
                Point(0, 0.0, Shape::Bezier, 0.5),
                Point(4, 1.0, Shape::Linear, 0.0),
            ],
        };
        assert_eq!(b.value_at(2), 0.5 + 0.5 * 0.25);
    }

    #[test]
    fn fill_equals_value_at_and_detects_constants() {
        let l = lane(&[
            (5, 1.0, Shape::Linear),
            (40, -2.0, Shape::Smooth),
            (70, 4.0, Shape::Step),
            (90, 0.0, Shape::Linear),
        ]);
        let mut buf = vec![0.0; 13];
        for start in -20..120 {
            match l.fill(start, &mut buf) {
                Some(v) => {
                    for k in 0..13 {
                        assert_eq!(v, l.value_at(start + k));
                    }
                }
                None => {
                    for k in 0..13 {
                        assert_eq!(buf[k as usize], l.value_at(start + k), "{start}+{k}");
                    }
                }
            }
        }
        assert_eq!(l.fill(0, &mut buf[..5]), Some(1.0));
        assert_eq!(l.fill(72, &mut buf[..10]), Some(4.0));
        assert_eq!(l.fill(100, &mut buf), Some(0.0));
    }

    #[test]
    fn grid_values_hold_for_32_frames() {
        let l = lane(&[(0, 0.0, Shape::Linear), (64, 64.0, Shape::Linear)]);
        assert_eq!(l.grid_value_at(31), 0.0);
        assert_eq!(l.grid_value_at(32), 32.0);
        assert_eq!(l.grid_value_at(63), 32.0);
        assert_eq!(l.grid_value_at(-1), 0.0);
        assert_eq!(grid_frame(-1), -32);
    }

    #[test]
    fn frames_before_the_timeline_hold_the_first_value() {
        let l = lane(&[
            (0, 2.0, Shape::Linear),
            (0, 5.0, Shape::Linear),
            (10, 6.0, Shape::Linear),
        ]);
        assert_eq!(l.value_at(-3), 2.0);
        assert_eq!(l.value_at(0), 5.0);
        let mut buf = [0.0; 6];
        assert_eq!(l.fill(-3, &mut buf), None);
        assert_eq!(buf[..4], [2.0, 2.0, 2.0, 5.0]);
    }
}
