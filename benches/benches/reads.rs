//! `get_item` and `query`: eddy's reads against raw sled reads of the same
//! encoded keys and values (10 000 items of ~100 bytes, 16 per partition).

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eddy::{Durability, Item, Query, ReturnValues};
use eddy_benches::{item, open_eddy, open_sled, schema, sled_entry, TABLE};
use eddy_model::{codec, key::encode_key_value, AttributeValue};

const ITEMS: u64 = 10_000;

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open_eddy(&dir.path().join("eddy"), Durability::None, false);
    let tree = open_sled(&dir.path().join("sled"));
    for i in 0..ITEMS {
        let it = item(i, 100);
        let (k, v) = sled_entry(&it);
        tree.insert(k, v).unwrap_or_else(|e| panic!("{e}"));
        db.put_item(TABLE, it, ReturnValues::None)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let key_of = |i: u64| {
        schema()
            .key_of(&item(i, 100))
            .unwrap_or_else(|e| panic!("{e}"))
    };

    let mut group = c.benchmark_group("get_item");
    group.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    group.bench_function("sled_raw", |b| {
        b.iter(|| {
            i = (i + 7919) % ITEMS;
            let k = schema()
                .encode_key(&key_of(i))
                .unwrap_or_else(|e| panic!("{e}"));
            let v = tree
                .get(k)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("missing"));
            codec::decode_item(&v).unwrap_or_else(|e| panic!("{e}"))
        });
    });
    group.bench_function("eddy", |b| {
        b.iter(|| {
            i = (i + 7919) % ITEMS;
            db.get_item(TABLE, &key_of(i))
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("missing"))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("query");
    group.throughput(Throughput::Elements(16));
    let mut p = 0u64;
    group.bench_function("sled_raw", |b| {
        b.iter(|| {
            p = (p + 31) % (ITEMS / 16);
            let mut prefix = Vec::new();
            encode_key_value(&AttributeValue::S(format!("user#{p:08}")), &mut prefix);
            let items: Vec<Item> = tree
                .scan_prefix(prefix)
                .map(|kv| {
                    codec::decode_item(&kv.unwrap_or_else(|e| panic!("{e}")).1)
                        .unwrap_or_else(|e| panic!("{e}"))
                })
                .collect();
            assert_eq!(items.len(), 16);
            items
        });
    });
    group.bench_function("eddy", |b| {
        b.iter(|| {
            p = (p + 31) % (ITEMS / 16);
            let page = db
                .query(TABLE, &Query::new(format!("user#{p:08}")))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(page.items.len(), 16);
            page
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = reads
}
criterion_main!(benches);
