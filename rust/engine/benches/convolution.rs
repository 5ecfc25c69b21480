//! The `convolution` insert's cost: a 3-second stereo impulse response at 48 kHz on stereo
//! programme, as x real time on one core (the benchmark).
//!
//! `cargo bench -p mixrender-engine --bench convolution`. Each figure is the median (and
//! the fastest) of 7 runs over 10 s of stereo programme at 48 kHz in blocks of 1024 frames,
//! with the load average, since a busy machine inflates the medians. Set-up (partitioning
//! and transforming the response) is timed apart: it happens once per render.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark reads the clock; nothing here reaches an output"
)]

mod harness;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use harness::{BLOCK, FS, SECONDS, c, noise};
use mixrender_engine::dsp::convolution::{DEFAULT_HEAD, DEFAULT_MAX_PARTITION};
use mixrender_engine::dsp::{Convolution, Convolver, ImpulseResponse, Processor};
use mixrender_engine::math;
use mixrender_engine::plan::ConvolutionParams;
use serde_json::json;

const IR_SECONDS: usize = 3;

/// A synthetic hall: decorrelated noise under a 3 s exponential decay (RT60 about 2.5 s).
fn hall(frames: usize) -> ImpulseResponse {
    let mut n = noise(0x9E37_79B9_7F4A_7C15);
    let mut samples = Vec::with_capacity(2 * frames);
    for i in 0..frames {
        let env = math::exp(-6.9 * i as f64 / (2.5 * FS));
        samples.push(0.3 * env * n());
        samples.push(0.3 * env * n());
    }
    ImpulseResponse {
        channels: 2,
        sample_rate: 48000,
        samples,
    }
}

fn params() -> ConvolutionParams {
    serde_json::from_value(json!({"name": "hall", "bypass": false, "ir": 0,
        "predelay_ms": c(20.0), "gain_db": c(-3.0), "mix": c(0.3)}))
    .expect("valid convolution params")
}

fn main() {
    let programme = harness::programme(SECONDS * FS as usize);
    let ir = Arc::new(hall(IR_SECONDS * FS as usize));
    harness::header(
        &format!("convolution, a {IR_SECONDS} s stereo IR"),
        "ns/frame",
    );
    let t0 = Instant::now();
    let conv = Convolver::new(&ir.planar(), DEFAULT_HEAD, DEFAULT_MAX_PARTITION);
    println!(
        "partitioning: head {DEFAULT_HEAD} taps, levels (size x partitions) {:?}; set-up {:.1} ms",
        conv.levels(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    let cases: [(&str, usize, usize); 4] = [
        (
            "insert, the engine's partitioning",
            DEFAULT_HEAD,
            DEFAULT_MAX_PARTITION,
        ),
        ("insert, head 64", 64, DEFAULT_MAX_PARTITION),
        ("insert, head 128", 128, DEFAULT_MAX_PARTITION),
        ("insert, partitions up to 4096", DEFAULT_HEAD, 4096),
    ];
    for (what, head, max) in cases {
        let insert = Convolution::with_partitions(&params(), Arc::clone(&ir), head, max);
        let insert = RefCell::new(insert);
        insert.borrow_mut().prepare(FS, BLOCK);
        harness::time(
            what,
            &programme,
            || insert.borrow_mut().reset(),
            |block| insert.borrow_mut().process(block),
        );
    }
}
