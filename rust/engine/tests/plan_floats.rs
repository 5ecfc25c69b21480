//! The plan's numbers are read exactly: Python writes every float of the plan as its
//! shortest round-trip decimal (`json.dumps`, `repr`), and the engine must read back the
//! very double Python meant, or a value one ulp off would reach the output.
//!
//! Rust's `{:?}` and `{:e}` print the same shortest round-trip digits (Python's `repr` picks
//! the same digits; only where it switches to an exponent differs, and both forms are read
//! here), so parsing them through the engine's serde_json and comparing bits is an exact
//! check: the reference is the value itself.

mod common;

use mixrender_engine::Plan;
use serde_json::json;

/// SplitMix64: a fixed, portable sequence of 64-bit patterns.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        // cast: 53 bits, exact
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The decimal forms Python's `repr` and Rust may write for `x`: plain (`{:?}`, switching
/// to an exponent outside 1e-5 .. 1e16) and scientific (`{:e}`), the same digits.
fn decimals(x: f64) -> [String; 2] {
    [format!("{x:?}"), format!("{x:e}")]
}

/// The values a plan holds (dB, Hz, ms, ratios, pans, sample positions as floats) and
/// doubles of every exponent, `count` of each.
fn doubles(count: usize) -> Vec<f64> {
    let mut rng = SplitMix(0x6d69_7872_656e_6465);
    let mut out = Vec::with_capacity(4 * count);
    for _ in 0..count {
        // Every finite bit pattern: all exponents, subnormals included.
        let x = f64::from_bits(rng.next());
        if x.is_finite() {
            out.push(x);
        }
        // A fader or send level in dB, a frequency, a pan.
        out.push(-144.0 + 168.0 * rng.unit());
        out.push(20.0 + 19_980.0 * rng.unit());
        out.push(2.0 * rng.unit() - 1.0);
    }
    out
}

/// Parses `text` (a JSON array) through the engine's serde_json as the plan is parsed.
fn parse(text: &str) -> Vec<f64> {
    serde_json::from_str(text).expect("a JSON array of numbers")
}

#[test]
fn every_shortest_decimal_reads_back_as_the_double_it_was_written_from() {
    let values = doubles(200_000);
    let mut misread = Vec::new();
    for form in 0..2 {
        let text: Vec<String> = values.iter().map(|&x| decimals(x)[form].clone()).collect();
        let read = parse(&format!("[{}]", text.join(",")));
        assert_eq!(read.len(), values.len());
        for ((&x, y), t) in values.iter().zip(&read).zip(&text) {
            if x.to_bits() != y.to_bits() {
                misread.push(format!("{t} read as {y:?}"));
            }
        }
    }
    assert!(
        misread.is_empty(),
        "{} of {} decimals misread, e.g. {:?}",
        misread.len(),
        2 * values.len(),
        &misread[..misread.len().min(5)]
    );
}

#[test]
fn the_plan_reader_keeps_every_bit_of_a_lane_value() {
    // A pan's shortest decimal that serde_json's default (fast, not correctly rounded)
    // reader takes one ulp low, as ...271.
    let pan = -0.120_344_163_269_052_73_f64;
    assert_eq!(format!("{pan:?}"), "-0.12034416326905273");
    assert_eq!(parse("[-0.12034416326905273]")[0].to_bits(), pan.to_bits());
    // Through `Plan::from_json` itself: the master's gain lane holds the values.
    let values = doubles(2_000)
        .into_iter()
        .filter(|x| (-144.0..=24.0).contains(x))
        .collect::<Vec<_>>();
    assert!(values.len() > 2_000);
    for &v in &values {
        let mut plan = common::plan(Vec::new(), 0);
        plan["master"]["gain_db"] = json!({"points": [[0, "VALUE", "step", 0.0]]});
        let text = plan.to_string().replace("\"VALUE\"", &decimals(v)[0]);
        let plan = Plan::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let read = plan.master.gain_db.value_at(0);
        assert_eq!(
            read.to_bits(),
            v.to_bits(),
            "{} read as {read:?}",
            decimals(v)[0]
        );
    }
}
