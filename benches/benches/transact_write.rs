//! `transact_write`: TransactWriteItems of 4 puts against the same 4 items
//! written by BatchWriteItem (the same single log group, without the
//! transaction's checks) and by one sled transaction over the same encoded
//! keys and values, with `Durability::None` so the CPU cost shows.
//!
//! Throughput is counted in items (4 per call).

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eddy::{Durability, TransactWriteItem, WriteRequest};
use eddy_benches::{item, open_eddy, open_sled, sled_entry, TABLE};

const ITEMS: u64 = 4;
const SIZE: usize = 100;

fn transact_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("transact_write");
    group.throughput(Throughput::Elements(ITEMS));
    group.bench_function("sled_transaction_4", |b| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tree = open_sled(dir.path());
        let mut i = 0u64;
        b.iter(|| {
            let entries: Vec<_> = (0..ITEMS)
                .map(|n| sled_entry(&item(i * ITEMS + n, SIZE)))
                .collect();
            i += 1;
            tree.transaction(|tx| {
                for (k, v) in &entries {
                    tx.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap_or_else(|e| panic!("{e:?}"));
        });
    });
    group.bench_function("eddy_batch_write_4", |b| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = open_eddy(dir.path(), Durability::None, false);
        let mut i = 0u64;
        b.iter(|| {
            let requests = (0..ITEMS)
                .map(|n| {
                    (
                        TABLE.to_string(),
                        WriteRequest::Put(item(i * ITEMS + n, SIZE)),
                    )
                })
                .collect();
            i += 1;
            db.batch_write_item(requests)
                .unwrap_or_else(|e| panic!("{e}"));
        });
    });
    group.bench_function("eddy_transact_write_4", |b| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = open_eddy(dir.path(), Durability::None, false);
        let mut i = 0u64;
        b.iter(|| {
            let actions = (0..ITEMS)
                .map(|n| TransactWriteItem::Put {
                    table_name: TABLE.to_string(),
                    item: item(i * ITEMS + n, SIZE),
                    condition_expression: Some("attribute_not_exists(pk)".into()),
                    attributes: Default::default(),
                    return_item_on_condition_failure: false,
                })
                .collect();
            i += 1;
            db.transact_write_items(actions, None)
                .unwrap_or_else(|e| panic!("{e}"));
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = transact_write
}
criterion_main!(benches);
