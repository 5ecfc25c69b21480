#![cfg(debug_assertions)] // assert_no_alloc guards debug builds only
//! The audio path never allocates: `process_block`, `write_output` and `write_stem` run
//! under a guard.

mod common;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use common::{c, lane, plan, signal, track};
use mixrender_engine::{Engine, EngineConfig, OutputBlock, Plan, SourceBlock};
use serde_json::json;

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

#[test]
fn process_block_does_not_allocate() {
    let mut t = track("T", 1, 44100, 20000, 10);
    t["gain_db"] = lane(&[(0, 0.0, "linear"), (5000, -6.0, "smooth")]);
    t["sends"] = json!([{"to": 1, "tap": "pre_fader", "level_db": c(-6.0), "pan": c(0.2)}]);
    t["inserts"] = json!([{"type": "gain", "name": "g", "bypass": false, "gain_db": c(-1.0), "polarity": false}]);
    let mut b = common::bus("B");
    b["polarity"] = json!(true);
    b["inserts"] = json!([
        {"type": "width", "name": "w", "bypass": false, "width": lane(&[(0, 1.0, "linear"), (9000, 0.0, "linear")])},
        {"type": "width", "name": "w2", "bypass": false, "width": c(1.3), "mono_below_hz": 120.0},
        {"type": "tilt", "name": "t", "bypass": false, "gain_db": lane(&[(0, -3.0, "linear"), (8000, 2.0, "linear")]), "freq_hz": c(800.0)}
    ]);
    let mut p = plan(vec![t, b], 10000);
    p["output"]["bit_depth"] = json!(24);
    p["output"]["dither"] = json!(true);
    // A lookahead limiter on the master: stems are delayed by its latency.
    p["master"]["inserts"] = json!([{"type": "limiter", "name": "lim", "bypass": false,
        "ceiling_db": c(-1.0), "release_ms": c(50.0), "lookahead_ms": 2.0, "true_peak": false}]);
    let p = Plan::from_json(p.to_string().as_bytes()).unwrap();
    for stems in [false, true] {
        let mut engine = Engine::new(
            &p,
            EngineConfig {
                max_block: 1024,
                threads: 1,
                stems,
            },
        )
        .unwrap();
        let count = if stems { engine.stem_names().len() } else { 0 };
        let src = signal(20000, 1, 4);
        let mut read = 0;
        let mut wanted = [0usize];
        let mut out = vec![0i32; 2048];
        while engine.position() < engine.frames() {
            let n = 1024.min(usize::try_from(engine.frames() - engine.position()).unwrap());
            engine.source_frames_wanted(n, &mut wanted);
            let block = [SourceBlock::F32(&src[read..read + wanted[0]])];
            read += wanted[0];
            assert_no_alloc(|| {
                engine.process_block(&block, n).unwrap();
                engine
                    .write_output(OutputBlock::I24(&mut out[..2 * n]))
                    .unwrap();
                for k in 0..count {
                    engine
                        .write_stem(k, OutputBlock::I24(&mut out[..2 * n]))
                        .unwrap();
                }
            });
        }
    }
}
