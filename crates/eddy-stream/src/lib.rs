//! eddy-stream (being built).
