//! Every insert, automated on grid keys and per-frame keys, gives the same bits at block
//! sizes 1, 7, 32, 64 and 4096 from a start frame off the grid, and again after `reset`;
//! bypassed, it is a pure delay of its latency.

mod dsp_util;

use dsp_util::{
    band, bits, c, compressor, deesser, eq, gate, lane, limiter, program, run, saturation, slot,
};
use serde_json::{Value, json};

const START: u64 = 12_345;

/// A lane moving between `a` and `b` over the test signal, with a jump and a ramp.
fn mv(a: f64, b: f64) -> Value {
    lane(&[
        (START + 400, a, "linear"),
        (START + 1500, b, "smooth"),
        (START + 2401, a, "step"),
        (START + 3500, b, "linear"),
    ])
}

fn inserts() -> Vec<(&'static str, Value)> {
    vec![
        (
            "gain",
            json!({"type": "gain", "name": "g", "bypass": false, "gain_db": mv(-6.0, 3.0),
                "polarity": true}),
        ),
        (
            "width",
            json!({"type": "width", "name": "w", "bypass": false, "width": mv(0.0, 2.0),
                "mono_below_hz": null}),
        ),
        (
            "width mono_below_hz",
            json!({"type": "width", "name": "w", "bypass": false, "width": mv(0.5, 2.0),
                "mono_below_hz": 150.0}),
        ),
        (
            "tilt",
            json!({"type": "tilt", "name": "t", "bypass": false, "gain_db": mv(-6.0, 4.0),
                "freq_hz": mv(200.0, 5000.0)}),
        ),
        (
            "eq",
            eq(&json!([
                {"type": "bell", "freq_hz": mv(300.0, 3000.0), "gain_db": mv(-9.0, 6.0),
                    "q": mv(0.5, 4.0), "slope_db_oct": null},
                band("highpass", 80.0, 0.0, None, Some(18)),
                {"type": "lowpass", "freq_hz": mv(8000.0, 15000.0), "gain_db": c(0.0),
                    "q": mv(0.7, 2.0), "slope_db_oct": 12},
                {"type": "highshelf", "freq_hz": c(6000.0), "gain_db": mv(3.0, -6.0),
                    "q": c(0.707), "slope_db_oct": null},
                band("lowpass", 12000.0, 0.0, None, Some(48)),
                band("notch", 1000.0, 0.0, Some(3.0), None),
                band("bandpass", 500.0, 0.0, Some(0.7), None),
                band("lowshelf", 120.0, 4.0, Some(0.707), None),
            ])),
        ),
        (
            "compressor peak",
            compressor(
                &json!({"threshold_db": mv(-30.0, -10.0), "ratio": mv(2.0, 8.0),
                "knee_db": mv(0.0, 12.0), "attack_ms": mv(1.0, 20.0),
                "release_ms": mv(30.0, 200.0), "makeup_db": mv(0.0, 6.0), "mix": mv(1.0, 0.3),
                "sidechain_hpf_hz": mv(80.0, 400.0)}),
            ),
        ),
        (
            "compressor rms unlinked",
            compressor(&json!({"threshold_db": mv(-30.0, -10.0), "detector": "rms",
                "rms_ms": mv(5.0, 50.0), "stereo_link": false})),
        ),
        (
            "compressor keyed",
            compressor(&json!({"threshold_db": c(-25.0), "sidechain": 0})),
        ),
        (
            "gate",
            gate(
                &json!({"threshold_db": mv(-30.0, -15.0), "range_db": mv(-60.0, -20.0),
                "attack_ms": mv(0.5, 5.0), "hold_ms": mv(5.0, 40.0),
                "release_ms": mv(20.0, 150.0)}),
            ),
        ),
        (
            "gate keyed",
            gate(&json!({"threshold_db": c(-20.0), "sidechain": 0})),
        ),
        (
            "limiter",
            limiter(
                &json!({"ceiling_db": mv(-6.0, -1.0), "release_ms": mv(10.0, 100.0),
                "lookahead_ms": 1.3}),
            ),
        ),
        (
            "limiter true peak",
            limiter(&json!({"ceiling_db": mv(-6.0, -1.0), "true_peak": true,
                "lookahead_ms": 0.5})),
        ),
        (
            "deesser split",
            deesser(
                &json!({"freq_hz": mv(4000.0, 8000.0), "threshold_db": mv(-40.0, -20.0),
                "range_db": mv(-12.0, -3.0)}),
            ),
        ),
        (
            "deesser wide",
            deesser(&json!({"split": false, "threshold_db": c(-35.0)})),
        ),
        (
            "saturation",
            saturation(
                &json!({"drive_db": mv(0.0, 18.0), "output_db": mv(-6.0, 0.0),
                "mix": mv(1.0, 0.4)}),
            ),
        ),
        (
            "saturation soft 2x",
            saturation(&json!({"shape": "soft", "oversample": 2, "drive_db": mv(3.0, 9.0)})),
        ),
        ("saturation 1x", saturation(&json!({"oversample": 1}))),
        ("saturation 16x", saturation(&json!({"oversample": 16}))),
    ]
}

#[test]
fn block_size_never_changes_a_bit_and_reset_repeats_1() {
    invariance(0);
}

#[test]
fn block_size_never_changes_a_bit_and_reset_repeats_2() {
    invariance(1);
}

/// Half of the inserts (`part` 0 or 1), so the two halves run in parallel.
fn invariance(part: usize) {
    let fs = 48000.0;
    let [l, r] = program(4500, fs, 21);
    let [kl, kr] = program(4500, fs, 22);
    let start = START as i64;
    for (what, insert) in inserts().into_iter().skip(part).step_by(2) {
        // The oversampled FIRs are slow in a debug build: a shorter signal (still over
        // the lanes' first ramp and curve) keeps the test fast.
        let frames = if what.starts_with("saturation") {
            1700
        } else {
            l.len()
        };
        let (l, r, kl, kr) = (&l[..frames], &r[..frames], &kl[..frames], &kr[..frames]);
        for channels in [1, 2] {
            let keyed = insert.get("sidechain").is_some_and(|k| !k.is_null());
            let key = keyed.then_some([kl, kr]);
            let mut s = slot(&insert, fs, 4096);
            let reference = run(&mut s, start, 4096, channels, [l, r], key);
            let want = bits(&reference);
            for block in [1, 7, 32, 64, 4096] {
                let mut s = slot(&insert, fs, 4096);
                let got = run(&mut s, start, block, channels, [l, r], key);
                assert!(
                    bits(&got) == want,
                    "{what}, {channels} ch: block size {block} changes the output"
                );
                // reset, then the same input again: the same output.
                s.processor.reset();
                let again = run(&mut s, start, block, channels, [l, r], key);
                assert!(
                    bits(&again) == want,
                    "{what}, {channels} ch: reset does not repeat"
                );
            }
            // The output moved: the insert did something.
            let input = if channels == 2 {
                [l.to_vec(), r.to_vec()]
            } else {
                [l.to_vec(), vec![0.0; l.len()]]
            };
            // (width passes mono through.)
            assert!(
                bits(&reference) != bits(&input) || (what.starts_with("width") && channels == 1),
                "{what}: identity?"
            );
        }
    }
}

#[test]
fn bypass_is_a_delay_of_the_latency() {
    let fs = 44100.0;
    let [l, r] = program(6000, fs, 5);
    for (what, mut insert) in inserts() {
        insert["bypass"] = json!(true);
        let mut s = slot(&insert, fs, 4096);
        let lat = s.processor.latency();
        let [yl, yr] = run(&mut s, 0, 100, 2, [&l, &r], None);
        for (y, x) in [(&yl, &l), (&yr, &r)] {
            assert!(y[..lat].iter().all(|v| *v == 0.0), "{what}");
            assert!(
                y[lat..]
                    .iter()
                    .zip(x.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{what}: bypass is not a delay of {lat}"
            );
        }
    }
}

/// The plan's JSON is strict: unknown keys and bad structural values are refused.
#[test]
fn plan_json_is_strict() {
    use mixrender_engine::plan::Insert;
    for (_, insert) in inserts() {
        let mut bad = insert.clone();
        bad["threshhold_db"] = c(1.0);
        assert!(serde_json::from_value::<Insert>(bad).is_err());
    }
    let check = |v: Value| serde_json::from_value::<Insert>(v).unwrap().check();
    assert!(check(eq(&json!([band("highpass", 80.0, 0.0, None, Some(30))]))).is_err());
    assert!(
        check(eq(&json!([band(
            "highpass",
            80.0,
            0.0,
            Some(0.7),
            Some(24)
        )])))
        .is_err()
    );
    assert!(check(eq(&json!([band("bell", 80.0, 0.0, Some(0.7), Some(24))]))).is_err());
    assert!(
        check(eq(&json!([band(
            "lowpass",
            80.0,
            0.0,
            Some(0.7),
            Some(12)
        )])))
        .is_ok()
    );
    assert!(check(saturation(&json!({"oversample": 3}))).is_err());
    assert!(check(limiter(&json!({"lookahead_ms": 200.0}))).is_err());
    let keyed: Insert = serde_json::from_value(compressor(&json!({"sidechain": 3}))).unwrap();
    assert_eq!(keyed.sidechain(), Some(3));
    let s = mixrender_engine::dsp::Slot::from_plan(&keyed);
    assert_eq!(s.sidechain, Some(3));
}
