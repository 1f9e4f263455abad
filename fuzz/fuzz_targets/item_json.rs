//! DynamoDB JSON item parsing: never panics; what parses re-encodes to JSON
//! that parses to the same item. `crates/eddy-model/tests/fuzz_corpus.rs`
//! replays the corpus through the same checks.
#![no_main]

use eddy_model::Item;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(item) = Item::from_json_str(text) {
        let again = Item::from_json_str(&item.to_json_string()).expect("re-encoded item parses");
        assert_eq!(again, item);
    }
});
