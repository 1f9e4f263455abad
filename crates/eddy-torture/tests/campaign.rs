//! Runs the crash campaign binary for `EDDY_TORTURE_CYCLES` kill cycles
//! (default 20) with short cycles, and the power-cut campaign for
//! `EDDY_POWERCUT_CYCLES` (default 50), and requires both to pass. This is
//! what CI runs; long campaigns run the binary directly.
//!
//! The power-cut campaign needs FUSE (`scripts/setup-fuse.sh`): without it
//! the test is skipped with the reason printed, unless `CI` is set, where it
//! fails.
//!
//! `EDDY_TORTURE_SEED` changes the seed; `EDDY_TORTURE_SLED_WORKAROUND=1`
//! passes `--work-around-sled` (see the binary's help and `sled_bugs.rs`)
//! while the store does not yet handle sled's two bugs itself.

use std::process::Command;

/// The campaigns run one at a time: each wants both cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the campaign with `extra` arguments for `cycles` cycles and
/// requires it to pass them all.
fn campaign_passes(cycles: u64, seed: &str, extra: &[&str]) {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let output = Command::new(env!("CARGO_BIN_EXE_eddy-torture"))
        .args(["--cycles", &cycles.to_string(), "--seed", seed])
        .args(["--min-ms", "150", "--max-ms", "700", "--quiet"])
        .args(extra)
        .args(
            std::env::var("EDDY_TORTURE_SLED_WORKAROUND")
                .is_ok_and(|v| v == "1")
                .then_some("--work-around-sled"),
        )
        .output()
        .expect("running eddy-torture");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the crash campaign failed ({}); see its output above",
        output.status
    );
    assert!(
        stdout.contains(&format!("cycles verified:        {cycles} ")),
        "the summary does not report {cycles} verified cycles"
    );
}

#[test]
fn crash_campaign_passes() {
    let cycles: u64 = std::env::var("EDDY_TORTURE_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let seed = std::env::var("EDDY_TORTURE_SEED").unwrap_or_else(|_| "20240601".into());
    campaign_passes(cycles, &seed, &[]);
}

#[test]
fn power_cut_campaign_passes() {
    if !eddy_powercut::require_fuse_or_skip() {
        return;
    }
    let cycles: u64 = std::env::var("EDDY_POWERCUT_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(50);
    let seed = std::env::var("EDDY_TORTURE_SEED").unwrap_or_else(|_| "20261207".into());
    campaign_passes(cycles, &seed, &["--power-cut"]);
}
