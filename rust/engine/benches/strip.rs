//! The channel strip's cost: each processor in nanoseconds per stereo sample, and a full
//! strip (EQ with 4 bands + compressor) as x real time, on one core.
//!
//! `cargo bench -p mixrender-engine --bench strip [-- WORD]` (only the cases whose name
//! holds WORD). Each figure is the median (and the fastest) of 7 runs over 10 s of stereo
//! programme at 48 kHz in blocks of 1024 frames (cases marked mono: the left channel alone,
//! ns per mono sample); the load average is printed with them, since a busy machine
//! inflates the medians.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the clock; nothing here reaches an output"
)]

mod harness;

use harness::{BLOCK, FS, SECONDS, c};
use mixrender_engine::dsp::Slot;
use mixrender_engine::plan::Insert;
use serde_json::{Value, json};

fn band(kind: &str, f: f64, g: f64, q: Option<f64>, slope: Option<u32>) -> Value {
    json!({"type": kind, "freq_hz": c(f), "gain_db": c(g), "q": q.map(c), "slope_db_oct": slope})
}

fn eq4() -> Value {
    json!({"type": "eq", "name": "eq", "bypass": false, "bands": [
        band("highpass", 80.0, 0.0, Some(core::f64::consts::FRAC_1_SQRT_2), Some(12)),
        band("bell", 350.0, -3.0, Some(1.2), None),
        band("bell", 3200.0, 2.5, Some(1.4), None),
        band("highshelf", 10000.0, 1.5, Some(0.707), None),
    ]})
}

fn compressor(detector: &str, knee_db: f64) -> Value {
    json!({"type": "compressor", "name": "comp", "bypass": false,
        "threshold_db": c(-18.0), "ratio": c(3.0), "knee_db": c(knee_db), "attack_ms": c(10.0),
        "release_ms": c(120.0), "makeup_db": c(2.0), "detector": detector, "rms_ms": c(10.0),
        "sidechain": null, "sidechain_hpf_hz": null, "stereo_link": true, "mix": c(1.0)})
}

/// The cases: name, channels, inserts.
fn cases() -> Vec<(&'static str, usize, Vec<Value>)> {
    let limiter = |tp: bool| {
        json!({"type": "limiter", "name": "lim", "bypass": false, "ceiling_db": c(-1.0),
            "release_ms": c(50.0), "lookahead_ms": 5.0, "true_peak": tp})
    };
    let saturation = |os: u32, shape: &str| {
        json!({"type": "saturation", "name": "sat", "bypass": false, "drive_db": c(12.0),
            "shape": shape, "oversample": os, "output_db": c(-6.0), "mix": c(1.0)})
    };
    vec![
        (
            "gain",
            vec![
                json!({"type": "gain", "name": "g", "bypass": false, "gain_db": c(-3.0),
                "polarity": false}),
            ],
        ),
        (
            "width",
            vec![
                json!({"type": "width", "name": "w", "bypass": false, "width": c(1.3),
                "mono_below_hz": null}),
            ],
        ),
        ("eq, 4 bands", vec![eq4()]),
        ("eq, 4 bands, mono", vec![eq4()]),
        (
            "eq, 48 dB/oct high-pass",
            vec![json!({"type": "eq", "name": "eq", "bypass": false,
                "bands": [band("highpass", 40.0, 0.0, None, Some(48))]})],
        ),
        (
            "eq, 48 dB/oct high-pass, mono",
            vec![json!({"type": "eq", "name": "eq", "bypass": false,
                "bands": [band("highpass", 40.0, 0.0, None, Some(48))]})],
        ),
        ("compressor, peak", vec![compressor("peak", 6.0)]),
        ("compressor, peak, hard knee", vec![compressor("peak", 0.0)]),
        ("compressor, rms", vec![compressor("rms", 6.0)]),
        (
            "gate",
            vec![json!({"type": "gate", "name": "gate", "bypass": false,
                "threshold_db": c(-30.0), "range_db": c(-80.0), "attack_ms": c(1.0),
                "hold_ms": c(20.0), "release_ms": c(100.0), "sidechain": null})],
        ),
        ("limiter, sample peak", vec![limiter(false)]),
        ("limiter, true peak", vec![limiter(true)]),
        (
            "deesser, split",
            vec![json!({"type": "deesser", "name": "ds", "bypass": false,
                "freq_hz": c(6500.0), "threshold_db": c(-30.0), "range_db": c(-12.0),
                "split": true})],
        ),
        ("saturation, tanh 1x", vec![saturation(1, "tanh")]),
        ("saturation, tanh 8x", vec![saturation(8, "tanh")]),
        ("saturation, soft 8x", vec![saturation(8, "soft")]),
        ("saturation, tanh 16x", vec![saturation(16, "tanh")]),
        (
            "strip: eq (4 bands) + compressor",
            vec![eq4(), compressor("peak", 6.0)],
        ),
    ]
    .into_iter()
    .map(|(what, inserts)| {
        let channels = if what.ends_with("mono") { 1 } else { 2 };
        (what, channels, inserts)
    })
    .collect()
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let programme = harness::programme(SECONDS * FS as usize);
    harness::header("channel strip", "ns/sample");
    for (what, channels, inserts) in cases() {
        if !filter.is_empty() && !filter.iter().any(|f| what.contains(f.as_str())) {
            continue;
        }
        let mut slots: Vec<Slot> = inserts
            .iter()
            .map(|v| {
                let insert: Insert = serde_json::from_value(v.clone()).expect("valid insert");
                let mut s = Slot::from_plan(&insert);
                s.processor.prepare(FS, BLOCK);
                s
            })
            .collect();
        let slots = std::cell::RefCell::new(&mut slots);
        harness::time_channels(
            what,
            &programme,
            channels,
            || {
                slots
                    .borrow_mut()
                    .iter_mut()
                    .for_each(|s| s.processor.reset())
            },
            |block| slots.borrow_mut().iter_mut().for_each(|s| s.process(block)),
        );
    }
}
