//! Biquad filters per R. Bristow-Johnson, *Cookbook formulae for audio EQ biquad filter
//! coefficients* (W3C Audio WG Note, 2021), plus the first-order bilinear sections that
//! Butterworth cascades of odd order need.
//!
//! `H(z) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)`, normalised by `a0`, with
//! `w0 = 2 pi f0 / fs`, `alpha = sin(w0) / (2 Q)` and, for the peaking and shelf types,
//! `A = 10^(gain_db / 40)`. Coefficients are designed and kept in float64
//! ([`BiquadCoefficients`], identity by default) apart from the filter's state ([`Biquad`],
//! transposed direct form II, float64), so one design can drive both channels.
//! [`BiquadPair`] is the state of both channels side by side ([`Lanes`]), which the compiler
//! runs as one SSE2 `f64x2` operation per step, each lane doing what [`Biquad`] does.
//!
//! Conventions (where implementations differ): `Q` is the cookbook's Q (the peaking EQ's
//! bandwidth Q, not the "EE" Q); shelves use the cookbook's Q form (`2 sqrt(A) alpha`), with
//! `Q = 1/sqrt(2)` the steepest monotonic shelf and `f0` the frequency of half the gain in
//! dB; band-pass is the constant 0 dB peak form. Every design is the bilinear transform of
//! its analog prototype pre-warped at `f0`.

use core::ops::{Add, Mul, Sub};

use crate::math;

/// Normalised coefficients of one second-order section (first order when `b2 = a2 = 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoefficients {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

impl Default for BiquadCoefficients {
    /// The identity: `H(z) = 1`.
    fn default() -> Self {
        Self::IDENTITY
    }
}

/// `cos(w0)` and `sin(w0)` of one centre frequency, so that a gain can change per frame
/// without recomputing the trigonometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Omega {
    pub cos: f64,
    pub sin: f64,
}

impl Omega {
    /// `w0 = 2 pi f0 / fs`.
    #[must_use]
    pub fn new(f0: f64, sample_rate: f64) -> Self {
        let w0 = core::f64::consts::TAU * f0 / sample_rate;
        Self {
            cos: math::cos(w0),
            sin: math::sin(w0),
        }
    }

    #[inline]
    fn alpha(self, q: f64) -> f64 {
        self.sin / (2.0 * q)
    }
}

/// `A = 10^(gain_db / 40)`, the amplitude the peaking and shelf designs take.
#[inline]
#[must_use]
pub fn shelf_amplitude(gain_db: f64) -> f64 {
    math::exp(gain_db * (core::f64::consts::LN_10 / 40.0))
}

impl BiquadCoefficients {
    pub const IDENTITY: Self = Self {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    #[inline]
    fn normalised(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Self {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    /// Cookbook LPF: `H(s) = 1 / (s^2 + s/Q + 1)`.
    #[must_use]
    pub fn lowpass(w: Omega, q: f64) -> Self {
        let alpha = w.alpha(q);
        let b1 = 1.0 - w.cos;
        Self::normalised(
            b1 / 2.0,
            b1,
            b1 / 2.0,
            1.0 + alpha,
            -2.0 * w.cos,
            1.0 - alpha,
        )
    }

    /// Cookbook HPF: `H(s) = s^2 / (s^2 + s/Q + 1)`.
    #[must_use]
    pub fn highpass(w: Omega, q: f64) -> Self {
        let alpha = w.alpha(q);
        let b0 = (1.0 + w.cos) / 2.0;
        Self::normalised(
            b0,
            -(1.0 + w.cos),
            b0,
            1.0 + alpha,
            -2.0 * w.cos,
            1.0 - alpha,
        )
    }

    /// Cookbook BPF with a constant 0 dB peak: `H(s) = (s/Q) / (s^2 + s/Q + 1)`.
    #[must_use]
    pub fn bandpass(w: Omega, q: f64) -> Self {
        let alpha = w.alpha(q);
        Self::normalised(alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * w.cos, 1.0 - alpha)
    }

    /// Cookbook notch: `H(s) = (s^2 + 1) / (s^2 + s/Q + 1)`.
    #[must_use]
    pub fn notch(w: Omega, q: f64) -> Self {
        let alpha = w.alpha(q);
        Self::normalised(
            1.0,
            -2.0 * w.cos,
            1.0,
            1.0 + alpha,
            -2.0 * w.cos,
            1.0 - alpha,
        )
    }

    /// Cookbook peaking EQ with `a = A = 10^(gain_db/40)`:
    /// `H(s) = (s^2 + s A/Q + 1) / (s^2 + s/(A Q) + 1)`. `A = 1` is exactly the identity.
    #[must_use]
    pub fn peaking(w: Omega, q: f64, a: f64) -> Self {
        let alpha = w.alpha(q);
        Self::normalised(
            1.0 + alpha * a,
            -2.0 * w.cos,
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * w.cos,
            1.0 - alpha / a,
        )
    }

    /// Cookbook low shelf (Q form), `a = A`:
    /// `H(s) = A (s^2 + (sqrt(A)/Q) s + A) / (A s^2 + (sqrt(A)/Q) s + 1)`.
    #[must_use]
    pub fn low_shelf(w: Omega, q: f64, a: f64) -> Self {
        let k = 2.0 * math::sqrt(a) * w.alpha(q);
        let (ap, am) = (a + 1.0, a - 1.0);
        Self::normalised(
            a * (ap - am * w.cos + k),
            2.0 * a * (am - ap * w.cos),
            a * (ap - am * w.cos - k),
            ap + am * w.cos + k,
            -2.0 * (am + ap * w.cos),
            ap + am * w.cos - k,
        )
    }

    /// Cookbook high shelf (Q form), `a = A`:
    /// `H(s) = A (A s^2 + (sqrt(A)/Q) s + 1) / (s^2 + (sqrt(A)/Q) s + A)`.
    #[must_use]
    pub fn high_shelf(w: Omega, q: f64, a: f64) -> Self {
        let k = 2.0 * math::sqrt(a) * w.alpha(q);
        let (ap, am) = (a + 1.0, a - 1.0);
        Self::normalised(
            a * (ap + am * w.cos + k),
            -2.0 * a * (am + ap * w.cos),
            a * (ap + am * w.cos - k),
            ap - am * w.cos + k,
            2.0 * (am - ap * w.cos),
            ap - am * w.cos - k,
        )
    }

    /// First-order low-pass, bilinear transform of `1 / (s + 1)` pre-warped at `f0`
    /// (`K = tan(pi f0 / fs)`).
    #[must_use]
    pub fn first_order_lowpass(f0: f64, sample_rate: f64) -> Self {
        let k = math::tan(core::f64::consts::PI * f0 / sample_rate);
        Self::normalised(k, k, 0.0, k + 1.0, k - 1.0, 0.0)
    }

    /// First-order high-pass, bilinear transform of `s / (s + 1)` pre-warped at `f0`.
    #[must_use]
    pub fn first_order_highpass(f0: f64, sample_rate: f64) -> Self {
        let k = math::tan(core::f64::consts::PI * f0 / sample_rate);
        Self::normalised(1.0, -1.0, 0.0, k + 1.0, k - 1.0, 0.0)
    }
}

/// The state of one section, transposed direct form II in float64.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Biquad {
    s1: f64,
    s2: f64,
}

/// State magnitudes below this are flushed to zero at grid boundaries, so long silences
/// never run on denormals (-4000 dB: no audible or measurable effect).
const FLUSH: f64 = 1e-200;

impl Biquad {
    /// One sample through the section.
    #[inline]
    pub fn process(&mut self, c: &BiquadCoefficients, x: f64) -> f64 {
        tdf2(c.array(), x, &mut self.s1, &mut self.s2)
    }

    /// Filters `x` in place.
    #[inline]
    pub fn process_slice(&mut self, c: &BiquadCoefficients, x: &mut [f64]) {
        let (mut s1, mut s2) = (self.s1, self.s2);
        let c = c.array();
        for v in x {
            *v = tdf2(c, *v, &mut s1, &mut s2);
        }
        self.s1 = s1;
        self.s2 = s2;
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Sets negligible state (below 1e-200) to zero. Call it at fixed points of the
    /// timeline (grid boundaries), never at block edges, to keep block-size invariance.
    #[inline]
    pub fn flush(&mut self) {
        self.s1 = flushed(self.s1);
        self.s2 = flushed(self.s2);
    }
}

/// `v`, or zero when negligible (below 1e-200).
#[inline]
fn flushed(v: f64) -> f64 {
    if v.abs() < FLUSH { 0.0 } else { v }
}

/// One sample through a transposed direct form II section with state `s1`, `s2`: the
/// operations (and their order) of every section here, on a float64 or on [`Lanes`].
#[inline(always)]
fn tdf2<T>([b0, b1, b2, a1, a2]: [T; 5], x: T, s1: &mut T, s2: &mut T) -> T
where
    T: Copy + Add<Output = T> + Sub<Output = T> + Mul<Output = T>,
{
    let y = b0 * x + *s1;
    *s1 = b1 * x - a1 * y + *s2;
    *s2 = b2 * x - a2 * y;
    y
}

impl BiquadCoefficients {
    /// `[b0, b1, b2, a1, a2]`.
    #[inline]
    #[must_use]
    pub fn array(&self) -> [f64; 5] {
        [self.b0, self.b1, self.b2, self.a1, self.a2]
    }
}

/// Two float64 values, one per channel (lane 0 left or mono, lane 1 right), combined
/// element-wise. Aligned to 16 bytes so that SSE2 loads a pair as one register.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[repr(C, align(16))]
pub struct Lanes(pub [f64; 2]);

impl Lanes {
    /// The same value on both lanes.
    #[inline]
    #[must_use]
    pub fn splat(v: f64) -> Self {
        Self([v, v])
    }

    /// [`Biquad::flush`]'s rule on each lane.
    #[inline]
    #[must_use]
    fn flushed(self) -> Self {
        Self(self.0.map(flushed))
    }

    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self([f(self.0[0], o.0[0]), f(self.0[1], o.0[1])])
    }
}

impl Add for Lanes {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip(o, |a, b| a + b)
    }
}

impl Sub for Lanes {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip(o, |a, b| a - b)
    }
}

impl Mul for Lanes {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.zip(o, |a, b| a * b)
    }
}

/// A design with each coefficient on both lanes (`[b0, b1, b2, a1, a2]`), for
/// [`BiquadPair`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairCoefficients(pub [Lanes; 5]);

impl Default for PairCoefficients {
    /// The identity.
    fn default() -> Self {
        Self::from(&BiquadCoefficients::IDENTITY)
    }
}

impl From<&BiquadCoefficients> for PairCoefficients {
    #[inline]
    fn from(c: &BiquadCoefficients) -> Self {
        Self(c.array().map(Lanes::splat))
    }
}

/// The state of one section on two channels, each lane the state of a [`Biquad`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BiquadPair {
    s1: Lanes,
    s2: Lanes,
}

impl BiquadPair {
    /// One frame of both channels through the section, element-wise: on each lane the
    /// operations of [`Biquad::process`], on both at once.
    #[inline(always)]
    pub fn process(&mut self, c: &PairCoefficients, x: Lanes) -> Lanes {
        tdf2(c.0, x, &mut self.s1, &mut self.s2)
    }

    /// [`Biquad::flush`] on both lanes.
    #[inline]
    pub fn flush(&mut self) {
        self.s1 = self.s1.flushed();
        self.s2 = self.s2.flushed();
    }

    /// The state of a left and a right [`Biquad`].
    #[inline]
    #[must_use]
    pub fn new(left: Biquad, right: Biquad) -> Self {
        Self {
            s1: Lanes([left.s1, right.s1]),
            s2: Lanes([left.s2, right.s2]),
        }
    }

    /// The state of each lane, `[left, right]`.
    #[inline]
    #[must_use]
    pub fn channels(&self) -> [Biquad; 2] {
        [0, 1].map(|i| Biquad {
            s1: self.s1.0[i],
            s2: self.s2.0[i],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_by_default_and_unity_peaking() {
        let mut s = Biquad::default();
        let c = BiquadCoefficients::default();
        assert_eq!(s.process(&c, 0.25), 0.25);
        let w = Omega::new(1000.0, 48000.0);
        for c in [
            BiquadCoefficients::peaking(w, 1.3, 1.0),
            BiquadCoefficients::low_shelf(w, 0.7, 1.0),
            BiquadCoefficients::high_shelf(w, 0.7, 1.0),
        ] {
            let mut s = Biquad::default();
            for x in [1.0, -0.5, 0.25, 0.0, 0.125] {
                assert_eq!(s.process(&c, x), x, "{c:?}");
            }
        }
    }
}
