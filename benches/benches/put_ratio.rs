//! `put_ratio`: the `put_item` ratios measured by alternation, for a
//! machine whose speed drifts. Criterion measures each id for several
//! seconds, one after the other, so a slow minute can land on one side of
//! a ratio; here three long-lived stores (raw sled, eddy without and with
//! a streaming destination) take turns in short slices, round after round,
//! and each round yields its own ratios, whose median is reported. Between
//! slices the destination's publisher is allowed to catch up (untimed), so
//! its backlog never runs into another path's slice.
//!
//! ```sh
//! cargo bench -p eddy-benches --bench put_ratio -- --sizes 100,4096 --rounds 30 --slice-ms 300
//! ```
//!
//! The rounds' ratios spread widely (a slice also pays for the background
//! work, sled's I/O and eddy's checkpoints, that the slice before it
//! left), which is why the median of many rounds is the figure to read.

use std::time::{Duration, Instant};

use eddy::{Database, Durability, ReturnValues};
use eddy_benches::{arg, item, open_eddy, open_sled, sled_entry, ALLOCATOR_NAME, TABLE};

/// Puts for `slice` and returns puts per second; `next` numbers the items.
fn slice(put: &mut dyn FnMut(u64), next: &mut u64, slice: Duration) -> f64 {
    let started = Instant::now();
    let first = *next;
    while started.elapsed() < slice {
        // Check the clock every 64 puts.
        for _ in 0..64 {
            put(*next);
            *next += 1;
        }
    }
    (*next - first) as f64 / started.elapsed().as_secs_f64()
}

/// Puts item `i` of `size` bytes into `db`'s benchmark table.
fn eddy_put(db: &Database, size: usize) -> impl FnMut(u64) + '_ {
    move |i| {
        db.put_item(TABLE, item(i, size), ReturnValues::None)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn caught_up(db: &Database) {
    db.wait_for_streaming(Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("wait_for_streaming: {e}"));
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() {
    let sizes: String = arg("sizes", "100,4096".to_string());
    let rounds: usize = arg("rounds", 30);
    let slice_ms: u64 = arg("slice-ms", 300);
    println!("## put_item by alternation\n");
    println!(
        "{rounds} rounds of {slice_ms} ms slices per path, Durability::None, one writer, allocator {ALLOCATOR_NAME}; the destination's publisher caught up after each of its slices (untimed). Medians over the rounds.\n"
    );
    println!("| size | ratio | median of the rounds' ratios | range | goal | puts/s of each path (medians) |");
    println!("|---:|---|---:|---|---:|---|");
    for size in sizes.split(',') {
        let size: usize = size
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("--sizes {sizes}: {e}"));
        alternate(size, rounds, Duration::from_millis(slice_ms));
    }
}

/// Runs the rounds for one item size and prints its two table rows.
fn alternate(size: usize, rounds: usize, length: Duration) {
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let tree = open_sled(dirs[0].path());
    let plain = open_eddy(dirs[1].path(), Durability::None, false);
    let streamed = open_eddy(dirs[2].path(), Durability::None, true);
    let (mut n_sled, mut n_plain, mut n_streamed) = (0u64, 0u64, 0u64);
    let mut put_sled = |i: u64| {
        let (k, v) = sled_entry(&item(i, size));
        tree.insert(k, v).unwrap_or_else(|e| panic!("{e}"));
    };
    let mut put_plain = eddy_put(&plain, size);
    let mut put_streamed = eddy_put(&streamed, size);

    // One unreported round: every store past its first, cheapest inserts.
    slice(&mut put_sled, &mut n_sled, length);
    slice(&mut put_plain, &mut n_plain, length);
    slice(&mut put_streamed, &mut n_streamed, length);
    caught_up(&streamed);

    let mut to_sled = Vec::with_capacity(rounds);
    let mut to_plain = Vec::with_capacity(rounds);
    let mut rates = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..rounds {
        // Rotate the order, so that no path always follows the same one.
        let mut rate = [0.0; 3];
        for k in 0..3 {
            let path = (round + k) % 3;
            rate[path] = match path {
                0 => slice(&mut put_sled, &mut n_sled, length),
                1 => slice(&mut put_plain, &mut n_plain, length),
                _ => {
                    let r = slice(&mut put_streamed, &mut n_streamed, length);
                    caught_up(&streamed);
                    r
                }
            };
        }
        to_sled.push(rate[2] / rate[0]);
        to_plain.push(rate[2] / rate[1]);
        for (all, r) in rates.iter_mut().zip(rate) {
            all.push(r);
        }
    }
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.2}-{hi:.2}")
    };
    let (sled_range, plain_range) = (range(&to_sled), range(&to_plain));

    let [sled, plain, streamed] = &mut rates;
    let speeds = format!(
        "sled_raw {:.0}, eddy_no_destination {:.0}, eddy_destination {:.0}",
        median(sled),
        median(plain),
        median(streamed)
    );
    println!(
        "| {size} | eddy_destination / sled_raw | {:.2}× | {sled_range} | 0.5× | {speeds} |",
        median(&mut to_sled)
    );
    println!(
        "| {size} | eddy_destination / eddy_no_destination | {:.2}× | {plain_range} | 0.8× | |",
        median(&mut to_plain)
    );
}
