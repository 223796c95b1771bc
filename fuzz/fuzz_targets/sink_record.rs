//! One change-topic record as a sink connector reads it: the input is the key's length (2
//! bytes, little-endian; 0: no key), the key, then the value (a tombstone when empty). Decoding must
//! end in a document change or a skip, in time linear in the record.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sluice::config::DecimalFormat;
use sluice::event::Origin;
use sluice::source::changelog::debezium::{decode, DecodeOptions, SchemaCache};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (key, value) = rest.split_at(len);
    let key = (!key.is_empty()).then_some(key);
    let origin = Origin {
        topic: Arc::from("fuzz"),
        partition: 0,
        offset: 0,
    };
    let mut cache = SchemaCache::default();
    for decimal_format in [DecimalFormat::Number, DecimalFormat::String] {
        let opts = DecodeOptions {
            decimal_format,
            ..DecodeOptions::default()
        };
        let value = (!value.is_empty()).then_some(value);
        let _ = decode(origin.clone(), key, value, &opts, &mut cache);
    }
});
