//! The binary codec's decoders (items, changes, tables, destinations):
//! never panic on arbitrary bytes; what decodes re-encodes and decodes to
//! the same value. `crates/eddy-model/tests/fuzz_corpus.rs` replays the
//! corpus through the same checks.
#![no_main]

use eddy_model::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = codec::decode_item(data) {
        assert_eq!(codec::decode_item(&codec::encode_item(&item)).ok(), Some(item));
    }
    if let Ok(change) = codec::decode_change(data) {
        assert_eq!(codec::decode_change(&codec::encode_change(&change)).ok(), Some(change));
    }
    if let Ok(table) = codec::decode_table(data) {
        assert_eq!(codec::decode_table(&codec::encode_table(&table)).ok(), Some(table));
    }
    let _ = codec::decode_destination(data);
});
