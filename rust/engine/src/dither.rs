//! Output quantisation with seeded TPDF dither.
//!
//! The noise is counter-based: the draw for (frame, channel) is a hash of the seed
//! and that position, so it is the same whatever the block size or thread count.

/// A 64-bit mix (the `SplitMix64` finaliser): a good bijection, cheap and portable.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in `[0, 1)` with 53 random bits.
#[inline]
fn uniform(seed: u64, counter: u64) -> f64 {
    let h = mix64(mix64(seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_add(counter));
    // cast: exactly 53 bits
    let v = (h >> 11) as f64;
    v * (1.0 / 9_007_199_254_740_992.0)
}

/// The seed of an independent noise stream (a stem's) derived from the render's seed.
#[must_use]
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_mul(0xd6e8_feb8_6659_fd93)))
}

/// TPDF noise in LSB, in `(-1, 1)`: the difference of two uniform draws.
#[inline]
#[must_use]
pub fn tpdf(seed: u64, frame: u64, channel: u64) -> f64 {
    let c = (frame << 2) | (channel << 1);
    uniform(seed, c) - uniform(seed, c | 1)
}

/// `clamp(round_half_away(x * 2^(bits-1) + d), -2^(bits-1), 2^(bits-1) - 1)`.
#[inline]
#[must_use]
pub fn quantize(x: f64, bits: u32, noise: f64) -> i32 {
    let full = f64::from(1u32 << (bits - 1));
    // f64::round rounds halves away from zero, as the format requires.
    let q = (x * full + noise).round().clamp(-full, full - 1.0);
    // cast: clamped to the integer range
    q as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpdf_is_triangular_and_zero_mean() {
        let n = 200_000u64;
        let mut sum = 0.0;
        let mut sq = 0.0;
        let mut inner = 0u64;
        for i in 0..n {
            let d = tpdf(7, i, i & 1);
            assert!(d > -1.0 && d < 1.0);
            sum += d;
            sq += d * d;
            if d.abs() < 0.5 {
                inner += 1;
            }
        }
        let (mean, var, frac) = (sum / n as f64, sq / n as f64, inner as f64 / n as f64);
        assert!(mean.abs() < 0.01, "mean {mean}");
        // Triangular on (-1, 1): variance 1/6, and 3/4 of the mass within |d| < 1/2.
        assert!((var - 1.0 / 6.0).abs() < 0.005, "variance {var}");
        assert!((frac - 0.75).abs() < 0.01, "inner mass {frac}");
    }

    #[test]
    fn seeds_and_positions_differ() {
        assert_ne!(tpdf(0, 5, 0).to_bits(), tpdf(1, 5, 0).to_bits());
        assert_ne!(tpdf(0, 5, 0).to_bits(), tpdf(0, 5, 1).to_bits());
        assert_eq!(tpdf(3, 99, 1).to_bits(), tpdf(3, 99, 1).to_bits());
    }

    #[test]
    fn quantize_rounds_half_away_and_clamps() {
        assert_eq!(quantize(0.5 / 32768.0, 16, 0.0), 1);
        assert_eq!(quantize(-0.5 / 32768.0, 16, 0.0), -1);
        assert_eq!(quantize(1.0, 16, 0.0), 32767);
        assert_eq!(quantize(-1.5, 16, 0.0), -32768);
        assert_eq!(quantize(-1.0, 24, 0.0), -8_388_608);
        assert_eq!(quantize(0.25, 24, 0.0), 2_097_152);
    }
}
