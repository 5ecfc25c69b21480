//! The `eq` insert against the analytic responses: every band type, at 44.1, 48 and
//! 96 kHz, over a grid of frequencies, gains and Q, within 0.01 dB from 20 Hz to
//! min(20 kHz, 0.45 fs) wherever the reference is above -60 dB (0.1 dB down to -90 dB).
//!
//! The reference is independent of the engine's coefficient code: the cookbook's analog
//! prototypes `H(s)` evaluated at the pre-warped frequency `s = j tan(pi f / fs) /
//! tan(pi f0 / fs)` (the bilinear transform makes the digital response equal to it), and
//! for Butterworth the closed form `|H|^2 = 1 / (1 + W^(2N))`. The measurement is the
//! DFT, evaluated directly at the test frequencies, of the impulse response rendered
//! through the insert until it has decayed below 1e-14.

mod dsp_util;

use dsp_util::{band, c, db, eq, run_mono, slot};
use mixrender_engine::math;
use serde_json::json;

#[derive(Clone, Copy)]
struct Cx(f64, f64);

impl Cx {
    fn mul(self, o: Cx) -> Cx {
        Cx(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn div(self, o: Cx) -> Cx {
        let d = o.0 * o.0 + o.1 * o.1;
        Cx(
            (self.0 * o.0 + self.1 * o.1) / d,
            (self.1 * o.0 - self.0 * o.1) / d,
        )
    }
    fn abs(self) -> f64 {
        math::sqrt(self.0 * self.0 + self.1 * self.1)
    }
}

/// `a2 s^2 + a1 s + a0` at `s = j w`.
fn quad(a2: f64, a1: f64, a0: f64, w: f64) -> Cx {
    Cx(a0 - a2 * w * w, a1 * w)
}

#[derive(Clone, Copy, Debug)]
struct Case {
    kind: &'static str,
    f0: f64,
    gain: f64,
    q: Option<f64>,
    slope: Option<u32>,
}

/// The analytic |H| at `f` (cookbook analog prototypes; Butterworth closed form).
fn reference(case: &Case, f: f64, fs: f64) -> f64 {
    let pi = core::f64::consts::PI;
    let w = math::tan(pi * f / fs) / math::tan(pi * case.f0 / fs);
    let a = math::pow(10.0, case.gain / 40.0);
    let q = case.q.unwrap_or(match case.kind {
        "highpass" | "lowpass" => core::f64::consts::FRAC_1_SQRT_2,
        "lowshelf" | "highshelf" => 0.707,
        _ => 1.0,
    });
    let sa = math::sqrt(a);
    let h = match (case.kind, case.slope.unwrap_or(12)) {
        ("lowpass", 12) => Cx(1.0, 0.0).div(quad(1.0, 1.0 / q, 1.0, w)),
        ("highpass", 12) => quad(1.0, 0.0, 0.0, w).div(quad(1.0, 1.0 / q, 1.0, w)),
        ("lowpass", s) => {
            let n = f64::from(s / 6);
            return 1.0 / math::sqrt(1.0 + math::pow(w, 2.0 * n));
        }
        ("highpass", s) => {
            let n = f64::from(s / 6);
            return 1.0 / math::sqrt(1.0 + math::pow(w, -2.0 * n));
        }
        ("bell", _) => quad(1.0, a / q, 1.0, w).div(quad(1.0, 1.0 / (a * q), 1.0, w)),
        ("lowshelf", _) => Cx(a, 0.0)
            .mul(quad(1.0, sa / q, a, w))
            .div(quad(a, sa / q, 1.0, w)),
        ("highshelf", _) => Cx(a, 0.0)
            .mul(quad(a, sa / q, 1.0, w))
            .div(quad(1.0, sa / q, a, w)),
        ("notch", _) => quad(1.0, 0.0, 1.0, w).div(quad(1.0, 1.0 / q, 1.0, w)),
        ("bandpass", _) => quad(0.0, 1.0 / q, 0.0, w).div(quad(1.0, 1.0 / q, 1.0, w)),
        (k, _) => panic!("no reference for {k}"),
    };
    h.abs()
}

/// |H| of the insert at `freqs`: the DFT of its impulse response, run until decayed.
fn measure(case: &Case, fs: f64, freqs: &[f64]) -> Vec<f64> {
    let insert = eq(&json!([band(
        case.kind, case.f0, case.gain, case.q, case.slope
    )]));
    let mut s = slot(&insert, fs, 4096);
    let block = 4096;
    // Quiet for two periods of f0 (at least 4096 frames) means decayed.
    let quiet_needed = ((2.0 * fs / case.f0) as usize).max(block);
    let mut acc = vec![Cx(0.0, 0.0); freqs.len()];
    let mut quiet = 0;
    let mut n0 = 0usize;
    let mut x = vec![0.0; block];
    x[0] = 1.0;
    loop {
        let h = run_mono(&mut s, &x, block);
        x[0] = 0.0;
        for (k, &f) in freqs.iter().enumerate() {
            let w = core::f64::consts::TAU * f / fs;
            let phase = w * n0 as f64;
            let mut z = Cx(math::cos(phase), -math::sin(phase));
            let rot = Cx(math::cos(w), -math::sin(w));
            let (mut re, mut im) = (0.0, 0.0);
            for &v in &h {
                re += v * z.0;
                im += v * z.1;
                z = z.mul(rot);
            }
            acc[k].0 += re;
            acc[k].1 += im;
        }
        n0 += block;
        let peak = h.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        quiet = if peak < 1e-14 { quiet + block } else { 0 };
        if quiet >= quiet_needed {
            break;
        }
        assert!(n0 < 40 * fs as usize, "{case:?} does not decay");
    }
    acc.iter().map(|v| v.abs()).collect()
}

/// 30 log-spaced frequencies from 20 Hz to min(20 kHz, 0.45 fs), plus `f0`.
fn grid(fs: f64, f0: f64) -> Vec<f64> {
    let hi = 20000.0f64.min(0.45 * fs);
    let mut f: Vec<f64> = (0..30)
        .map(|i| 20.0 * math::pow(hi / 20.0, f64::from(i) / 29.0))
        .collect();
    if f0 <= hi {
        f.push(f0);
    }
    f
}

/// Checks one case; returns the worst error (dB) where the reference is above -60 dB.
fn check(case: &Case, fs: f64) -> f64 {
    let freqs = grid(fs, case.f0);
    let got = measure(case, fs, &freqs);
    let mut worst: f64 = 0.0;
    for (&f, &m) in freqs.iter().zip(&got) {
        let want = db(reference(case, f, fs));
        let tol = if want >= -60.0 {
            0.01
        } else if want >= -90.0 {
            0.1
        } else {
            continue;
        };
        let err = (db(m) - want).abs();
        assert!(
            err <= tol,
            "{case:?} at {fs} Hz, f = {f:.2} Hz: measured {:.5} dB, expected {want:.5} dB, \
             error {err:.2e} dB > {tol} dB",
            db(m)
        );
        if want >= -60.0 {
            worst = worst.max(err);
        }
        if (f - case.f0).abs() < 1e-9 && matches!(case.kind, "bell" | "lowshelf" | "highshelf") {
            assert!(err <= 0.005, "{case:?}: gain at f0 off by {err:.2e} dB");
        }
    }
    worst
}

fn cases() -> Vec<Case> {
    let freqs = [50.0, 1000.0, 12000.0];
    let gains = [-12.0, 3.0, 15.0];
    let qs = [0.5, 1.41, 5.0];
    let mut out = Vec::new();
    for &f0 in &freqs {
        for kind in ["bell", "lowshelf", "highshelf"] {
            for &gain in &gains {
                for &q in &qs {
                    out.push(Case {
                        kind,
                        f0,
                        gain,
                        q: Some(q),
                        slope: None,
                    });
                }
            }
        }
        for kind in ["notch", "bandpass"] {
            for &q in &qs {
                out.push(Case {
                    kind,
                    f0,
                    gain: 0.0,
                    q: Some(q),
                    slope: None,
                });
            }
        }
        for kind in ["highpass", "lowpass"] {
            for &q in &[0.5, core::f64::consts::FRAC_1_SQRT_2, 3.0] {
                out.push(Case {
                    kind,
                    f0,
                    gain: 0.0,
                    q: Some(q),
                    slope: Some(12),
                });
            }
            for slope in [6, 18, 24, 36, 48] {
                out.push(Case {
                    kind,
                    f0,
                    gain: 0.0,
                    q: None,
                    slope: Some(slope),
                });
            }
        }
    }
    out
}

fn sweep(fs: f64) {
    let all = cases();
    let mut worst = (0.0, None);
    for case in &all {
        let e = check(case, fs);
        if e >= worst.0 {
            worst = (e, Some(*case));
        }
    }
    eprintln!(
        "eq sweep at {fs} Hz: {} cases, worst error {:.2e} dB ({:?})",
        all.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn every_band_type_matches_the_reference_at_44k1() {
    sweep(44100.0);
}

#[test]
fn every_band_type_matches_the_reference_at_48k() {
    sweep(48000.0);
}

#[test]
fn every_band_type_matches_the_reference_at_96k() {
    sweep(96000.0);
}

/// The hardest cases of the references: low f0, high Q, at 96 and 192 kHz.
#[test]
fn low_frequency_high_q_at_high_rates() {
    for fs in [96000.0, 192_000.0] {
        for case in [
            Case {
                kind: "bell",
                f0: 30.0,
                gain: 12.0,
                q: Some(8.0),
                slope: None,
            },
            Case {
                kind: "highpass",
                f0: 20.0,
                gain: 0.0,
                q: Some(core::f64::consts::FRAC_1_SQRT_2),
                slope: Some(12),
            },
            Case {
                kind: "lowshelf",
                f0: 60.0,
                gain: -9.0,
                q: Some(0.707),
                slope: None,
            },
            Case {
                kind: "notch",
                f0: 100.0,
                gain: 0.0,
                q: Some(10.0),
                slope: None,
            },
            Case {
                kind: "highpass",
                f0: 25.0,
                gain: 0.0,
                q: None,
                slope: Some(48),
            },
        ] {
            let e = check(&case, fs);
            eprintln!("{case:?} at {fs} Hz: worst {e:.2e} dB");
        }
    }
}

/// Slopes one octave past the corner: the Butterworth attenuation there,
/// `10 log10(1 + W^(2N))` with the warped `W`, and the slope over the next octave.
#[test]
fn pass_slopes_one_octave_past_the_corner() {
    for fs in [44100.0, 48000.0, 96000.0] {
        for (kind, f0, octave) in [("highpass", 1000.0, 0.5), ("lowpass", 1000.0, 2.0)] {
            for slope in [6u32, 12, 18, 24, 36, 48] {
                let case = Case {
                    kind,
                    f0,
                    gain: 0.0,
                    q: (slope == 12).then_some(core::f64::consts::FRAC_1_SQRT_2),
                    slope: Some(slope),
                };
                let f1 = f0 * octave;
                let f2 = f1 * octave;
                let m = measure(&case, fs, &[f0, f1, f2]);
                let at_f0 = db(m[0]);
                let past = db(m[1]);
                let next = db(m[2]);
                eprintln!(
                    "{kind} {slope:2} dB/oct at {fs} Hz: {past:8.3} dB one octave past the \
                     corner, {:6.3} dB over the next octave",
                    past - next
                );
                let n = f64::from(slope / 6);
                let pi = core::f64::consts::PI;
                let w = |f: f64| {
                    let r = math::tan(pi * f / fs) / math::tan(pi * f0 / fs);
                    if kind == "highpass" { 1.0 / r } else { r }
                };
                let want = |f: f64| -10.0 * math::log10(1.0 + math::pow(w(f), 2.0 * n));
                dsp_util::assert_close(
                    &format!("{kind} {slope} dB/oct at {fs} Hz: level at f0"),
                    at_f0,
                    -10.0 * math::log10(2.0),
                    0.01,
                );
                dsp_util::assert_close(
                    &format!("{kind} {slope} dB/oct at {fs} Hz: one octave past"),
                    past,
                    want(f1),
                    0.01,
                );
                dsp_util::assert_close(
                    &format!("{kind} {slope} dB/oct at {fs} Hz: two octaves past"),
                    next,
                    want(f2),
                    0.01,
                );
                // Past the corner the slope approaches 6N dB/oct (high-pass: well below
                // fs/4, where the bilinear warping does not steepen it).
                if slope >= 12 && kind == "highpass" {
                    dsp_util::assert_close(
                        &format!("{kind} {slope} dB/oct at {fs} Hz: slope over the 2nd octave"),
                        past - next,
                        6.0206 * n,
                        0.35,
                    );
                }
            }
        }
    }
}

/// A band at 0 dB is the identity (every value exact), and so is an EQ with no bands.
#[test]
fn unity_bands_are_exact() {
    let x = dsp_util::program(20000, 48000.0, 3);
    let bands = json!([
        band("bell", 1000.0, 0.0, Some(2.0), None),
        band("lowshelf", 100.0, 0.0, Some(0.707), None),
        band("highshelf", 8000.0, 0.0, Some(0.707), None),
    ]);
    for b in [bands, json!([])] {
        let mut s = slot(&eq(&b), 48000.0, 4096);
        let y = run_mono(&mut s, &x[0], 4096);
        // Equal values (a -0.0 input may come out as +0.0).
        if let Some(i) = (0..y.len()).find(|&i| y[i] != x[0][i]) {
            panic!("{b}: frame {i}: {} vs {}", y[i], x[0][i]);
        }
    }
}

/// `gain_db` of a band follows its lane per frame (a gain-type key); `freq_hz` and `q`
/// are read at grid frames. Checked against a biquad designed per frame by the test
/// (cookbook formulas written out here).
#[test]
fn band_automation_follows_the_spec() {
    let fs = 48000.0;
    let x = dsp_util::noise(3000, 9);
    let gain = dsp_util::lane(&[(0, -6.0, "linear"), (2000, 9.0, "linear")]);
    let freq = dsp_util::lane(&[(0, 500.0, "linear"), (3000, 4000.0, "linear")]);
    let insert = eq(&json!([{
        "type": "bell", "freq_hz": freq, "gain_db": gain, "q": c(1.5), "slope_db_oct": null
    }]));
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    // The reference, per frame.
    let (mut s1, mut s2) = (0.0, 0.0);
    for (n, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
        let g = if n < 2000 {
            -6.0 + 15.0 * n as f64 / 2000.0
        } else {
            9.0
        };
        let grid = (n - n % 32) as f64;
        let f = 500.0 + 3500.0 * grid / 3000.0;
        let w0 = core::f64::consts::TAU * f / fs;
        let alpha = math::sin(w0) / (2.0 * 1.5);
        let a = math::pow(10.0, g / 40.0);
        let a0 = 1.0 + alpha / a;
        let (b0, b1, b2) = (
            (1.0 + alpha * a) / a0,
            -2.0 * math::cos(w0) / a0,
            (1.0 - alpha * a) / a0,
        );
        let (a1, a2) = (-2.0 * math::cos(w0) / a0, (1.0 - alpha / a) / a0);
        let want = b0 * xi + s1;
        s1 = b1 * xi - a1 * want + s2;
        s2 = b2 * xi - a2 * want;
        assert!(
            (yi - want).abs() <= 1e-9,
            "frame {n}: {yi} vs reference {want}"
        );
    }
}
