//! A binlog file (magic, format description, events), as `sluice replay` reads it: parsing
//! and decoding every rows event must end in events or a clean error. Every event's CRC32 is
//! recomputed first, so mutations reach the event parsers instead of stopping at the
//! checksum (the seeds are checksummed; for inputs without checksums this only garbles the
//! last 4 bytes of each event, which is fuzzing too).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Rewrite each event's trailing 4-byte CRC32 over the event's other bytes.
fn fix_checksums(data: &mut [u8]) {
    let mut at = 4;
    while let Some(size) = data.get(at + 9..at + 13) {
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
        if size < 23 || at + size > data.len() {
            break;
        }
        let crc = crc32fast::hash(&data[at..at + size - 4]);
        data[at + size - 4..at + size].copy_from_slice(&crc.to_le_bytes());
        at += size;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut data = data.to_vec();
    fix_checksums(&mut data);
    if let Ok(binlog) = sluice::source::mysql::RecordedBinlog::parse("fuzz", &data) {
        let _ = binlog.decode(&mut Vec::new());
    }
});
