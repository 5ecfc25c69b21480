//! The engine's only door to transcendental functions.
//!
//! Everything here calls the pure-Rust `libm` crate instead of the platform's
//! math library, so that a render gives the same bits on every machine
//! (glibc, musl and macOS disagree in the last ulp of `exp`, `sin`, ...).

/// Level in dB at or below which a gain is "off" (exactly 0.0).
pub const OFF_DB: f64 = -144.0;

/// `ln(10) / 20`: dB to natural-log gain.
const DB_TO_LN: f64 = core::f64::consts::LN_10 / 20.0;

/// `10^(db/20)`; exactly 0.0 at or below [`OFF_DB`], exactly 1.0 at 0 dB.
#[inline]
#[must_use]
pub fn db_to_gain(db: f64) -> f64 {
    if db <= OFF_DB {
        0.0
    } else {
        libm::exp(db * DB_TO_LN)
    }
}

/// `10^(db/20)` with no "off" floor: the ratio of a gain change of `db` (a ramp's step).
#[inline]
#[must_use]
pub fn db_ratio(db: f64) -> f64 {
    libm::exp(db * DB_TO_LN)
}

/// `20 log10(gain)`; `None` for silence (a gain of 0).
#[inline]
#[must_use]
pub fn gain_to_db(gain: f64) -> Option<f64> {
    (gain > 0.0).then(|| 20.0 * libm::log10(gain))
}

#[inline]
#[must_use]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

#[inline]
#[must_use]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

#[inline]
#[must_use]
pub fn log10(x: f64) -> f64 {
    libm::log10(x)
}

#[inline]
#[must_use]
pub fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[inline]
#[must_use]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

#[inline]
#[must_use]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

#[inline]
#[must_use]
pub fn tan(x: f64) -> f64 {
    libm::tan(x)
}

#[inline]
#[must_use]
pub fn tanh(x: f64) -> f64 {
    libm::tanh(x)
}

#[inline]
#[must_use]
pub fn sqrt(x: f64) -> f64 {
    // IEEE 754 requires sqrt to be correctly rounded, so std's is portable.
    x.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unity_and_off_are_exact() {
        assert_eq!(db_to_gain(0.0).to_bits(), 1.0f64.to_bits());
        assert_eq!(db_to_gain(-144.0), 0.0);
        assert_eq!(db_to_gain(-200.0), 0.0);
    }

    #[test]
    fn db_round_trip() {
        for db in [-96.0, -20.0, -6.0, -0.5, 3.0, 24.0] {
            let back = gain_to_db(db_to_gain(db)).unwrap();
            assert!((back - db).abs() < 1e-12, "{db} -> {back}");
        }
        assert_eq!(gain_to_db(0.0), None);
    }
}
