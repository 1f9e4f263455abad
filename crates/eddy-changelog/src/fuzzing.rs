//! Entry points for the cargo-fuzz targets in `fuzz/` and their replay
//! test (`tests/fuzz_corpus.rs`). **Not a supported API**: it exists only
//! so that fuzzing can reach the private frame and segment-header decoders
//! and crash recovery. Every function calls the crate's own code unchanged.

use crate::frame::{self, Decoded, InvalidKind};
use crate::io::LogFs;
use crate::{recovery, segment, RecoveryReport, Result};
use std::path::Path;

/// What [`decode_frame`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameDecode {
    /// A valid frame of `consumed` bytes.
    Complete {
        /// LSN of the first payload.
        first_lsn: u64,
        /// The frame's timestamp.
        micros: u64,
        /// The payloads.
        payloads: Vec<Vec<u8>>,
        /// Bytes the frame occupies.
        consumed: usize,
    },
    /// The buffer ends before the frame does.
    Incomplete,
    /// The bytes are not a valid frame.
    Invalid {
        /// Where the frame claims to end.
        declared_end: u64,
        /// The checksum matched but the body is malformed.
        structural: bool,
    },
}

/// Decode the change-log frame at the start of `buf`.
pub fn decode_frame(buf: &[u8]) -> FrameDecode {
    match frame::decode(buf) {
        Decoded::Complete { frame, consumed } => FrameDecode::Complete {
            first_lsn: frame.first_lsn,
            micros: frame.micros,
            payloads: frame.payloads,
            consumed,
        },
        Decoded::Incomplete => FrameDecode::Incomplete,
        Decoded::Invalid {
            kind, declared_end, ..
        } => FrameDecode::Invalid {
            declared_end,
            structural: kind == InvalidKind::Structure,
        },
    }
}

/// Encode one frame, as the writer does. The encoded size must not exceed
/// [`crate::MAX_FRAME_SIZE`].
pub fn encode_frame(first_lsn: u64, micros: u64, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = Vec::new();
    frame::encode_into(&mut buf, first_lsn, micros, payloads);
    buf
}

/// Validate a segment header; its base LSN or why it is invalid.
pub fn decode_segment_header(h: &[u8]) -> std::result::Result<u64, String> {
    segment::decode_header(h)
}

/// The header of a segment whose first LSN is `base_lsn`.
pub fn encode_segment_header(base_lsn: u64) -> [u8; 24] {
    segment::encode_header(base_lsn)
}

/// The file name of the segment whose first LSN is `base_lsn`.
pub fn segment_file_name(base_lsn: u64) -> String {
    segment::segment_file_name(base_lsn)
}

/// Run crash recovery on the log in `dir`, as [`crate::ChangeLog::open`]
/// does before it starts the writer, and return its report.
pub fn recover(fs: &dyn LogFs, dir: &Path) -> Result<RecoveryReport> {
    recovery::recover(fs, dir).map(|r| r.report)
}
