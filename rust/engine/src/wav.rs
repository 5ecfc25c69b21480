//! WAV files read and written by the engine itself, with hound for the headers.
//!
//! * [`WavSource`], a track's file: the strip that plays the track reads and decodes its
//!   samples in bulk on its own worker thread, so decoding runs in parallel with the other
//!   strips and costs no Python work per block; the bytes read are hashed (SHA-256) on the
//!   way, so the lock file's source hash needs no second pass over the file. Samples decode
//!   to exactly the values libsndfile gives (integers over `2^(bits - 1)`, floats as
//!   stored), so a track renders the same bits whichever reads it.
//! * [`WavSink`], the render's output: each block as [`OutputSource::write_output`] makes it,
//!   with the data chunk's bytes hashed as they are written.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::block::{OutputBlock, OutputSource};
use crate::{EngineError, Result};

/// The sample encodings read here; anything else is left to the caller's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    I16,
    I24,
    I32,
    F32,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }
}

/// A WAV file's header, as the engine reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub frames: u64,
    pub channels: usize,
    pub sample_rate: u32,
    encoding: Encoding,
}

impl WavInfo {
    /// libsndfile's name of the sample encoding, so that both readers describe a file alike.
    #[must_use]
    pub fn subtype(&self) -> &'static str {
        match self.encoding {
            Encoding::I16 => "PCM_16",
            Encoding::I24 => "PCM_24",
            Encoding::I32 => "PCM_32",
            Encoding::F32 => "FLOAT",
        }
    }
}

/// Keeps the bytes read through it while the header is parsed: hound does not tell the data
/// chunk's size in bytes, which shows how wide each sample's container is.
struct Recording<R> {
    inner: R,
    bytes: Vec<u8>,
    /// More than [`MAX_HEADER`] bytes went through: `bytes` holds only their start.
    overflow: bool,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.bytes.len() + n <= MAX_HEADER {
            self.bytes.extend_from_slice(&buf[..n]);
        } else {
            self.overflow = true;
        }
        Ok(n)
    }
}

/// Headers longer than this (chunks of metadata before the samples) are left to the
/// caller's reader.
const MAX_HEADER: usize = 1 << 20;

/// The sample rates a source may have: a header outside them is damaged (or not audio), and
/// is refused before anything sized by it is allocated.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// Why a WAV file that the engine reads contradicts itself: cut short, a data chunk past its
/// end, or a sample rate no audio has. One line, without the file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged(pub String);

/// A parsed header and the reader at the start of the samples.
type Opened<R> = (WavInfo, BufReader<Recording<R>>);

/// Parses the header `reader` reads from a file of `file_len` bytes: the file's description
/// and the reader, at the start of the samples (the first of them in its buffer). `Ok(None)`
/// when the engine does not read the file: not a WAV file hound reads, another sample
/// encoding, samples in wider containers than their bits (24 in 32), or a data chunk whose
/// size says "until the end of the file". [`Damaged`] when its sample rate is outside
/// [`SAMPLE_RATES`] or its data chunk runs past the end of the file (it was cut short).
fn read_header<R: Read>(
    reader: R,
    file_len: u64,
    capacity: usize,
) -> std::result::Result<Option<Opened<R>>, Damaged> {
    let recording = Recording {
        inner: reader,
        bytes: Vec::new(),
        overflow: false,
    };
    let Ok(header) = hound::WavReader::new(BufReader::with_capacity(capacity, recording)) else {
        return Ok(None);
    };
    let spec = header.spec();
    if !SAMPLE_RATES.contains(&spec.sample_rate) {
        return Err(Damaged(format!(
            "sample rate {} Hz is outside {}..{} Hz; the header is damaged or the file is not audio",
            spec.sample_rate,
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )));
    }
    let encoding = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => Encoding::I16,
        (hound::SampleFormat::Int, 24) => Encoding::I24,
        (hound::SampleFormat::Int, 32) => Encoding::I32,
        (hound::SampleFormat::Float, 32) => Encoding::F32,
        _ => return Ok(None),
    };
    let info = WavInfo {
        frames: u64::from(header.duration()),
        channels: usize::from(spec.channels),
        sample_rate: spec.sample_rate,
        encoding,
    };
    let mut buffered = header.into_inner();
    if buffered.get_ref().overflow {
        return Ok(None);
    }
    // The data chunk's size is the 4 bytes just before the samples.
    let recorded = &buffered.get_ref().bytes;
    let Some(start) = recorded.len().checked_sub(buffered.buffer().len()) else {
        return Ok(None);
    };
    let Some(size) = start.checked_sub(4).and_then(|s| recorded.get(s..start)) else {
        return Ok(None);
    };
    let Ok(size) = <[u8; 4]>::try_from(size) else {
        return Ok(None);
    };
    let data_len = u64::from(u32::from_le_bytes(size));
    let frame_bytes = info.channels as u64 * encoding.bytes() as u64;
    if data_len == u64::from(u32::MAX) || frame_bytes == 0 || data_len != info.frames * frame_bytes
    {
        return Ok(None);
    }
    let start = start as u64;
    if start + data_len > file_len {
        let present = file_len.saturating_sub(start) / frame_bytes;
        return Err(Damaged(format!(
            "the header promises {} frames but the file holds {present}; the file is cut \
             short (an interrupted copy?): copy it again",
            info.frames
        )));
    }
    buffered.get_mut().bytes = Vec::new();
    Ok(Some((info, buffered)))
}

/// Reads the header of the file at `path`: `Ok(None)` when the engine does not read it (see
/// [`WavSource::open`]), which another reader may.
///
/// # Errors
/// The file cannot be opened ([`io::ErrorKind`] of the failure), or it is a WAV file that
/// contradicts itself ([`io::ErrorKind::InvalidData`], the [`Damaged`] reason as message).
pub fn probe(path: &Path) -> io::Result<Option<WavInfo>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    match read_header(file, len, 4096) {
        Ok(found) => Ok(found.map(|(info, _)| info)),
        Err(Damaged(reason)) => Err(io::Error::new(io::ErrorKind::InvalidData, reason)),
    }
}

/// What the caller's probe ([`probe`], or libsndfile's) said of the file; the engine reads
/// the file only when the header still reads so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub frames: u64,
    pub channels: usize,
    pub sample_rate: u32,
}

/// Hashes every byte read through it (none once `hash` is `None`).
struct Hashing<R> {
    inner: R,
    hash: Option<Sha256>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hash) = &mut self.hash {
            hash.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Bytes read from the file per system call.
const READ_AHEAD: usize = 1 << 16;

/// An open WAV source: its data read front to back, in the blocks the engine asks for.
pub struct WavSource {
    path: PathBuf,
    file: Hashing<File>,
    encoding: Encoding,
    channels: usize,
    /// Frames of the data chunk not read yet.
    left: u64,
    /// Bytes read from the file, not decoded yet: `raw[start..end]`. Decoded from here, so
    /// each byte is copied once, by the kernel.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    samples: Vec<f64>,
    digest: Option<[u8; 32]>,
}

impl WavSource {
    /// Opens `path` when it is a WAV file of 16-, 24- or 32-bit integers or 32-bit floats
    /// (each in a container of its own width) whose header reads as `expected`; `Ok(None)`
    /// when it is another kind of file (the caller reads it), an error when it cannot be
    /// opened or contradicts itself (see [`probe`]). `max_frames` sizes the buffers for the most
    /// frames one [`WavSource::read`] is expected to ask for.
    ///
    /// # Errors
    /// The file cannot be opened, or is cut short ([`io::ErrorKind::InvalidData`]).
    pub fn open(path: &Path, expected: Expected, max_frames: usize) -> io::Result<Option<Self>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let hashing = Hashing {
            inner: file,
            hash: Some(Sha256::new()),
        };
        let Some((info, buffered)) = read_header(hashing, len, READ_AHEAD)
            .map_err(|Damaged(reason)| io::Error::new(io::ErrorKind::InvalidData, reason))?
        else {
            return Ok(None);
        };
        let agrees = info.frames == expected.frames
            && info.channels == expected.channels
            && info.sample_rate == expected.sample_rate;
        if !agrees {
            return Ok(None);
        }
        // What the header's reader read past the header is the data's start.
        let mut raw = vec![0; READ_AHEAD];
        let end = buffered.buffer().len();
        raw[..end].copy_from_slice(buffered.buffer());
        Ok(Some(Self {
            path: path.to_owned(),
            file: buffered.into_inner().inner,
            encoding: info.encoding,
            channels: info.channels,
            left: info.frames,
            raw,
            start: 0,
            end,
            samples: vec![0.0; max_frames * info.channels],
            digest: None,
        }))
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next `frames` frames, interleaved, as float64.
    ///
    /// # Errors
    /// Reading failed, or the file ended before its header's length (then it was truncated
    /// after it was opened).
    ///
    /// Asking for more than the `max_frames` the source was opened with grows its buffers.
    pub fn read(&mut self, frames: usize) -> io::Result<&[f64]> {
        if frames as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "ended before the length its header gives",
            ));
        }
        let n = frames * self.channels;
        if n > self.samples.len() {
            self.samples.resize(n, 0.0);
        }
        let size = self.encoding.bytes();
        let mut done = 0;
        while done < n {
            if self.end - self.start < size {
                // Keep the partial sample, fill the rest from the file.
                self.raw.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let got = self.file.read(&mut self.raw[self.end..])?;
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "ended before the length its header gives",
                    ));
                }
                self.end += got;
                continue;
            }
            let take = ((self.end - self.start) / size).min(n - done);
            let bytes = &self.raw[self.start..self.start + take * size];
            decode(self.encoding, bytes, &mut self.samples[done..done + take]);
            self.start += take * size;
            done += take;
        }
        self.left -= frames as u64;
        Ok(&self.samples[..n])
    }

    /// Reads on without hashing, for a caller that never asks for the [`digest`].
    ///
    /// [`digest`]: WavSource::digest
    pub fn without_digest(&mut self) {
        self.file.hash = None;
    }

    /// The SHA-256 of the whole file: reads what the render did not need, then hashes.
    ///
    /// # Errors
    /// Reading the rest failed, or the source reads [`without_digest`].
    ///
    /// [`without_digest`]: WavSource::without_digest
    pub fn digest(&mut self) -> io::Result<[u8; 32]> {
        if let Some(d) = self.digest {
            return Ok(d);
        }
        if self.file.hash.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "opened without its digest",
            ));
        }
        io::copy(&mut self.file, &mut io::sink())?;
        let hash = self.file.hash.take().unwrap_or_default();
        let d: [u8; 32] = hash.finalize().into();
        self.digest = Some(d);
        Ok(d)
    }
}

/// Samples from their bytes, as libsndfile reads them.
fn decode(encoding: Encoding, bytes: &[u8], out: &mut [f64]) {
    const I16: f64 = 1.0 / 32_768.0;
    const I32: f64 = 1.0 / 2_147_483_648.0;
    match encoding {
        Encoding::I16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f64::from(i16::from_le_bytes([b[0], b[1]])) * I16;
            }
        }
        Encoding::I24 => {
            // Into the top three bytes of an i32, as libsndfile does, then scaled.
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(3)) {
                *o = f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]])) * I32;
            }
        }
        Encoding::I32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) * I32;
            }
        }
        Encoding::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
    }
}

/// The samples of one output block, in the file's encoding.
enum OutBuf {
    I16(Vec<i16>),
    /// 24-bit samples in the top three bytes, as [`OutputBlock::I24`] holds them.
    I24(Vec<i32>),
    F32(Vec<f32>),
}

/// The render's output as a WAV file of 16- or 24-bit integers or 32-bit floats, written
/// block by block (the caller gives the path: a temporary one, renamed once complete).
///
/// The file is the one hound writes: its header is hound's, made once in memory, and the
/// sizes are filled in at the end as hound fills them; but each block's samples go to the
/// file as the one run of bytes that is hashed, not one call per sample (a tenth of a
/// second less for a 4-minute 24-bit output).
pub struct WavSink {
    path: PathBuf,
    file: BufWriter<File>,
    /// The header's length in bytes (44, or 68 with hound's extensible format).
    header: u32,
    /// Sample bytes written so far.
    data: u64,
    buf: OutBuf,
    hash: Sha256,
    bytes: Vec<u8>,
}

impl WavSink {
    /// Creates the file at `path`: stereo at `sample_rate`, `bit_depth` 16, 24 or 32 (float).
    ///
    /// # Errors
    /// [`EngineError::OutputFormat`] for another bit depth, [`EngineError::Output`] when the file
    /// cannot be created.
    pub fn create(path: &Path, sample_rate: u32, bit_depth: u16, max_block: usize) -> Result<Self> {
        let n = 2 * max_block;
        let (buf, format) = match bit_depth {
            16 => (OutBuf::I16(vec![0; n]), hound::SampleFormat::Int),
            24 => (OutBuf::I24(vec![0; n]), hound::SampleFormat::Int),
            32 => (OutBuf::F32(vec![0.0; n]), hound::SampleFormat::Float),
            _ => return Err(EngineError::OutputFormat { bit_depth }),
        };
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate,
            bits_per_sample: bit_depth,
            sample_format: format,
        };
        // hound's header of an empty file; `finish` writes the sizes.
        let mut head = Cursor::new(Vec::new());
        hound::WavWriter::new(&mut head, spec)
            .and_then(hound::WavWriter::finalize)
            .map_err(|e| output_error(path, &e))?;
        let head = head.into_inner();
        let header = u32::try_from(head.len()).map_err(|_| output_error(path, &"header size"))?;
        let mut file = File::create(path)
            .map(|f| BufWriter::with_capacity(1 << 16, f))
            .map_err(|e| output_error(path, &e))?;
        file.write_all(&head).map_err(|e| output_error(path, &e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            header,
            data: 0,
            buf,
            hash: Sha256::new(),
            bytes: Vec::with_capacity(n * usize::from(bit_depth / 8)),
        })
    }

    /// Writes `source`'s last block (the engine's master), converted as its
    /// [`OutputSource::write_output`] converts it.
    ///
    /// # Errors
    /// [`EngineError::Output`] when writing fails.
    pub fn write_from(&mut self, source: &impl OutputSource) -> Result<()> {
        let n = 2 * source.block_frames();
        let bytes = &mut self.bytes;
        bytes.clear();
        match &mut self.buf {
            OutBuf::I16(b) => {
                source.write_output(OutputBlock::I16(&mut b[..n]))?;
                b[..n]
                    .iter()
                    .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
            }
            OutBuf::I24(b) => {
                source.write_output(OutputBlock::I24(&mut b[..n]))?;
                b[..n]
                    .iter()
                    .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()[1..]));
            }
            OutBuf::F32(b) => {
                source.write_output(OutputBlock::F32(&mut b[..n]))?;
                b[..n]
                    .iter()
                    .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
            }
        }
        self.hash.update(&*bytes);
        // cast: a block's bytes
        self.data += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(|e| output_error(&self.path, &e))
    }

    /// Fills in the RIFF and data sizes (as hound does) and flushes the file; returns the
    /// SHA-256 of the samples as the data chunk holds them (the render's audio hash).
    ///
    /// # Errors
    /// [`EngineError::Output`] when writing fails or the samples pass 4 GiB.
    pub fn finish(mut self) -> Result<[u8; 32]> {
        let path = self.path;
        let fail = |e: &dyn std::fmt::Display| output_error(&path, e);
        let data = u32::try_from(self.data)
            .ok()
            .filter(|d| d.checked_add(self.header).is_some())
            .ok_or_else(|| fail(&"more than 4 GiB of samples: a WAV cannot hold them"))?;
        let file = &mut self.file;
        let mut size = |at: u64, v: u32| -> io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&v.to_le_bytes())
        };
        size(4, data + self.header - 8).map_err(|e| fail(&e))?;
        size(u64::from(self.header) - 4, data).map_err(|e| fail(&e))?;
        self.file.flush().map_err(|e| fail(&e))?;
        Ok(self.hash.finalize().into())
    }
}

fn output_error(path: &Path, e: &dyn std::fmt::Display) -> EngineError {
    EngineError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV of `frames` frames written by hound.
    fn write(path: &Path, bits: u16, float: bool, channels: u16, frames: u32) -> Vec<f64> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let mut want = Vec::new();
        let full = f64::from(1u32 << (bits - 1));
        for i in 0..frames * u32::from(channels) {
            let v = i64::from(i) * 7919 % (1 << (bits - 1)) - (1 << (bits - 2));
            if float {
                let x = v as f32 / 1000.0;
                w.write_sample(x).unwrap();
                want.push(f64::from(x));
            } else {
                w.write_sample(v as i32).unwrap();
                want.push(v as f64 / full);
            }
        }
        w.finalize().unwrap();
        want
    }

    #[test]
    fn decodes_every_encoding_and_hashes_the_whole_file() {
        let dir = std::env::temp_dir().join(format!("mixrender-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (bits, float, channels) in [
            (16, false, 1),
            (24, false, 2),
            (32, false, 2),
            (32, true, 1),
        ] {
            let path = dir.join(format!("{bits}{float}{channels}.wav"));
            // Longer than the read-ahead, so that samples straddle its refills.
            let want = write(&path, bits, float, channels, 30_011);
            let expected = Expected {
                frames: 30_011,
                channels: usize::from(channels),
                sample_rate: 44_100,
            };
            let info = probe(&path).unwrap().unwrap();
            assert_eq!(
                (info.frames, info.channels, info.sample_rate),
                (30_011, usize::from(channels), 44_100)
            );
            let subtype = match (bits, float) {
                (16, _) => "PCM_16",
                (24, _) => "PCM_24",
                (_, false) => "PCM_32",
                _ => "FLOAT",
            };
            assert_eq!(info.subtype(), subtype);
            let mut src = WavSource::open(&path, expected, 300).unwrap().unwrap();
            let mut got = Vec::new();
            for k in [300, 300, 300, 100, 29_000, 11] {
                got.extend_from_slice(src.read(k).unwrap());
            }
            assert_eq!(got, want, "{bits} bits");
            assert!(src.read(1).is_err(), "past the end");
            let whole: [u8; 32] = Sha256::digest(std::fs::read(&path).unwrap()).into();
            assert_eq!(src.digest().unwrap(), whole);
            // A render that stops early still hashes the whole file.
            let mut early = WavSource::open(&path, expected, 300).unwrap().unwrap();
            early.read(10).unwrap();
            assert_eq!(early.digest().unwrap(), whole);
            // Without its digest: the same samples, and no digest to ask for.
            let mut bare = WavSource::open(&path, expected, 300).unwrap().unwrap();
            bare.without_digest();
            let mut again = Vec::new();
            for k in [300, 29_711] {
                again.extend_from_slice(bare.read(k).unwrap());
            }
            assert_eq!(again, want, "{bits} bits without digest");
            assert!(bare.digest().is_err());
            // A header that disagrees with the probe is left to the caller.
            let other = Expected {
                frames: 999,
                ..expected
            };
            assert!(WavSource::open(&path, other, 300).unwrap().is_none());
        }
        std::fs::write(dir.join("x.wav"), b"not a wav file").unwrap();
        assert_eq!(probe(&dir.join("x.wav")).unwrap(), None);
        let any = Expected {
            frames: 1,
            channels: 1,
            sample_rate: 44_100,
        };
        assert!(
            WavSource::open(&dir.join("x.wav"), any, 1)
                .unwrap()
                .is_none()
        );
        assert!(WavSource::open(&dir.join("missing.wav"), any, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leaves_wide_containers_and_cut_files_to_the_caller() {
        let dir = std::env::temp_dir().join(format!("mixrender-wav-odd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 24-bit samples in 32-bit containers: hound says 24 bits, the bytes are 4 wide.
        let wide = dir.join("wide.wav");
        let spec = hound::WavSpecEx {
            spec: hound::WavSpec {
                channels: 2,
                sample_rate: 48_000,
                bits_per_sample: 24,
                sample_format: hound::SampleFormat::Int,
            },
            bytes_per_sample: 4,
        };
        let file = BufWriter::new(File::create(&wide).unwrap());
        let mut w = hound::WavWriter::new_with_spec_ex(file, spec).unwrap();
        for i in 0..2000 {
            w.write_sample(i * 1000).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(probe(&wide).unwrap(), None);
        let expected = Expected {
            frames: 1000,
            channels: 2,
            sample_rate: 48_000,
        };
        assert!(WavSource::open(&wide, expected, 100).unwrap().is_none());

        // A file cut short: its header promises more samples than it holds.
        let whole = dir.join("whole.wav");
        write(&whole, 24, false, 2, 1000);
        assert_eq!(probe(&whole).unwrap().unwrap().frames, 1000);
        let at_44k1 = Expected {
            sample_rate: 44_100,
            ..expected
        };
        assert!(WavSource::open(&whole, at_44k1, 100).unwrap().is_some());
        let bytes = std::fs::read(&whole).unwrap();
        let cut = dir.join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
        let e = probe(&cut).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string()
                .contains("promises 1000 frames but the file holds 998")
        );
        assert!(WavSource::open(&cut, at_44k1, 100).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The byte offset of the samples in a WAV written by hound (the end of its header).
    fn data_start(bytes: &[u8]) -> usize {
        bytes.windows(4).position(|w| w == b"data").unwrap() + 8
    }

    #[test]
    fn a_file_that_contradicts_its_header_is_damaged() {
        let dir = std::env::temp_dir().join(format!("mixrender-wav-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.wav");
        for (bits, float, channels) in [(16, false, 1), (24, false, 2), (32, true, 2)] {
            write(&path, bits, float, channels, 300);
            let whole = std::fs::read(&path).unwrap();
            let start = data_start(&whole);
            let frame = usize::from(bits / 8 * channels);
            assert_eq!(
                whole.len(),
                start + 300 * frame,
                "hound writes no trailing chunk"
            );
            // Cut at the start of the data, inside a frame, and mid-data.
            for keep in [0, 1, 150 * frame, 150 * frame + 1, 299 * frame + frame - 1] {
                std::fs::write(&path, &whole[..start + keep]).unwrap();
                let e = probe(&path).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bits} {keep}");
                let want = format!(
                    "the header promises 300 frames but the file holds {}; the file is cut short",
                    keep / frame
                );
                assert!(e.to_string().starts_with(&want), "{e}");
            }
            // Cut inside the header: not a WAV file hound reads; the caller's reader explains.
            std::fs::write(&path, &whole[..start - 6]).unwrap();
            assert!(probe(&path).unwrap().is_none());
            // Trailing bytes after a complete data chunk are no damage.
            let mut longer = whole.clone();
            longer.extend_from_slice(b"junk after the data");
            std::fs::write(&path, &longer).unwrap();
            assert_eq!(probe(&path).unwrap().unwrap().frames, 300);
            // A data chunk's size larger than the file (a hand-made header).
            let mut big = whole.clone();
            let size = u32::try_from(600 * frame).unwrap().to_le_bytes();
            big[start - 4..start].copy_from_slice(&size);
            std::fs::write(&path, &big).unwrap();
            let e = probe(&path).unwrap_err();
            assert!(
                e.to_string()
                    .contains("promises 600 frames but the file holds 300")
            );
        }
        // Sample rates outside 8000..384000 Hz, refused before anything is allocated.
        write(&path, 16, false, 1, 10);
        let whole = std::fs::read(&path).unwrap();
        for (rate, ok) in [
            (0u32, false),
            (1, false),
            (7_999, false),
            (8_000, true),
            (384_000, true),
            (384_001, false),
            (2_147_483_647, false),
            (u32::MAX, false),
        ] {
            let mut bytes = whole.clone();
            bytes[24..28].copy_from_slice(&rate.to_le_bytes());
            // The byte rate, which hound checks against the sample rate (2-byte frames).
            bytes[28..32].copy_from_slice(&rate.wrapping_mul(2).to_le_bytes());
            std::fs::write(&path, &bytes).unwrap();
            match probe(&path) {
                Ok(Some(info)) => assert!(ok && info.sample_rate == rate, "{rate}"),
                // hound refuses a zero rate and a byte rate past 32 bits itself: the caller's
                // probe explains those files.
                Ok(None) => assert!(rate == 0 || rate == u32::MAX, "{rate}: left to the caller"),
                Err(e) => {
                    assert!(!ok, "{rate}: {e}");
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                    assert!(
                        e.to_string().contains(&format!("sample rate {rate} Hz")),
                        "{e}"
                    );
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
