//! The Schroeder all-pass comb (M. R. Schroeder and B. F. Logan, "'Colorless' artificial
//! reverberation", JAES 9(3), 1961): `H(z) = (-g + z^-M) / (1 - g z^-M)`, flat in magnitude
//! and dense in time, the diffuser of the reverb's input (J. Dattorro, "Effect Design, Part
//! 1: Reverberator and Other Filters", JAES 45(9), 1997, section 1.3).
//!
//! Form: `v[n] = x[n] + g v[n-M]`, `y[n] = -g v[n] + v[n-M]` (one delay line of `M`).

use crate::dsp::ring::flush;

/// One all-pass section of fixed length. Allocates only in [`Allpass::new`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Allpass {
    buf: Vec<f64>,
    pos: usize,
    g: f64,
}

impl Allpass {
    /// `len >= 1` frames of delay and coefficient `g` (`|g| < 1`).
    pub(crate) fn new(len: usize, g: f64) -> Self {
        Self {
            buf: vec![0.0; len.max(1)],
            pos: 0,
            g,
        }
    }

    /// The delay in frames.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Sets the coefficient (`|g| < 1`); the state is kept.
    pub(crate) fn set_gain(&mut self, g: f64) {
        self.g = g;
    }

    /// One sample: the definition, and the reference for [`Allpass::process`].
    #[cfg(test)]
    pub(crate) fn tick(&mut self, x: f64) -> f64 {
        let delayed = self.buf[self.pos];
        let v = flush(x + self.g * delayed);
        self.buf[self.pos] = v;
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        delayed - self.g * v
    }

    /// `tick` over every sample of `x`, in place, with the same bits: a run of samples up
    /// to the buffer's end touches each stored value once, so it is one loop without a
    /// dependency from sample to sample (it vectorises).
    pub(crate) fn process(&mut self, x: &mut [f64]) {
        let g = self.g;
        let mut rest = x;
        while !rest.is_empty() {
            let n = rest.len().min(self.buf.len() - self.pos);
            let (now, later) = rest.split_at_mut(n);
            for (x, d) in now.iter_mut().zip(&mut self.buf[self.pos..self.pos + n]) {
                let delayed = *d;
                let v = flush(*x + g * delayed);
                *d = v;
                *x = delayed - g * v;
            }
            self.pos += n;
            if self.pos == self.buf.len() {
                self.pos = 0;
            }
            rest = later;
        }
    }

    pub(crate) fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

#[cfg(test)]
// The expected values use std's `powi`: a reference computed apart from the engine's maths.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn impulse_response_is_the_allpass_comb() {
        // h[0] = -g, h[kM] = (1 - g^2) g^(k-1), zero elsewhere; energy 1.
        let (m, g) = (5, 0.6);
        let mut a = Allpass::new(m, g);
        let h: Vec<f64> = (0..200)
            .map(|n| a.tick(if n == 0 { 1.0 } else { 0.0 }))
            .collect();
        assert_eq!(h[0], -g);
        for (n, &v) in h.iter().enumerate().skip(1) {
            if n % m == 0 {
                let k = i32::try_from(n / m).unwrap();
                assert!((v - (1.0 - g * g) * g.powi(k - 1)).abs() < 1e-15);
            } else {
                assert_eq!(v, 0.0);
            }
        }
        let energy: f64 = h.iter().map(|v| v * v).sum();
        assert!((energy - 1.0).abs() < 1e-12);
    }

    #[test]
    fn process_is_tick_bit_for_bit() {
        let (m, g) = (7, 0.625);
        let x: Vec<f64> = (0..100).map(|n| f64::from(n % 13) - 6.0).collect();
        let mut a = Allpass::new(m, g);
        let want: Vec<f64> = x.iter().map(|&v| a.tick(v)).collect();
        for run in [1, 3, 7, 16, 100] {
            let mut a = Allpass::new(m, g);
            let mut y = x.clone();
            y.chunks_mut(run).for_each(|c| a.process(c));
            assert_eq!(y, want, "runs of {run}");
        }
    }
}
