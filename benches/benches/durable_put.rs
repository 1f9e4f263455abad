//! `durable_put`: acknowledged durable writes per second. The baseline is
//! the machine's serial limit: appending the same bytes to a file with an
//! fdatasync after each. eddy with `Durability::Sync` and 1, 4 or 16
//! writer threads shows group commit at work: concurrent writers share one
//! fdatasync. The same writer counts with `Durability::None` (acknowledged
//! once the write reaches the OS) show what the fsync costs; `plot.py`
//! draws both series against the writer count. Each iteration is one
//! acknowledged write.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eddy::{Durability, ReturnValues};
use eddy_benches::{item, open_eddy, TABLE};
use eddy_model::codec;

const ITEM_SIZE: usize = 100;

fn durable_put(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_put");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fdatasync_loop", |b| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("log"))
            .unwrap_or_else(|e| panic!("{e}"));
        // The bytes of one logged change of the same item size.
        let bytes = codec::encode_item(&item(1, ITEM_SIZE));
        b.iter(|| {
            file.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
            file.sync_data().unwrap_or_else(|e| panic!("{e}"));
        });
    });
    for (mode, durability) in [("sync", Durability::Sync), ("none", Durability::None)] {
        for writers in [1usize, 4, 16] {
            group.bench_with_input(
                BenchmarkId::new(
                    format!(
                        "eddy_{mode}_{writers}_writer{}",
                        if writers == 1 { "" } else { "s" }
                    ),
                    writers,
                ),
                &writers,
                |b, &writers| {
                    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                    let db = open_eddy(dir.path(), durability, false);
                    let next = Arc::new(AtomicU64::new(0));
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for w in 0..writers as u64 {
                                let (db, next) = (&db, &next);
                                let share =
                                    iters / writers as u64 + u64::from(w < iters % writers as u64);
                                s.spawn(move || {
                                    for _ in 0..share {
                                        let i = next.fetch_add(1, Ordering::Relaxed);
                                        db.put_item(TABLE, item(i, ITEM_SIZE), ReturnValues::None)
                                            .unwrap_or_else(|e| panic!("{e}"));
                                    }
                                });
                            }
                        });
                        start.elapsed()
                    });
                },
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = durable_put
}
criterion_main!(benches);
