//! Legacy parameters (being written).
