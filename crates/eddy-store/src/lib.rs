//! eddy-store
