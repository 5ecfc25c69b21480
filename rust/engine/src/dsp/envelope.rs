//! Dynamics building blocks after D. Giannoulis, M. Massberg and J. D. Reiss, *Digital
//! Dynamic Range Compressor Design: A Tutorial and Analysis*, JAES 60(6), 2012 (GMR).
//!
//! * [`gain_computer`]: the static curve in dB, GMR eq. 4, with the quadratic soft knee of
//!   width `W` centred on the threshold.
//! * [`coefficient`]: the one-pole coefficient `alpha = exp(-1 / (tau fs))` of GMR eq. 7,
//!   so a step reaches `1 - 1/e` of its way in `tau` (the spec's time-constant definition).
//! * [`SmoothBranching`]: GMR eq. 16, the smooth branching peak detector, run on the gain
//!   reduction in dB (level detection after the gain computer, GMR's recommended design).

use crate::math;

/// GMR eq. 4: the output level in dB for an input level `x_db`, threshold `t`, ratio `r`
/// (`>= 1`) and knee width `w` (dB, `>= 0`; 0 is a hard knee).
#[inline]
#[must_use]
pub fn gain_computer(x_db: f64, t: f64, r: f64, w: f64) -> f64 {
    let d = x_db - t;
    if 2.0 * d < -w {
        x_db
    } else if w > 0.0 && 2.0 * d.abs() <= w {
        let e = d + w / 2.0;
        x_db + (1.0 / r - 1.0) * e * e / (2.0 * w)
    } else {
        t + d / r
    }
}

/// The gain reduction in dB (`>= 0`) the static curve asks for: `x - gain_computer(x)`.
#[inline]
#[must_use]
pub fn reduction(x_db: f64, t: f64, r: f64, w: f64) -> f64 {
    (x_db - gain_computer(x_db, t, r, w)).max(0.0)
}

/// One-pole coefficient for a time constant of `ms` milliseconds at `sample_rate`:
/// `exp(-1 / (tau fs))`; 0 (instant) for `ms <= 0`.
#[must_use]
pub fn coefficient(ms: f64, sample_rate: f64) -> f64 {
    if ms > 0.0 {
        math::exp(-1000.0 / (ms * sample_rate))
    } else {
        0.0
    }
}

/// Values of the smoothed reduction below this many dB snap to 0, so a detector at rest
/// reaches exactly 0 (and unity gain) instead of decaying through denormals.
pub const SNAP_DB: f64 = 1e-9;

/// GMR eq. 16, smooth branching: attack when the target rises above the state, release
/// otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothBranching {
    pub y: f64,
}

impl SmoothBranching {
    /// Advances by one sample towards `x` with attack and release coefficients.
    #[inline]
    pub fn step(&mut self, x: f64, attack: f64, release: f64) -> f64 {
        self.y = smooth(self.y, x, attack, release);
        self.y
    }
}

/// One step of [`SmoothBranching`] from `y` towards `x`, as a pure function, so that a loop
/// can keep the state in a register. Both branches are computed and one is selected: the
/// branch taken flips with the signal, and a mispredicted jump costs more than the
/// arithmetic.
#[inline(always)]
#[must_use]
pub fn smooth(y: f64, x: f64, attack: f64, release: f64) -> f64 {
    let up = attack * y + (1.0 - attack) * x;
    let down = release * y + (1.0 - release) * x;
    // At x = 0 the step is a release (y >= 0), so the snap can test `down` beside the
    // choice instead of after it: one step less in the recursion's chain.
    let snap = x == 0.0 && down < SNAP_DB;
    let next = if x > y { up } else { down };
    if snap { 0.0 } else { next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_midpoint_and_branches() {
        // At the threshold the soft knee gives T + (1/R - 1) W / 8.
        let y = gain_computer(-20.0, -20.0, 4.0, 8.0);
        assert!((y - (-20.0 + (0.25 - 1.0) * 1.0)).abs() < 1e-12);
        assert_eq!(gain_computer(-40.0, -20.0, 4.0, 8.0), -40.0);
        assert_eq!(gain_computer(-20.0, -20.0, 4.0, 0.0), -20.0);
        assert!((gain_computer(0.0, -20.0, 4.0, 0.0) + 15.0).abs() < 1e-12);
    }

    #[test]
    fn time_constant_reaches_63_percent() {
        let a = coefficient(10.0, 48000.0);
        let mut d = SmoothBranching::default();
        let mut n = 0;
        while d.step(1.0, a, a) < 1.0 - math::exp(-1.0) {
            n += 1;
        }
        assert!((479..=481).contains(&n), "{n}");
    }
}
