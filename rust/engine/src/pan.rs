//! Pan laws (mono sources) and stereo balance, per the mix format's formulas.
//!
//! Hard pan gives exactly 0.0 on the far side: `cos(pi/2)` is 6e-17 in floating
//! point, so the far side is snapped rather than computed.

use core::f64::consts::FRAC_PI_4;

use crate::math;
use crate::plan::PanLaw;

/// `(gL, gR)` for a mono signal at pan `p` in `-1 ..= 1` under `law`.
#[must_use]
pub fn mono_gains(law: PanLaw, p: f64) -> (f64, f64) {
    let (l, r) = match law {
        PanLaw::Minus3 => constant_power(p),
        PanLaw::Minus6 => linear(p),
        PanLaw::Minus4_5 => {
            let (cl, cr) = constant_power(p);
            let (ll, lr) = linear(p);
            (math::sqrt(cl * ll), math::sqrt(cr * lr))
        }
        PanLaw::Zero => balance(p),
    };
    snap_hard(p, l, r)
}

/// `(gL, gR)` for a stereo signal: balance, `min(1, 1 - p)` and `min(1, 1 + p)`, under any law.
#[must_use]
pub fn balance(p: f64) -> (f64, f64) {
    ((1.0 - p).min(1.0), (1.0 + p).min(1.0))
}

/// `cos(theta)`, `sin(theta)` with `theta = (p + 1) pi / 4`; the right side is computed as
/// `cos((1 - p) pi / 4)` (the same value) so that the law is mirror-symmetric to the bit.
fn constant_power(p: f64) -> (f64, f64) {
    (
        math::cos((1.0 + p) * FRAC_PI_4),
        math::cos((1.0 - p) * FRAC_PI_4),
    )
}

fn linear(p: f64) -> (f64, f64) {
    ((1.0 - p) / 2.0, (1.0 + p) / 2.0)
}

fn snap_hard(p: f64, l: f64, r: f64) -> (f64, f64) {
    if p >= 1.0 {
        (0.0, r)
    } else if p <= -1.0 {
        (l, 0.0)
    } else {
        (l, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(g: f64) -> f64 {
        math::gain_to_db(g).unwrap()
    }

    #[test]
    fn centre_levels_match_the_reference_table() {
        for (law, want) in [
            (PanLaw::Minus3, -3.0103),
            (PanLaw::Minus4_5, -4.5154),
            (PanLaw::Minus6, -6.0206),
            (PanLaw::Zero, 0.0),
        ] {
            let (l, r) = mono_gains(law, 0.0);
            assert_eq!(l, r);
            assert!((db(l) - want).abs() < 5e-5, "{law:?}: {}", db(l));
        }
    }

    #[test]
    fn half_pan_levels_match_the_reference_table() {
        for (law, near, far) in [
            (PanLaw::Minus3, -0.688, -8.343),
            (PanLaw::Minus4_5, -1.593, -10.192),
            (PanLaw::Minus6, -2.499, -12.041),
            (PanLaw::Zero, 0.0, -6.021),
        ] {
            let (l, r) = mono_gains(law, 0.5);
            assert!((db(r) - near).abs() < 1e-3, "{law:?} near {}", db(r));
            assert!((db(l) - far).abs() < 1e-3, "{law:?} far {}", db(l));
        }
    }

    #[test]
    fn hard_pan_silences_the_far_side_exactly() {
        for law in [
            PanLaw::Minus3,
            PanLaw::Minus4_5,
            PanLaw::Minus6,
            PanLaw::Zero,
        ] {
            assert_eq!(mono_gains(law, 1.0).0, 0.0);
            assert_eq!(mono_gains(law, -1.0).1, 0.0);
            assert!(mono_gains(law, 1.0).1 > 0.99);
        }
    }

    #[test]
    fn laws_are_mirror_symmetric() {
        for law in [
            PanLaw::Minus3,
            PanLaw::Minus4_5,
            PanLaw::Minus6,
            PanLaw::Zero,
        ] {
            for i in 0..=20 {
                let p = f64::from(i) / 20.0;
                let (l, r) = mono_gains(law, p);
                let (ml, mr) = mono_gains(law, -p);
                assert_eq!(
                    (l.to_bits(), r.to_bits()),
                    (mr.to_bits(), ml.to_bits()),
                    "{law:?} {p}"
                );
            }
        }
    }

    #[test]
    fn constant_power_is_constant() {
        for i in -10..=10 {
            let (l, r) = mono_gains(PanLaw::Minus3, f64::from(i) / 10.0);
            assert!((l * l + r * r - 1.0).abs() < 1e-15);
        }
    }
}
