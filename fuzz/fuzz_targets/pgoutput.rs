//! One pgoutput message (what a logical replication slot sends after the `w` header):
//! decoding must return a message or an error, never panic, hang or allocate unboundedly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice::source::postgres::decode_pgoutput(bytes::Bytes::copy_from_slice(data));
});
