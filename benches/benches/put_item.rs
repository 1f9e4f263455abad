//! `put_item`: eddy's write path with change capture against a bare sled
//! insert of the same encoded keys and values, with `Durability::None` so
//! that fsync cost does not hide the CPU cost of capture, logging and
//! streaming. Built without the default `mimalloc` feature, the group is
//! `put_item_system_alloc` (benches/run.sh runs both builds).

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eddy::{Durability, ReturnValues};
use eddy_benches::{group_name, item, open_eddy, open_sled, sled_entry, TABLE};

fn put_item(c: &mut Criterion) {
    let mut group = c.benchmark_group(group_name("put_item"));
    for size in [100usize, 4096] {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("sled_raw", size), &size, |b, &size| {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let tree = open_sled(dir.path());
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let (k, v) = sled_entry(&item(i, size));
                tree.insert(k, v).unwrap_or_else(|e| panic!("{e}"));
            });
        });
        for (id, destination) in [("eddy_no_destination", false), ("eddy_destination", true)] {
            group.bench_with_input(BenchmarkId::new(id, size), &size, |b, &size| {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let db = open_eddy(dir.path(), Durability::None, destination);
                let mut i = 0u64;
                b.iter(|| {
                    i += 1;
                    db.put_item(TABLE, item(i, size), ReturnValues::None)
                        .unwrap_or_else(|e| panic!("{e}"));
                });
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = put_item
}
criterion_main!(benches);
