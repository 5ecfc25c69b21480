//! Stems (`write_stem`): every direct input of the master lines up with its sources and with
//! the master's output whatever latency sits on tracks, buses or the master, and the stems
//! sum to the master's input bit for bit.

mod common;

use common::{bus, c, plan, render, signal, track};
use mixrender_engine::{Engine, EngineConfig, OutputBlock, Plan, SourceBlock};
use serde_json::{Value, json};

const FRAMES: usize = 24_000;
const KICK_AT: usize = 4000;
const SNARE_AT: usize = 6000;
const PAD_FROM: u64 = 14_400;

fn limiter(lookahead_ms: f64) -> Value {
    json!({"type": "limiter", "name": "lim", "bypass": false, "ceiling_db": c(-0.5),
        "release_ms": c(50.0), "lookahead_ms": lookahead_ms, "true_peak": false})
}

fn saturation(oversample: u32) -> Value {
    json!({"type": "saturation", "name": "sat", "bypass": false, "drive_db": c(3.0),
        "shape": "tanh", "oversample": oversample, "output_db": c(0.0), "mix": c(1.0)})
}

/// Kick (a lookahead limiter) to the master; Snare and Pad into Group (oversampled
/// saturation); Pad also sends to Echo (a limiter); the master's inserts as given.
fn stems_plan(master_inserts: &[Value]) -> Value {
    let mut kick = track("Kick", 1, 48000, FRAMES as u64, 0);
    kick["pan"] = c(-0.4);
    kick["inserts"] = json!([limiter(2.0)]);
    let mut snare = track("Snare", 2, 48000, 20_000, 0);
    snare["output"] = json!({"strip": 3});
    let mut pad = track("Pad", 2, 48000, 9000, PAD_FROM);
    pad["output"] = json!({"strip": 3});
    pad["sends"] = json!([{"to": 4, "tap": "post_fader", "level_db": c(-12.0), "pan": c(0.0)}]);
    let mut group = bus("Group");
    group["gain_db"] = c(-2.0);
    group["inserts"] = json!([saturation(4)]);
    let mut echo = bus("Echo");
    echo["pan"] = c(0.5);
    echo["inserts"] = json!([limiter(1.0)]);
    let mut p = plan(vec![kick, snare, pad, group, echo], FRAMES as u64);
    p["master"]["gain_db"] = c(-1.0);
    p["master"]["inserts"] = json!(master_inserts);
    p
}

fn sources() -> Vec<Vec<f32>> {
    let mut kick = vec![0.0f32; FRAMES];
    kick[KICK_AT] = 0.5;
    let mut snare = vec![0.0f32; 2 * 20_000];
    snare[2 * SNARE_AT] = 0.4;
    snare[2 * SNARE_AT + 1] = -0.3;
    vec![kick, snare, signal(9000, 2, 7)]
}

/// The master's output and every stem, planar float64.
fn render_stems(
    plan: &Value,
    sources: &[Vec<f32>],
    block: usize,
    threads: usize,
) -> ([Vec<f64>; 2], Vec<[Vec<f64>; 2]>) {
    let plan = Plan::from_json(plan.to_string().as_bytes()).expect("valid plan");
    let config = EngineConfig {
        max_block: block,
        threads,
        stems: true,
    };
    let mut engine = Engine::new(&plan, config).expect("engine");
    let channels = [1, 2, 2];
    let stems = engine.stem_names().len();
    let mut read = [0usize; 3];
    let mut wanted = [0usize; 3];
    let mut buf = vec![0.0f64; 2 * block];
    let mut master = [Vec::new(), Vec::new()];
    let mut outs = vec![[Vec::new(), Vec::new()]; stems];
    let mut pos = 0;
    while pos < FRAMES {
        let n = block.min(FRAMES - pos);
        engine.source_frames_wanted(n, &mut wanted);
        let blocks: Vec<SourceBlock<'_>> = (0..3)
            .map(|t| {
                let (a, b) = (read[t] * channels[t], (read[t] + wanted[t]) * channels[t]);
                read[t] += wanted[t];
                SourceBlock::F32(&sources[t][a..b])
            })
            .collect();
        engine.process_block(&blocks, n).unwrap();
        let take = |out: &mut [Vec<f64>; 2], buf: &[f64]| {
            for f in buf[..2 * n].chunks_exact(2) {
                out[0].push(f[0]);
                out[1].push(f[1]);
            }
        };
        engine
            .write_output(OutputBlock::F64(&mut buf[..2 * n]))
            .unwrap();
        take(&mut master, &buf);
        for (k, out) in outs.iter_mut().enumerate() {
            engine
                .write_stem(k, OutputBlock::F64(&mut buf[..2 * n]))
                .unwrap();
            take(out, &buf);
        }
        pos += n;
    }
    (master, outs)
}

fn argmax(x: &[f64]) -> usize {
    (0..x.len()).fold(0, |m, i| if x[i].abs() > x[m].abs() { i } else { m })
}

#[test]
fn stems_line_up_with_the_sources_and_sum_to_the_master_input_bit_for_bit() {
    let src = sources();
    let master_input = render(&stems_plan(&[]), &src, 4096, 1);
    let master_input = {
        // Without the master's inserts and at 0 dB, the output is the master's input.
        let mut p = stems_plan(&[]);
        p["master"]["gain_db"] = c(0.0);
        let out = render(&p, &src, 4096, 1);
        assert!(
            out.iter().flatten().all(|v| v.abs() < 1.0),
            "nothing clipped"
        );
        assert_ne!(out, master_input);
        out
    };
    let cases = [
        ("a 5 ms lookahead limiter", vec![limiter(5.0)]),
        (
            "8x saturation, a 1.5 ms limiter",
            vec![saturation(8), limiter(1.5)],
        ),
        ("2x saturation", vec![saturation(2)]),
        ("no insert", vec![]),
    ];
    for (name, inserts) in &cases {
        let p = stems_plan(inserts);
        for (block, threads) in [(64, 1), (1000, 2), (4096, 1), (4096, 2)] {
            let (master, stems) = render_stems(&p, &src, block, threads);
            let what = format!("master with {name}, block {block}, threads {threads}");
            assert_eq!(stems.len(), 3, "{what}");
            for s in &stems {
                assert!(s[0].len() == FRAMES && s[1].len() == FRAMES, "{what}");
            }
            assert_eq!(argmax(&stems[0][0]), KICK_AT, "Kick: {what}");
            assert_eq!(
                argmax(&stems[1][0][..PAD_FROM as usize]),
                SNARE_AT,
                "Group: {what}"
            );
            assert_eq!(argmax(&master[0][..5000]), KICK_AT, "master: {what}");
            let first = stems[2][1].iter().position(|&v| v != 0.0);
            assert_eq!(first, Some(PAD_FROM as usize), "Echo: {what}");
            for ch in 0..2 {
                for i in 0..FRAMES {
                    let sum = (stems[0][ch][i] + stems[1][ch][i]) + stems[2][ch][i];
                    assert!(
                        sum.to_bits() == master_input[ch][i].to_bits(),
                        "{what}: channel {ch}, frame {i}: {sum} against {}",
                        master_input[ch][i]
                    );
                }
            }
        }
    }
}
