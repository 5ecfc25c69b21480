//! The engine's errors: structured, written once, mapped once at the binding.

use core::fmt;

pub type Result<T, E = EngineError> = core::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The plan is malformed or refers to something that does not exist.
    Plan { reason: String },
    /// Outputs and sends form a cycle; the names in order, the first repeated last.
    RoutingCycle { names: Vec<String> },
    /// A block of source audio did not have the length the engine asked for.
    SourceLength {
        track: String,
        expected: usize,
        actual: usize,
    },
    /// A track's file, read by the engine, failed after it was opened.
    SourceRead {
        track: String,
        path: String,
        reason: String,
    },
    /// A track's source holds NaN or an infinity where the mix plays it: from its file
    /// (`path`) or from the caller. `frame`: the frame of the mix where it plays.
    SourceNotFinite {
        track: String,
        path: Option<String>,
        frame: u64,
    },
    /// Writing the output file failed.
    Output { path: String, reason: String },
    /// An output buffer whose length does not match the block.
    OutputLength { expected: usize, actual: usize },
    /// `process_block` called with a block larger than prepared or past the end.
    BlockSize { requested: usize, allowed: usize },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plan { reason } => write!(f, "invalid render plan: {reason}"),
            Self::RoutingCycle { names } => {
                let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                write!(f, "routing cycle: {}", quoted.join(" -> "))
            }
            Self::SourceLength {
                track,
                expected,
                actual,
            } => write!(
                f,
                "track \"{track}\": expected {expected} source samples in this block, got {actual}"
            ),
            Self::SourceRead {
                track,
                path,
                reason,
            } => write!(
                f,
                "track \"{track}\": reading {path} failed ({reason}); the file was changed or \
                 damaged during the render"
            ),
            Self::SourceNotFinite { track, path, frame } => {
                let source = path.as_ref().map_or_else(String::new, |p| format!(" {p}"));
                write!(
                    f,
                    "track \"{track}\": its source{source} holds NaN or infinity, played at \
                     frame {frame} of the mix; no filter can carry such a sample: repair or \
                     replace the source"
                )
            }
            Self::Output { path, reason } => {
                write!(f, "{path}: writing the output failed ({reason})")
            }
            Self::OutputLength { expected, actual } => {
                write!(
                    f,
                    "output buffer holds {actual} samples, the block needs {expected}"
                )
            }
            Self::BlockSize { requested, allowed } => {
                write!(
                    f,
                    "block of {requested} frames requested, at most {allowed} allowed"
                )
            }
        }
    }
}

impl std::error::Error for EngineError {}
