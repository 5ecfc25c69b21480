//! The streaming [`Meter`] as a whole: block-size invariance (bit for bit), interleaved
//! input, agreement with its loudness part, the levels (sample peak, RMS per the
//! non-AES17 convention of dsp-references.md section 14, crest factor, correlation, DC,
//! IEC 61260 octave bands), channel layouts and undefined values.

mod ebu;

use ebu::{assert_within, stereo, tone, tone_at};
use mixrender_engine::math;
use mixrender_engine::meter::{
    Interleaved, Loudness, Meter, MeterError, MeterReport, OCTAVE_BANDS,
};

/// A deterministic test signal: noise bursts at changing levels plus a tone, different on
/// L and R, with a small DC, `tenths` tenths of a second long.
fn programme(fs: u32, tenths: usize) -> Vec<Vec<f64>> {
    let n = tenths * fs as usize / 10;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut level = 0.5;
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 9_001 == 0 {
            level = 0.05 + 0.9 * (next() + 0.5);
        }
        let t = math::sin(2.0 * std::f64::consts::PI * 220.0 * i as f64 / f64::from(fs));
        let (a, b) = (next(), next());
        l.push(level * a + 0.2 * t + 0.001);
        r.push(level * (0.7 * a + 0.3 * b) - 0.1 * t);
    }
    vec![l, r]
}

fn run(fs: u32, x: &[Vec<f64>], block: usize) -> MeterReport {
    let mut m = Meter::new(fs, x.len()).unwrap();
    let mut start = 0;
    while start < x[0].len() {
        let end = (start + block).min(x[0].len());
        let planar: Vec<&[f64]> = x.iter().map(|c| &c[start..end]).collect();
        m.process(&planar);
        start = end;
    }
    m.report()
}

/// Bits of every figure, so that reports compare exactly (NaN-free by construction).
fn bits(r: &MeterReport) -> Vec<Option<u64>> {
    let mut v = vec![
        r.sample_peak_dbfs,
        r.true_peak_dbtp,
        r.integrated_lufs,
        r.loudness_range_lu,
        r.momentary_lufs,
        r.short_term_lufs,
        r.max_momentary_lufs,
        r.max_short_term_lufs,
        r.rms_dbfs,
        r.crest_db,
        r.correlation,
        r.dc_offset,
    ];
    v.extend(r.octave_bands_db);
    v.into_iter().map(|x| x.map(f64::to_bits)).collect()
}

#[test]
fn any_block_size_gives_the_same_bits() {
    let fs = 48_000;
    let x = programme(fs, 34);
    let whole = run(fs, &x, x[0].len());
    assert!(whole.loudness_range_lu.is_some() && whole.integrated_lufs.is_some());
    for block in [1, 7, 64, 479, 480, 481, 4096] {
        let r = run(fs, &x, block);
        assert_eq!(bits(&r), bits(&whole), "block {block}");
        assert_eq!(r.frames, whole.frames);
    }
}

#[test]
fn without_octave_bands_every_other_figure_is_the_same() {
    let fs = 48_000;
    let x = programme(fs, 34);
    let full = run(fs, &x, 480);
    assert!(full.octave_bands_db.iter().all(Option::is_some));
    let mut m = Meter::new(fs, 2).unwrap().without_octave_bands();
    for (l, r) in x[0].chunks(480).zip(x[1].chunks(480)) {
        m.process(&[l, r]);
    }
    let lean = m.report();
    assert_eq!(lean.octave_bands_db, [None; OCTAVE_BANDS.len()]);
    let n = bits(&full).len() - OCTAVE_BANDS.len();
    assert_eq!(bits(&lean)[..n], bits(&full)[..n]);
    assert_eq!(lean.frames, full.frames);
    m.reset();
    assert_eq!(m.report().octave_bands_db, [None; OCTAVE_BANDS.len()]);
}

#[test]
fn interleaved_input_equals_planar() {
    let fs = 44_100;
    let x = programme(fs, 32);
    let planar = run(fs, &x, 1000);
    let inter: Vec<f64> = x[0].iter().zip(&x[1]).flat_map(|(l, r)| [*l, *r]).collect();
    for block in [2, 2 * 333, 2 * 4096] {
        let mut m = Meter::new(fs, 2).unwrap();
        for c in inter.chunks(block) {
            m.process_interleaved(Interleaved::F64(c));
        }
        assert_eq!(bits(&m.report()), bits(&planar), "f64, {block} samples");
    }
    // float32 is widened exactly: the same as planar float64 of the rounded values.
    let x32: Vec<f32> = inter.iter().map(|&v| v as f32).collect();
    let widened: Vec<Vec<f64>> = (0..2)
        .map(|c| {
            x32.iter()
                .skip(c)
                .step_by(2)
                .map(|&v| f64::from(v))
                .collect()
        })
        .collect();
    let mut m = Meter::new(fs, 2).unwrap();
    for c in x32.chunks(2 * 777) {
        m.process_interleaved(Interleaved::F32(c));
    }
    assert_eq!(bits(&m.report()), bits(&run(fs, &widened, 5000)));
}

#[test]
fn reset_starts_afresh() {
    let fs = 48_000;
    let x = programme(fs, 32);
    let mut m = Meter::new(fs, 2).unwrap();
    m.process(&[&x[1], &x[0]]);
    m.reset();
    m.process(&[&x[0], &x[1]]);
    assert_eq!(bits(&m.report()), bits(&run(fs, &x, 4096)));
}

/// The meter's loudness figures are its loudness part's, bit for bit (the EBU cases in
/// `tests/loudness.rs` run on [`Loudness`] alone, which is faster in a debug build).
#[test]
fn meter_loudness_is_its_loudness_part() {
    let fs = 48_000;
    let x = stereo(tone(fs, &[(5_000, -26.0), (5_000, -20.0), (5_000, -26.0)]));
    let r = run(fs, &x, 1234);
    let mut l = Loudness::new(fs, 2).unwrap();
    l.process(&[&x[0], &x[1]]);
    assert_eq!(r.integrated_lufs, l.integrated());
    assert_eq!(r.loudness_range_lu, l.loudness_range());
    assert_eq!(r.max_momentary_lufs, l.max_momentary());
    assert_eq!(r.max_short_term_lufs, l.max_short_term());
    assert_eq!(r.momentary_lufs, l.momentary());
    assert_eq!(r.short_term_lufs, l.short_term());
    assert_within("I", r.integrated_lufs.unwrap(), -23.0, 0.1, 0.1);
}

#[test]
fn sine_levels() {
    for fs in [44_100, 48_000, 96_000] {
        // 1 kHz: whole periods at every rate, so the RMS is exact.
        let x = stereo(tone(fs, &[(2_000, 0.0)]));
        let r = run(fs, &x, 4096);
        let what = |q: &str| format!("0 dBFS 1 kHz @ {fs} Hz: {q}");
        assert_within(&what("RMS"), r.rms_dbfs.unwrap(), -3.0103, 0.001, 0.001);
        assert_within(&what("crest"), r.crest_db.unwrap(), 3.0103, 0.001, 0.001);
        let peak = x[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_within(
            &what("sample peak"),
            r.sample_peak_dbfs.unwrap(),
            20.0 * math::log10(peak),
            1e-9,
            1e-9,
        );
        assert_within(
            &what("true peak"),
            r.true_peak_dbtp.unwrap(),
            0.0,
            0.05,
            0.05,
        );
        assert_within(
            &what("correlation"),
            r.correlation.unwrap(),
            1.0,
            1e-12,
            0.0,
        );
        assert!(r.dc_offset.unwrap().abs() < 1e-12, "{}", what("DC"));
    }
}

#[test]
fn correlation_and_dc() {
    let fs = 48_000;
    let l = tone(fs, &[(1_000, -6.0)]);
    let inverted: Vec<f64> = l.iter().map(|v| -v).collect();
    let r = run(fs, &[l.clone(), inverted], 1000);
    assert_within(
        "L = -R correlation",
        r.correlation.unwrap(),
        -1.0,
        0.0,
        1e-12,
    );
    // 90 degrees apart: uncorrelated over whole periods.
    let q: Vec<f64> = (0..l.len())
        .map(|n| 0.5 * math::cos(2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 48_000.0))
        .collect();
    let r = run(fs, &[l.clone(), q], 1000);
    assert_within(
        "quadrature correlation",
        r.correlation.unwrap(),
        0.0,
        1e-9,
        1e-9,
    );
    // One silent side: undefined.
    let r = run(fs, &[l.clone(), vec![0.0; l.len()]], 1000);
    assert_eq!(r.correlation, None);
    // DC: the channel with the larger mean, signed.
    let a: Vec<f64> = l.iter().map(|v| v + 0.01).collect();
    let b: Vec<f64> = l.iter().map(|v| v - 0.25).collect();
    let r = run(fs, &[a, b], 1000);
    assert_within("DC", r.dc_offset.unwrap(), -0.25, 1e-12, 1e-12);
}

/// A 0 dBFS sine at a band's centre reads -3.01 dB in that band (within the filter's
/// pre-warping of the centre) and at least 17 dB less in the neighbouring bands (12 dB in
/// the 16 kHz band, whose upper edge is near Nyquist).
#[test]
fn octave_bands_of_sines() {
    for fs in [44_100, 48_000] {
        for (b, &(label, fm)) in OCTAVE_BANDS.iter().enumerate() {
            // The narrow low bands take a while to settle: give them more periods.
            let n = fs as usize * if b < 2 { 4 } else { 1 };
            let x: Vec<f64> = (0..n)
                .map(|i| math::sin(2.0 * std::f64::consts::PI * fm * i as f64 / f64::from(fs)))
                .collect();
            let r = run(fs, &[x], 4096);
            let own = r.octave_bands_db[b].unwrap();
            let tol = if b == 0 { 0.1 } else { 0.06 };
            assert_within(&format!("{label} Hz band @ {fs}"), own, -3.0103, tol, tol);
            for nb in [b.wrapping_sub(1), b + 1] {
                // The 16 kHz band ends near Nyquist: a shallower lower skirt (levels.rs).
                let rejection = if nb == 9 { 12.0 } else { 17.0 };
                if let Some(Some(level)) = r.octave_bands_db.get(nb) {
                    assert!(
                        *level < own - rejection,
                        "{label} Hz tone in band {nb}: {level}"
                    );
                }
            }
        }
    }
}

/// Band powers of broadband noise add up to its power in 22 Hz .. 22 kHz: the bands tile
/// the spectrum (Butterworth octaves cross at -3 dB).
#[test]
fn octave_bands_tile_the_spectrum() {
    let fs = 48_000;
    let x = programme(fs, 30);
    let r = run(fs, &[x[1].clone()], 4096);
    let total: f64 = r
        .octave_bands_db
        .iter()
        .map(|b| math::pow(10.0, b.unwrap() / 10.0))
        .sum();
    let total_db = 10.0 * math::log10(total);
    // The noise is white to Nyquist: the bands miss 22.4 kHz .. 24 kHz (about 0.3 dB) and
    // the 220 Hz tone and DC sit inside / below them.
    assert_within(
        "sum of bands vs RMS",
        total_db,
        r.rms_dbfs.unwrap(),
        0.6,
        0.3,
    );
}

#[test]
fn silence_and_short_input() {
    let fs = 48_000;
    let r = run(fs, &[vec![0.0; 200_000], vec![0.0; 200_000]], 4096);
    assert_eq!(r.frames, 200_000);
    assert_eq!(r.sample_peak_dbfs, None);
    assert_eq!(r.true_peak_dbtp, None);
    assert_eq!(r.integrated_lufs, None);
    assert_eq!(r.loudness_range_lu, None);
    assert_eq!(r.max_momentary_lufs, None);
    assert_eq!(r.max_short_term_lufs, None);
    assert_eq!(r.rms_dbfs, None);
    assert_eq!(r.crest_db, None);
    assert_eq!(r.correlation, None);
    assert_eq!(r.dc_offset, Some(0.0));
    assert!(r.octave_bands_db.iter().all(Option::is_none));
    // Nothing at all.
    let r = Meter::new(fs, 2).unwrap().report();
    assert_eq!(r.frames, 0);
    assert_eq!(r.dc_offset, None);
    // 300 ms of tone: levels yes, no full 400 ms window.
    let r = run(fs, &stereo(tone(fs, &[(300, -20.0)])), 4096);
    assert!(r.rms_dbfs.is_some() && r.true_peak_dbtp.is_some());
    assert_eq!(r.integrated_lufs, None);
    assert_eq!(r.max_momentary_lufs, None);
    // 2 s: M and I yes, no short-term value, so no S and no LRA.
    let r = run(fs, &stereo(tone(fs, &[(2_000, -20.0)])), 4096);
    assert!(r.integrated_lufs.is_some() && r.max_momentary_lufs.is_some());
    assert_eq!(r.max_short_term_lufs, None);
    assert_eq!(r.loudness_range_lu, None);
}

/// 5.1: the LFE counts for the peaks only.
#[test]
fn lfe_counts_for_peaks_only() {
    let fs = 48_000;
    let front = tone(fs, &[(3_000, -20.0)]);
    let lfe = tone_at(60, fs, &[(3_000, -1.0)]);
    let quiet = vec![0.0; front.len()];
    let six = vec![
        front.clone(),
        front.clone(),
        quiet.clone(),
        lfe,
        quiet.clone(),
        quiet.clone(),
    ];
    let five = vec![front.clone(), front, quiet.clone(), quiet.clone(), quiet];
    let (r6, r5) = (run(fs, &six, 4096), run(fs, &five, 4096));
    assert_eq!(r6.integrated_lufs, r5.integrated_lufs);
    assert!(r6.sample_peak_dbfs.unwrap() > -1.1 && r5.sample_peak_dbfs.unwrap() < -19.0);
    assert!(r6.true_peak_dbtp.unwrap() > -1.1);
    // RMS and bands average over the measured channels: five of them in both.
    assert_eq!(r6.rms_dbfs.map(f64::to_bits), r5.rms_dbfs.map(f64::to_bits));
    assert_eq!(
        r6.octave_bands_db[1].map(f64::to_bits),
        r5.octave_bands_db[1].map(f64::to_bits)
    );
    assert_eq!(r6.correlation, r5.correlation);
}

#[test]
fn channel_counts_and_rates() {
    for ch in [1, 2, 5, 6] {
        assert_eq!(Meter::new(44_100, ch).unwrap().channels(), ch);
    }
    for ch in [0, 3, 4, 7, 8] {
        let e = Meter::new(48_000, ch).unwrap_err();
        assert_eq!(e, MeterError::Channels { channels: ch });
        assert!(e.to_string().contains("1, 2, 5"), "{e}");
    }
    for rate in [0, 7_999, 768_001] {
        let e = Meter::new(rate, 2).unwrap_err();
        assert_eq!(e, MeterError::SampleRate { sample_rate: rate });
    }
    assert!(Meter::new(192_000, 2).is_ok());
}

/// The loudness at 44.1, 88.2 and 96 kHz matches 48 kHz within 0.02 LU, at 192 kHz within
/// 0.04 LU (the prototype K-filter has less frequency warping at high rates than the
/// 48 kHz tables it reproduces; dsp-references.md section 12).
#[test]
fn loudness_across_rates() {
    let at = |fs| {
        let x = stereo(tone(fs, &[(4_000, -23.0)]));
        let mut l = Loudness::new(fs, 2).unwrap();
        l.process(&[&x[0], &x[1]]);
        l.integrated().unwrap()
    };
    let base = at(48_000);
    for (fs, tol) in [
        (44_100, 0.02),
        (88_200, 0.02),
        (96_000, 0.02),
        (192_000, 0.04),
    ] {
        assert_within(&format!("I @ {fs} vs 48 kHz"), at(fs), base, tol, tol);
    }
}
