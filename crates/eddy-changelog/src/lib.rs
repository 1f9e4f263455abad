//! eddy-changelog
