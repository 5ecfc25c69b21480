//! The space effects' cost: the `delay` (plain, ping-pong, with loop filters, with its time
//! automated so that it glides) and the `reverb` (static, and with its size automated so
//! that the 16 lines glide), in nanoseconds per stereo sample and as x real time, on one
//! core.
//!
//! `cargo bench -p mixrender-engine --bench space`. Each figure is the median (and the
//! fastest) of 7 runs over 10 s of stereo programme at 48 kHz in blocks of 1024 frames;
//! the load average is printed with them, since a busy machine inflates the medians.
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

/// A lane that moves every second between `a` and `b` (linear ramps of 0.25 s).
fn moving(a: f64, b: f64) -> Value {
    let points: Vec<Value> = (0..SECONDS as u64)
        .flat_map(|s| {
            let (from, to) = if s % 2 == 0 { (a, b) } else { (b, a) };
            let n = s * FS as u64;
            [
                json!([n, from, "linear", 0.0]),
                json!([n + 12_000, to, "linear", 0.0]),
            ]
        })
        .collect();
    json!({ "points": points })
}

fn delay(time: Value, ping_pong: bool, filters: bool) -> Value {
    let (lo, hi) = if filters {
        (c(150.0), c(6000.0))
    } else {
        (Value::Null, Value::Null)
    };
    json!({"type": "delay", "name": "dly", "bypass": false, "time_ms": time,
        "feedback": c(0.4), "ping_pong": ping_pong, "lowcut_hz": lo, "highcut_hz": hi,
        "mix": c(1.0)})
}

fn reverb(size: Value) -> Value {
    json!({"type": "reverb", "name": "verb", "bypass": false, "decay_s": c(1.8),
        "predelay_ms": c(20.0), "size": size, "damping_hz": c(8000.0), "width": c(1.0),
        "mix": c(1.0)})
}

fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("delay, 375 ms", delay(c(375.0), false, false)),
        (
            "delay, ping-pong, loop filters",
            delay(c(375.0), true, true),
        ),
        (
            "delay, time gliding",
            delay(moving(250.0, 375.0), false, true),
        ),
        ("reverb, 1.8 s", reverb(c(0.5))),
        ("reverb, size gliding", reverb(moving(0.3, 0.8))),
    ]
}

fn main() {
    let programme = harness::programme(SECONDS * FS as usize);
    harness::header("space effects", "ns/sample");
    for (what, insert) in cases() {
        let insert: Insert = serde_json::from_value(insert).expect("valid insert");
        let slot = std::cell::RefCell::new(Slot::from_plan(&insert));
        slot.borrow_mut().processor.prepare(FS, BLOCK);
        harness::time(
            what,
            &programme,
            || slot.borrow_mut().processor.reset(),
            |block| slot.borrow_mut().process(block),
        );
    }
}
