//! A delay line read at a gliding, possibly fractional distance: the memory of the `delay`
//! insert and of the reverb's pre-delay and feedback lines.
//!
//! Interpolation after J. O. Smith, *Physical Audio Signal Processing* (2010), "Delay-Line
//! Interpolation": a whole-frame distance is read as the stored sample itself (so a constant
//! delay is a bit-exact delay of the input); a fractional one by the 4-point cubic Hermite
//! (Catmull-Rom) interpolator, whose magnitude response never exceeds 1 (safe inside a
//! feedback loop) and droops by at most 0.04 dB at 5 kHz and 0.53 dB at 10 kHz (48 kHz,
//! half-way between samples), or linearly where the newer neighbour does not exist yet.
//!
//! A distance changes through a [`Glide`]: a one-pole approach to the new whole-frame
//! target (time constant [`GLIDE_MS`]) whose speed is capped at [`MAX_RATE`] frames per
//! frame, so a jump in the delay time becomes a short, bounded change of playback speed
//! (between 0.5x and 1.5x: an octave down, a fifth up) instead of a click, as a tape
//! delay's varispeed would. Within [`SNAP`] of its target the glide lands exactly on it,
//! and the reads are whole-frame again.

use crate::math;

/// Time constant of the glide towards a new distance.
pub(crate) const GLIDE_MS: f64 = 50.0;
/// The fastest a distance moves, in frames per frame (playback speed 1 -/+ this).
pub(crate) const MAX_RATE: f64 = 0.5;
/// A glide closer than this (in frames) to its target lands on it.
pub(crate) const SNAP: f64 = 1e-6;

/// Stored values below this magnitude are written as zero, so a decaying loop never runs
/// on denormals (-4000 dB: no audible or measurable effect).
pub(crate) const FLUSH: f64 = 1e-200;

/// `x` with values below [`FLUSH`] set to zero.
#[inline]
pub(crate) fn flush(x: f64) -> f64 {
    if x.abs() < FLUSH { 0.0 } else { x }
}

/// Catmull-Rom interpolation between `x0` (f = 0) and `x1` (f = 1), with their outer
/// neighbours `xm1` (before `x0`) and `x2` (after `x1`).
#[inline]
#[must_use]
pub(crate) fn hermite(xm1: f64, x0: f64, x1: f64, x2: f64, f: f64) -> f64 {
    let c1 = 0.5 * (x1 - xm1);
    let c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2;
    let c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1);
    ((c3 * f + c2) * f + c1) * f + x0
}

/// Reads a signal `back` frames behind the newest sample (`back = 1`: the newest), given
/// `at(k)`, the sample `k` frames back. `back` must be at least 1.
#[inline]
pub(crate) fn read_frac(back: f64, at: impl Fn(usize) -> f64) -> f64 {
    // Truncation is the floor here (back >= 1); it compiles to one instruction, where
    // `ceil` is a library call on baseline x86-64.
    // cast: 1 ..= capacity
    let whole = back as usize;
    // cast: far below 2^53
    let below = back - whole as f64;
    if below == 0.0 {
        return at(whole);
    }
    // Between the sample `k` back (f = 0) and the newer one `k - 1` back (f = 1).
    let (k, f) = (whole + 1, 1.0 - below);
    let (x0, x1) = (at(k), at(k - 1));
    if k < 3 {
        // No sample newer than `k - 1` yet: linear.
        return x0 + f * (x1 - x0);
    }
    hermite(at(k + 1), x0, x1, at(k - 2), f)
}

/// A ring buffer of one channel; its capacity is a power of two at least 4 frames above
/// the longest distance read. Allocates only in [`Ring::new`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    mask: usize,
    /// Where the next sample is written.
    pos: usize,
}

impl Ring {
    /// A silent line that can be read up to `max_back` frames back (plus the
    /// interpolator's neighbours).
    pub(crate) fn new(max_back: usize) -> Self {
        let len = (max_back + 4).next_power_of_two();
        Self {
            buf: vec![0.0; len],
            mask: len - 1,
            pos: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        self.buf[self.pos] = x;
        self.pos = (self.pos + 1) & self.mask;
    }

    /// The sample `back` frames behind the newest (1 = the newest).
    #[inline]
    pub(crate) fn at(&self, back: usize) -> f64 {
        self.buf[self.pos.wrapping_sub(back) & self.mask]
    }

    /// [`Ring::push`] of each sample of `x`, replaced by [`Ring::at`]`(back)` after its push
    /// (`back = 1`: itself): a whole-frame delay of `back - 1` frames over a run.
    pub(crate) fn push_at(&mut self, x: &mut [f64], back: usize) {
        let mask = self.mask;
        // `..=mask`: every index below is masked, so the compiler drops the bounds checks.
        let buf = &mut self.buf[..=mask];
        let mut pos = self.pos;
        for x in x {
            buf[pos & mask] = *x;
            pos = (pos + 1) & mask;
            *x = buf[pos.wrapping_sub(back) & mask];
        }
        self.pos = pos;
    }

    /// The signal `back >= 1` frames behind the newest sample, interpolated when `back` is
    /// fractional; exactly the stored sample when it is whole.
    #[inline]
    pub(crate) fn read(&self, back: f64) -> f64 {
        read_frac(back, |k| self.at(k))
    }

    pub(crate) fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// A distance in frames that glides to its target (see the module doc).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Glide {
    value: f64,
    target: f64,
    coef: f64,
    /// The next target is taken at once: the first value of a render starts settled.
    fresh: bool,
}

impl Glide {
    /// A glide at `sample_rate`; its first target is taken without gliding.
    pub(crate) fn new(sample_rate: f64) -> Self {
        Self {
            value: 0.0,
            target: 0.0,
            coef: 1.0 - math::exp(-1000.0 / (GLIDE_MS * sample_rate)),
            fresh: true,
        }
    }

    /// Sets the (whole-frame) target; the first call after construction or
    /// [`Glide::reset`] jumps to it.
    #[inline]
    pub(crate) fn set_target(&mut self, target: f64) {
        self.target = target;
        if self.fresh {
            self.value = target;
            self.fresh = false;
        }
    }

    /// True when the distance is its target (a whole number of frames).
    #[inline]
    pub(crate) fn settled(&self) -> bool {
        self.value.to_bits() == self.target.to_bits()
    }

    /// The target (whole frames).
    #[inline]
    pub(crate) fn target(&self) -> f64 {
        self.target
    }

    /// Advances one frame and returns the distance for it.
    #[inline]
    pub(crate) fn tick(&mut self) -> f64 {
        if !self.settled() {
            let step = (self.coef * (self.target - self.value)).clamp(-MAX_RATE, MAX_RATE);
            self.value += step;
            if (self.target - self.value).abs() < SNAP {
                self.value = self.target;
            }
        }
        self.value
    }

    /// Forgets the distance: the next target is taken at once.
    pub(crate) fn reset(&mut self) {
        self.fresh = true;
        self.value = 0.0;
        self.target = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_distances_read_the_stored_samples() {
        let mut r = Ring::new(10);
        for i in 1..=12 {
            r.push(f64::from(i));
        }
        assert_eq!(r.read(1.0), 12.0);
        assert_eq!(r.read(5.0), 8.0);
        assert_eq!(r.at(10), 3.0);
    }

    #[test]
    fn push_at_is_push_then_at() {
        for back in [1, 2, 5, 8] {
            let (mut a, mut b) = (Ring::new(8), Ring::new(8));
            let mut x: Vec<f64> = (0..40).map(f64::from).collect();
            let want: Vec<f64> = x
                .iter()
                .map(|&v| {
                    a.push(v);
                    a.at(back)
                })
                .collect();
            x.chunks_mut(7).for_each(|c| b.push_at(c, back));
            assert_eq!(x, want, "back {back}");
        }
    }

    #[test]
    fn fractional_reads_interpolate_a_line_exactly() {
        // Cubic Hermite reproduces straight lines, and so does the linear fallback.
        let mut r = Ring::new(16);
        for i in 0..16 {
            r.push(f64::from(i));
        }
        for back in [1.25, 1.5, 2.5, 3.75, 7.125] {
            let want = 15.0 - (back - 1.0);
            assert!((r.read(back) - want).abs() < 1e-12, "{back}");
        }
    }

    #[test]
    fn a_glide_lands_exactly_and_is_speed_limited() {
        let mut g = Glide::new(48000.0);
        g.set_target(100.0);
        assert!(g.settled());
        assert_eq!(g.tick(), 100.0);
        g.set_target(5000.0);
        let mut last = 100.0;
        let mut n = 0;
        while !g.settled() {
            let v = g.tick();
            assert!(v - last <= MAX_RATE + 1e-12 && v >= last);
            last = v;
            n += 1;
            assert!(n < 200_000, "never lands");
        }
        assert_eq!(g.tick(), 5000.0);
        g.reset();
        g.set_target(7.0);
        assert_eq!(g.tick(), 7.0);
    }
}
