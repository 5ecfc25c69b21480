//! The engine's errors: structured, written once, mapped once at the binding.
//!
//! Three kinds, which the binding maps to three Python classes: the plan (what the mix
//! file says: [`EngineError::Plan`], [`EngineError::RoutingCycle`]), a source (missing,
//! unreadable, cut short, not finite, another shape than planned: the `Source*` variants,
//! and [`EngineError::ImpulseResponse`] for a convolution's response) and the render (a
//! caller's misuse of the API, the thread pool, the output file).

use core::fmt;

pub type Result<T, E = EngineError> = core::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The plan is malformed or refers to something that does not exist: malformed JSON,
    /// another version, a value outside its declared range, a dangling index, a bus before
    /// a track.
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
    /// A track's file holds another number of channels than the plan says.
    SourceChannels {
        track: String,
        path: String,
        planned: usize,
        found: usize,
    },
    /// An impulse response given for the plan's convolution inserts that is not 1 or 2
    /// channels of finite samples at a rate above 0: `index` in the list given, `path` its
    /// file when the caller named it.
    ImpulseResponse {
        index: usize,
        path: Option<String>,
        reason: String,
    },
    /// A convolution insert (`insert`, its name) indexes impulse response `index`, but only
    /// `given` were given.
    NoImpulseResponse {
        insert: String,
        index: usize,
        given: usize,
    },
    /// `process_block` was given another number of source blocks than there are tracks.
    SourceCount { given: usize, tracks: usize },
    /// A track index beyond the plan's tracks.
    NoTrack { track: usize, tracks: usize },
    /// A stem index beyond the master's direct inputs.
    NoStem { stem: usize, stems: usize },
    /// `write_stem` on an engine built without stems.
    StemsNotEnabled,
    /// The worker threads could not be started.
    ThreadPool { threads: usize, reason: String },
    /// An output format the file writer does not write.
    OutputFormat { bit_depth: u16 },
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
            Self::SourceChannels {
                track,
                path,
                planned,
                found,
            } => write!(
                f,
                "track \"{track}\" has {planned} source channels in the plan, {found} in {path}"
            ),
            Self::ImpulseResponse {
                index,
                path,
                reason,
            } => match path {
                Some(path) => write!(f, "impulse response {path}: {reason}"),
                None => write!(f, "impulse response {index}: {reason}"),
            },
            Self::NoImpulseResponse {
                insert,
                index,
                given,
            } => write!(
                f,
                "convolution \"{insert}\": impulse response {index} was not given ({given} given)"
            ),
            Self::SourceCount { given, tracks } => {
                write!(f, "{given} source blocks for {tracks} tracks")
            }
            Self::NoTrack { track, tracks } => {
                write!(f, "no track {track} (the plan has {tracks})")
            }
            Self::NoStem { stem, stems } => write!(f, "no stem {stem} (the master has {stems})"),
            Self::StemsNotEnabled => {
                write!(f, "stems were not asked for when the engine was built")
            }
            Self::ThreadPool { threads, reason } => {
                write!(f, "cannot start {threads} threads: {reason}")
            }
            Self::OutputFormat { bit_depth } => write!(f, "no WAV output of {bit_depth} bits"),
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
