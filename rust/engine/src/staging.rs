//! Gain staging: levels at points of a strip (`mixrender analyze MIX`): peak, RMS,
//! DC and stereo correlation, accumulated over the whole render.

use crate::math;

/// What one point of a strip has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Level {
    /// Largest `|x|` over both channels.
    pub peak: f64,
    /// Sum of squares over both channels, and the samples counted.
    pub sum_sq: f64,
    pub samples: u64,
    /// Per channel sums (DC) and the cross terms for correlation (stereo only).
    pub sum: [f64; 2],
    pub sum_lr: f64,
    pub sum_ll: f64,
    pub sum_rr: f64,
    pub frames: u64,
    pub stereo: bool,
}

impl Level {
    /// Adds a block: `right` is `None` for a mono signal.
    pub fn add(&mut self, left: &[f64], right: Option<&[f64]>) {
        for (c, x) in core::iter::once(left).chain(right).enumerate() {
            for &v in x {
                self.peak = self.peak.max(v.abs());
                self.sum_sq += v * v;
                self.sum[c] += v;
            }
            self.samples += x.len() as u64;
        }
        if let Some(r) = right {
            self.stereo = true;
            for (&a, &b) in left.iter().zip(r) {
                self.sum_lr += a * b;
                self.sum_ll += a * a;
                self.sum_rr += b * b;
            }
        }
        self.frames += left.len() as u64;
    }

    #[must_use]
    pub fn peak_db(&self) -> Option<f64> {
        math::gain_to_db(self.peak)
    }

    #[must_use]
    pub fn rms_db(&self) -> Option<f64> {
        if self.samples == 0 {
            return None;
        }
        let mean = self.sum_sq / self.samples as f64;
        math::gain_to_db(math::sqrt(mean))
    }

    /// The mean of the channel whose DC is largest (signed).
    #[must_use]
    pub fn dc(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        let n = self.frames as f64;
        let (a, b) = (self.sum[0] / n, self.sum[1] / n);
        if b.abs() > a.abs() { b } else { a }
    }

    /// Pearson correlation of left and right at zero lag; `None` for mono or silence.
    #[must_use]
    pub fn correlation(&self) -> Option<f64> {
        let d = math::sqrt(self.sum_ll * self.sum_rr);
        (self.stereo && d > 0.0).then(|| self.sum_lr / d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_levels_and_correlation() {
        let x: Vec<f64> = (0..48000)
            .map(|i| 0.5 * math::sin(2.0 * core::f64::consts::PI * 1000.0 * f64::from(i) / 48000.0))
            .collect();
        let inv: Vec<f64> = x.iter().map(|v| -v).collect();
        let mut l = Level::default();
        l.add(&x, Some(&inv));
        assert!((l.peak_db().unwrap() - -6.0206).abs() < 1e-3);
        assert!((l.rms_db().unwrap() - -9.0309).abs() < 1e-3);
        assert!((l.correlation().unwrap() + 1.0).abs() < 1e-12);
        assert!(l.dc().abs() < 1e-12);
        let mut m = Level::default();
        m.add(&x, None);
        assert_eq!(m.correlation(), None);
    }
}
