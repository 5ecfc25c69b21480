//! The real FFT of the convolver: power-of-two lengths, scalar, with every twiddle factor
//! computed by [`crate::math`] (the `libm` crate), so that no bit of a transform depends on
//! the platform's maths library or on the CPU.
//!
//! A real transform of `n = 2m` points is a complex transform of `m` points of the packed
//! signal `z[j] = x[2j] + i x[2j + 1]`, followed (forward) or preceded (inverse) by the usual
//! split of even and odd parts with the twiddles `W_n^k`. The complex transform is an
//! in-place decimation in time: the input is loaded in bit-reversed order, then combined by
//! radix-4 passes (one radix-2 pass first when `log2 m` is odd). Every operation and its
//! order is fixed by `n` alone.
//!
//! Conventions are realfft's: the forward transform gives the `m + 1` bins
//! `X[k] = Σ x[j] e^{-2πi jk/n}`, `k = 0 ..= m`; the inverse reads those bins (the imaginary
//! parts of `X[0]` and `X[m]` are taken as 0) and gives `n` times the signal. Neither
//! allocates.
//!
//! Twiddles: `e^{-2πi t/n}` from `math::cos` and `math::sin` of an angle in the first octant
//! (`2π t/n` with `t/n` exact, one rounding), mapped to the others by symmetry, so that the
//! quadrant points are exactly `±1`, `±i`, the octant points `(±1 ± i)/√2` correctly
//! rounded, and the table symmetric to the last bit.

use core::ops::{Add, Mul, Sub};

use crate::math;

/// A complex number of two `f64`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Complex {
    pub re: f64,
    pub im: f64,
}

impl Complex {
    #[inline]
    #[must_use]
    pub const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }

    #[inline]
    #[must_use]
    pub const fn conj(self) -> Self {
        Self {
            re: self.re,
            im: -self.im,
        }
    }
}

impl Add for Complex {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }
}

impl Sub for Complex {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }
}

impl Mul for Complex {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}

/// `e^{-2πi t/n}` for a power of two `n`.
fn unit(t: usize, n: usize) -> Complex {
    debug_assert!(n.is_power_of_two());
    let t = t % n;
    if n < 4 {
        // n = 1: 1; n = 2: ±1.
        return Complex::new(if t == 0 { 1.0 } else { -1.0 }, 0.0);
    }
    let quarter = n / 4;
    let (q, r) = (t / quarter, t % quarter);
    // cos and sin of 2π r/n, r/n in [0, 1/4): directly below the octant, by the complement
    // above it.
    // cast: powers of two and below, exact
    let angle = |k: usize| core::f64::consts::TAU * (k as f64 / n as f64);
    let (c, s) = if 8 * r == n {
        // The octant itself: cos = sin, correctly rounded.
        (
            core::f64::consts::FRAC_1_SQRT_2,
            core::f64::consts::FRAC_1_SQRT_2,
        )
    } else if 8 * r < n {
        let a = angle(r);
        (math::cos(a), math::sin(a))
    } else {
        let a = angle(quarter - r);
        (math::sin(a), math::cos(a))
    };
    let (c, s) = match q {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    };
    Complex::new(c, -s)
}

/// `x · w` (forward) or `x · conj(w)` (inverse).
#[inline(always)]
fn twiddle<const INV: bool>(x: Complex, w: Complex) -> Complex {
    if INV { x * w.conj() } else { x * w }
}

/// `-i x` (forward) or `i x` (inverse).
#[inline(always)]
fn rotate<const INV: bool>(x: Complex) -> Complex {
    if INV {
        Complex::new(-x.im, x.re)
    } else {
        Complex::new(x.im, -x.re)
    }
}

/// The radix-2 pass on pairs (no twiddles).
#[inline(always)]
fn radix2(data: &mut [Complex]) {
    for pair in data.chunks_exact_mut(2) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a + b;
        pair[1] = a - b;
    }
}

/// The radix-4 pass on blocks of 1: every twiddle is 1.
#[inline(always)]
fn first4<const INV: bool>(data: &mut [Complex]) {
    for q in data.chunks_exact_mut(4) {
        // Blocks 1 and 2 hold the even-odd and odd-even quarters (bit reversal).
        let (a0, a2, a1, a3) = (q[0], q[1], q[2], q[3]);
        let (t0, t1, t2, t3) = (a0 + a2, a0 - a2, a1 + a3, rotate::<INV>(a1 - a3));
        q[0] = t0 + t2;
        q[1] = t1 + t3;
        q[2] = t0 - t2;
        q[3] = t1 - t3;
    }
}

/// A radix-4 pass joining 4 transforms of `l` points into one of `4l`, for every group of
/// `4l` in `data`; `w` holds `W_{4l}^k, W_{4l}^{2k}, W_{4l}^{3k}` for `k < l`.
#[inline(always)]
fn pass4<const INV: bool>(data: &mut [Complex], l: usize, w: &[Complex]) {
    for group in data.chunks_exact_mut(4 * l) {
        let (b0, rest) = group.split_at_mut(l);
        let (b1, rest) = rest.split_at_mut(l);
        let (b2, b3) = rest.split_at_mut(l);
        for ((((x0, x1), x2), x3), w) in b0
            .iter_mut()
            .zip(b1.iter_mut())
            .zip(b2.iter_mut())
            .zip(b3.iter_mut())
            .zip(w.chunks_exact(3))
        {
            // Block 1 holds the transform of the inputs 2 mod 4, block 2 of 1 mod 4.
            let a0 = *x0;
            let a1 = twiddle::<INV>(*x2, w[0]);
            let a2 = twiddle::<INV>(*x1, w[1]);
            let a3 = twiddle::<INV>(*x3, w[2]);
            let (t0, t1, t2, t3) = (a0 + a2, a0 - a2, a1 + a3, rotate::<INV>(a1 - a3));
            *x0 = t0 + t2;
            *x1 = t1 + t3;
            *x2 = t0 - t2;
            *x3 = t1 - t3;
        }
    }
}

/// A real FFT of one power-of-two length, forward and inverse.
#[derive(Debug, Clone)]
pub struct RealFft {
    n: usize,
    /// `n / 2`: the complex transform's length.
    m: usize,
    /// Where each packed input goes: the bit reversal of its index in `log2 m` bits.
    bitrev: Vec<u32>,
    /// Per radix-4 pass of block length `l` (1 or 2, then times 4), `3l` factors:
    /// `W_{4l}^k, W_{4l}^{2k}, W_{4l}^{3k}` for `k < l`.
    passes: Vec<Complex>,
    /// `W_n^k` for `k < m / 2`: the split of even and odd parts.
    split: Vec<Complex>,
}

impl RealFft {
    /// The transform of `n` real points.
    ///
    /// # Panics
    /// If `n` is not a power of two from 2 to `2^32`.
    #[must_use]
    pub fn new(n: usize) -> Self {
        assert!(
            n.is_power_of_two() && (2..=1 << 32).contains(&n),
            "FFT length {n}: a power of two of at least 2"
        );
        let m = n / 2;
        let bits = m.trailing_zeros();
        let bitrev = (0..m)
            .map(|j| {
                let r = if bits == 0 {
                    0
                } else {
                    j.reverse_bits() >> (usize::BITS - bits)
                };
                u32::try_from(r).expect("below 2^32")
            })
            .collect();
        let mut passes = Vec::new();
        let mut l = if bits % 2 == 1 { 2 } else { 1 };
        while 4 * l <= m {
            for k in 0..l {
                for p in 1..=3 {
                    // W_{4l}^{pk} = W_m^{pk m / 4l}
                    passes.push(unit(p * k * (m / (4 * l)), m));
                }
            }
            l *= 4;
        }
        let split = (0..m / 2).map(|k| unit(k, n)).collect();
        Self {
            n,
            m,
            bitrev,
            passes,
            split,
        }
    }

    /// The real length `n`.
    #[must_use]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a transform has at least 2 points.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The complex transform of `m` points in place; `data` holds its input in bit-reversed
    /// order.
    ///
    /// The first two passes (radix-2 and radix-4 for an odd `log2 m`, two radix-4
    /// otherwise) run on groups of 8 or 16 held in registers; the arithmetic is the same as
    /// pass by pass.
    fn complex<const INV: bool>(&self, data: &mut [Complex]) {
        let m = self.m;
        debug_assert_eq!(data.len(), m);
        let odd = m.trailing_zeros() % 2 == 1;
        let (mut l, mut tw) = if odd { (2, 0) } else { (1, 0) };
        if odd && m >= 8 {
            let w = &self.passes[..6];
            for group in data.chunks_exact_mut(8) {
                let mut a: [Complex; 8] = group.try_into().expect("a group of 8");
                radix2(&mut a);
                pass4::<INV>(&mut a, 2, w);
                group.copy_from_slice(&a);
            }
            (l, tw) = (8, 6);
        } else if odd {
            radix2(data);
            l = 2;
        } else if m >= 16 {
            let w = &self.passes[3..15];
            for group in data.chunks_exact_mut(16) {
                let mut a: [Complex; 16] = group.try_into().expect("a group of 16");
                first4::<INV>(&mut a);
                pass4::<INV>(&mut a, 4, w);
                group.copy_from_slice(&a);
            }
            (l, tw) = (16, 15);
        } else if m >= 4 {
            first4::<INV>(data);
            (l, tw) = (4, 3);
        }
        while 4 * l <= m {
            pass4::<INV>(data, l, &self.passes[tw..tw + 3 * l]);
            tw += 3 * l;
            l *= 4;
        }
    }

    /// The forward transform of `input` (`n` samples) into `out` (`n / 2 + 1` bins).
    ///
    /// # Panics
    /// If a length differs.
    pub fn forward(&self, input: &[f64], out: &mut [Complex]) {
        let m = self.m;
        assert!(
            input.len() == self.n && out.len() == m + 1,
            "FFT buffer lengths"
        );
        for (pair, &r) in input.chunks_exact(2).zip(&self.bitrev) {
            out[r as usize] = Complex::new(pair[0], pair[1]);
        }
        self.complex::<false>(&mut out[..m]);
        let z0 = out[0];
        out[0] = Complex::new(z0.re + z0.im, 0.0);
        out[m] = Complex::new(z0.re - z0.im, 0.0);
        for k in 1..m.div_ceil(2) {
            let (a, b) = (out[k], out[m - k].conj());
            let e = Complex::new(0.5 * (a.re + b.re), 0.5 * (a.im + b.im));
            let d = Complex::new(0.5 * (a.re - b.re), 0.5 * (a.im - b.im));
            let t = rotate::<false>(d) * self.split[k];
            out[k] = e + t;
            out[m - k] = (e - t).conj();
        }
        if m >= 2 {
            out[m / 2] = out[m / 2].conj();
        }
    }

    /// The inverse transform of `input` (`n / 2 + 1` bins, overwritten) into `out` (`n`
    /// samples, `n` times the signal); `scratch` holds `n / 2` values.
    ///
    /// # Panics
    /// If a length differs.
    pub fn inverse(&self, input: &mut [Complex], out: &mut [f64], scratch: &mut [Complex]) {
        let m = self.m;
        assert!(
            input.len() == m + 1 && out.len() == self.n && scratch.len() >= m,
            "FFT buffer lengths"
        );
        let (x0, xm) = (input[0].re, input[m].re);
        input[0] = Complex::new(x0 + xm, x0 - xm);
        for k in 1..m.div_ceil(2) {
            let (a, b) = (input[k], input[m - k].conj());
            let e = a + b;
            let o = (a - b) * self.split[k].conj();
            let io = rotate::<true>(o);
            input[k] = e + io;
            input[m - k] = e.conj() + rotate::<true>(o.conj());
        }
        if m >= 2 {
            let x = input[m / 2];
            input[m / 2] = Complex::new(2.0 * x.re, -2.0 * x.im);
        }
        let data = &mut scratch[..m];
        for (z, &r) in input[..m].iter().zip(&self.bitrev) {
            data[r as usize] = *z;
        }
        self.complex::<true>(data);
        for (pair, z) in out.chunks_exact_mut(2).zip(data.iter()) {
            pair[0] = z.re;
            pair[1] = z.im;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DFT by its definition, in the same twiddles, summed in f64 (reference).
    fn dft(x: &[f64]) -> Vec<Complex> {
        let n = x.len();
        (0..=n / 2)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .fold(Complex::default(), |acc, (j, &v)| {
                        let w = unit(j * k, n);
                        acc + Complex::new(v * w.re, v * w.im)
                    })
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<f64> {
        let mut s = 0x2545_f491_4f6c_dd1d_u64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let v = (s >> 11) as f64 / (1u64 << 53) as f64;
                v - 0.5
            })
            .collect()
    }

    #[test]
    fn the_twiddles_are_exact_at_the_quadrants_and_symmetric() {
        for n in [4usize, 8, 64, 1024] {
            assert_eq!(unit(0, n), Complex::new(1.0, 0.0));
            assert_eq!(unit(n / 4, n), Complex::new(0.0, -1.0));
            assert_eq!(unit(n / 2, n), Complex::new(-1.0, 0.0));
            assert_eq!(unit(3 * n / 4, n), Complex::new(0.0, 1.0));
            for t in 0..n {
                assert_eq!(unit(n - t, n), unit(t, n).conj(), "{t}/{n}");
                let w = unit(t, n);
                let a = -core::f64::consts::TAU * t as f64 / n as f64;
                // (The reference's own angle is rounded at up to 2π: 9e-16 of error.)
                assert!((w.re - libm::cos(a)).abs() < 1e-15 && (w.im - libm::sin(a)).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn forward_and_inverse_match_the_dft() {
        for bits in 1..=12 {
            let n = 1usize << bits;
            let fft = RealFft::new(n);
            let x = signal(n);
            let mut spectrum = vec![Complex::default(); n / 2 + 1];
            fft.forward(&x, &mut spectrum);
            let reference = dft(&x);
            let tol = 1e-14 * (n as f64).sqrt() * (bits as f64);
            for (k, (a, b)) in spectrum.iter().zip(&reference).enumerate() {
                assert!(
                    (a.re - b.re).abs() < tol && (a.im - b.im).abs() < tol,
                    "n {n} bin {k}: {a:?} against {b:?}"
                );
            }
            assert_eq!(spectrum[0].im, 0.0);
            assert_eq!(spectrum[n / 2].im, 0.0);
            let mut back = vec![0.0; n];
            let mut scratch = vec![Complex::default(); n / 2];
            fft.inverse(&mut spectrum, &mut back, &mut scratch);
            let scale = n as f64;
            for (j, (a, b)) in back.iter().zip(&x).enumerate() {
                assert!(
                    (a / scale - b).abs() < tol,
                    "n {n} sample {j}: {a} against {b}"
                );
            }
        }
    }

    #[test]
    fn the_inverse_is_the_adjoint_on_single_bins() {
        // A lone bin k of value 1 (k in 1 .. m) is the signal 2 cos(2π kj/n) (its mirror
        // image is implied); DC and Nyquist give cos once.
        let n = 64;
        let fft = RealFft::new(n);
        let mut scratch = vec![Complex::default(); n / 2];
        for k in 0..=n / 2 {
            let mut bins = vec![Complex::default(); n / 2 + 1];
            bins[k] = Complex::new(1.0, 0.0);
            let mut out = vec![0.0; n];
            fft.inverse(&mut bins, &mut out, &mut scratch);
            let weight = if k == 0 || k == n / 2 { 1.0 } else { 2.0 };
            for (j, v) in out.iter().enumerate() {
                let expected = weight * unit(j * k, n).re;
                assert!((v - expected).abs() < 1e-14, "bin {k} sample {j}: {v}");
            }
        }
    }
}
