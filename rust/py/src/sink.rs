//! `BulkSink`: the render's output WAV written a block at a time as one run of bytes.
//!
//! The file is the one hound writes (its header is hound's, made once in memory; the sizes
//! are filled in at the end as hound fills them), but each block's samples go to the file in
//! one write of the bytes that are hashed, instead of one call per sample: a 4-minute
//! 24-bit output spends a tenth of a second less.

use std::fs::File;
use std::io::{BufWriter, Cursor, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mixrender_engine::{EngineError, OutputBlock, OutputSource, Result};
use sha2::{Digest, Sha256};

/// The engine's converted block, in the type of the file's samples.
enum Samples {
    I16(Vec<i16>),
    /// 24-bit samples in the top three bytes, as [`OutputBlock::I24`] holds them.
    I24(Vec<i32>),
    F32(Vec<f32>),
}

pub(crate) struct BulkSink {
    path: PathBuf,
    file: BufWriter<File>,
    header: usize,
    data: u64,
    samples: Samples,
    bytes: Vec<u8>,
    hash: Sha256,
}

fn output_error(path: &Path, e: &dyn std::fmt::Display) -> EngineError {
    EngineError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl BulkSink {
    /// Creates the file at `path`: stereo at `sample_rate`, `bit_depth` 16, 24 or 32 (float).
    pub(crate) fn create(
        path: &Path,
        sample_rate: u32,
        bit_depth: u16,
        max_block: usize,
    ) -> Result<Self> {
        let n = 2 * max_block;
        let (samples, format) = match bit_depth {
            16 => (Samples::I16(vec![0; n]), hound::SampleFormat::Int),
            24 => (Samples::I24(vec![0; n]), hound::SampleFormat::Int),
            32 => (Samples::F32(vec![0.0; n]), hound::SampleFormat::Float),
            _ => return Err(EngineError::OutputFormat { bit_depth }),
        };
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate,
            bits_per_sample: bit_depth,
            sample_format: format,
        };
        // hound's header of an empty file: the sizes are written at `finish`.
        let mut head = Cursor::new(Vec::new());
        hound::WavWriter::new(&mut head, spec)
            .and_then(hound::WavWriter::finalize)
            .map_err(|e| output_error(path, &e))?;
        let head = head.into_inner();
        let mut file = File::create(path)
            .map(|f| BufWriter::with_capacity(1 << 16, f))
            .map_err(|e| output_error(path, &e))?;
        file.write_all(&head).map_err(|e| output_error(path, &e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            header: head.len(),
            data: 0,
            samples,
            bytes: Vec::with_capacity(n * usize::from(bit_depth / 8)),
            hash: Sha256::new(),
        })
    }

    /// Writes `source`'s last block (the engine's master), converted as its
    /// [`OutputSource::write_output`] converts it.
    pub(crate) fn write_from(&mut self, source: &impl OutputSource) -> Result<()> {
        let n = 2 * source.block_frames();
        let bytes = &mut self.bytes;
        bytes.clear();
        match &mut self.samples {
            Samples::I16(b) => {
                source.write_output(OutputBlock::I16(&mut b[..n]))?;
                b[..n]
                    .iter()
                    .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
            }
            Samples::I24(b) => {
                source.write_output(OutputBlock::I24(&mut b[..n]))?;
                b[..n]
                    .iter()
                    .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()[1..]));
            }
            Samples::F32(b) => {
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
    pub(crate) fn finish(mut self) -> Result<[u8; 32]> {
        let path = self.path.clone();
        let fail = |e: &dyn std::fmt::Display| output_error(&path, e);
        let data = u32::try_from(self.data).map_err(|_| fail(&"more than 4 GiB of samples"))?;
        // cast: the header is 44 or 68 bytes
        let header = self.header as u32;
        let file = &mut self.file;
        let mut size = |at: u64, v: u32| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&v.to_le_bytes())
        };
        size(4, data + header - 8).map_err(|e| fail(&e))?;
        size(u64::from(header) - 4, data).map_err(|e| fail(&e))?;
        self.file.flush().map_err(|e| fail(&e))?;
        Ok(self.hash.finalize().into())
    }
}
