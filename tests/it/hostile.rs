//! Outside bytes that once made a decoder panic, abort, stall or bloat (issue 15), and the
//! fuzzers' seed corpora: every input of `fuzz/regressions/` and `fuzz/corpus/` goes through
//! the same entry points the fuzz targets use (`fuzz/fuzz_targets/`), here in the normal
//! suite and again in a child process under a virtual-memory limit, where an allocation of
//! a claimed size would fail and abort the child.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sluice::config::DecimalFormat;
use sluice::event::{DocAction, Origin};
use sluice::source::changelog::debezium::SchemaCache;
use sluice::source::changelog::debezium::{decode, DecodeOptions, Skip};
use sluice::source::mysql::{MySourceError, RecordedBinlog};

fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "py"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read input"))
        })
        .collect()
}

fn binlog(data: &[u8]) -> Result<usize, MySourceError> {
    let parsed = RecordedBinlog::parse("hostile", data)?;
    let mut out = Vec::new();
    parsed.decode(&mut out)?;
    Ok(out.len())
}

/// The fuzz target's framing: key length (2 bytes LE; 0: no key), key, value (empty:
/// tombstone).
fn sink(data: &[u8]) -> Vec<Result<DocAction, Skip>> {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return Vec::new();
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (key, value) = rest.split_at(len);
    let key = (!key.is_empty()).then_some(key);
    let origin = Origin {
        topic: Arc::from("hostile"),
        partition: 0,
        offset: 0,
    };
    let mut cache = SchemaCache::default();
    [DecimalFormat::Number, DecimalFormat::String]
        .into_iter()
        .map(|decimal_format| {
            let opts = DecodeOptions {
                decimal_format,
                ..DecodeOptions::default()
            };
            let value = (!value.is_empty()).then_some(value);
            decode(origin.clone(), key, value, &opts, &mut cache).map(|c| c.action)
        })
        .collect()
}

fn pgoutput(data: &[u8]) -> bool {
    sluice::source::postgres::decode_pgoutput(bytes::Bytes::copy_from_slice(data)).is_ok()
}

/// Each crafted input gives the clean result it should.
#[test]
fn regressions_are_clean_results() {
    for (name, data) in inputs("regressions", "binlog_file") {
        let started = std::time::Instant::now();
        let r = binlog(&data);
        // Not a speed measurement: a guard against work that grows with what the input
        // claims (the shared-string JSON took 1.2-2.8 s and 386 MB before it was bounded).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{name}: {:?}",
            started.elapsed()
        );
        let expect_ok = name.starts_with("previous-gtids");
        match (&r, expect_ok) {
            (Ok(_), true) => {}
            (Err(MySourceError::Decode { reason, .. }), false) => {
                let wanted = if name.starts_with("transaction-payload") {
                    "compressed"
                } else if name.starts_with("table-map") {
                    "68719476736 labels"
                } else if name.starts_with("json-") {
                    "expand past the event's"
                } else {
                    "truncated"
                };
                assert!(reason.contains(wanted), "{name}: {reason}");
            }
            _ => panic!("{name}: {r:?}"),
        }
    }
    for (name, data) in inputs("regressions", "sink_record") {
        for r in sink(&data) {
            let text = match &r {
                Ok(DocAction::Upsert(d)) => d.as_str().to_string(),
                other => format!("{other:?}"),
            };
            if name == "time-negative-838h" {
                assert!(text.contains(r#""v":"-838:59:59""#), "{name}: {text}");
            } else if name == "decimal-60000-bytes" {
                assert!(matches!(r, Ok(DocAction::Upsert(_))), "{name}: {text:.200}");
            } else if name.starts_with("timestamp-") || name.starts_with("nanotimestamp-") {
                // Instants at the ends of 64 bits are exact (Java's Instant agrees).
                let want = match name.as_str() {
                    "timestamp-max" => "+294247-01-10T04:00:54.775807Z",
                    "timestamp-min" => "-290308-12-21T19:59:05.224192Z",
                    "nanotimestamp-max" => "2262-04-11T23:47:16.854775Z",
                    _ => "1677-09-21T00:12:43.145225Z",
                };
                assert!(text.contains(want), "{name}: {text}");
            } else {
                // Out of range or absurd: a poison record naming the column, never its value.
                match &r {
                    Err(Skip::Poison(m)) => assert!(m.len() < 500, "{name}: {m:.300}"),
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
    }
}

/// Every seed decodes without a panic: real pgoutput messages, a real MariaDB binlog, the
/// recorded Debezium records (which the sink applies).
#[test]
fn seed_corpora_decode() {
    let pg = inputs("corpus", "pgoutput");
    let decoded = pg.iter().filter(|(_, d)| pgoutput(d)).count();
    assert_eq!(decoded, pg.len(), "every recorded pgoutput message decodes");
    for (name, data) in inputs("corpus", "binlog_file") {
        let n = binlog(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(n > 0, "{name}");
    }
    for (name, data) in inputs("corpus", "sink_record") {
        for r in sink(&data) {
            assert!(
                matches!(r, Ok(_) | Err(Skip::Ignored(_))),
                "{name}: a recorded Debezium record applies: {r:?}"
            );
        }
    }
}

/// Runs in the child only (see below).
#[test]
#[ignore = "run by decoders_stay_within_a_memory_limit in a child process"]
fn child_decodes_everything() {
    if std::env::var_os("SLUICE_HOSTILE_CHILD").is_none() {
        return;
    }
    for kind in ["regressions", "corpus"] {
        for (_, data) in inputs(kind, "binlog_file") {
            let _ = binlog(&data);
            // Cut and flipped versions too: every prefix of each crafted input.
            if kind == "regressions" {
                for cut in (0..data.len()).step_by(7) {
                    let _ = binlog(&data[..cut]);
                }
            }
        }
        for (_, data) in inputs(kind, "sink_record") {
            let _ = sink(&data);
        }
    }
    for (_, data) in inputs("corpus", "pgoutput") {
        for cut in 0..data.len() {
            let _ = pgoutput(&data[..cut]);
        }
    }
}

/// The decoders under `ulimit -v` (1 GiB): an input that makes one allocate what it claims
/// (a 1.6 TB label list, a 4.6 EB GTID set) aborts the child, which this test reports.
#[test]
fn decoders_stay_within_a_memory_limit() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" "$@""#)
        .arg(&exe)
        .args([
            "hostile::child_decodes_everything",
            "--exact",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("SLUICE_HOSTILE_CHILD", "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child under a 1 GiB limit: {:?}\n{stdout}\n{stderr:.2000}",
        out.status
    );
}

/// A 1 MB record of thirteen maximal decimals (61 kB each: PostgreSQL's largest `numeric`)
/// decodes, in both decimal formats, with work that grows with the record, not its square
/// (issue 22: the old conversion took 4.8 s on such a record). Not a speed measurement: the
/// bound is loose enough for a loaded debug build and far below the quadratic cost.
#[test]
fn a_megabyte_of_maximal_decimals_decodes_quickly() {
    use base64::Engine;
    let digits = base64::engine::general_purpose::STANDARD.encode(
        std::iter::once(0x7f_u8)
            .chain(std::iter::repeat_n(0xff, 61_000))
            .collect::<Vec<u8>>(),
    );
    let fields: Vec<serde_json::Value> = (0..13)
        .map(|i| {
            serde_json::json!({"type": "bytes", "optional": true, "field": format!("v{i}"),
                "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "16383"}})
        })
        .collect();
    let mut after = serde_json::Map::new();
    after.insert("id".into(), 1.into());
    for i in 0..13 {
        after.insert(format!("v{i}"), digits.clone().into());
    }
    let mut schema_fields =
        vec![serde_json::json!({"type": "int32", "optional": false, "field": "id"})];
    schema_fields.extend(fields);
    let value = serde_json::json!({
        "schema": {"type": "struct", "fields": [
            {"type": "struct", "optional": true, "field": "after", "fields": schema_fields},
            {"type": "string", "optional": false, "field": "op"}]},
        "payload": {"op": "c", "after": after},
    })
    .to_string();
    assert!(value.len() > 1_000_000, "{}", value.len());
    let key = br#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"}]},"payload":{"id":1}}"#;
    let mut data = (key.len() as u16).to_le_bytes().to_vec();
    data.extend_from_slice(key);
    data.extend_from_slice(value.as_bytes());
    let started = std::time::Instant::now();
    for r in sink(&data) {
        match r {
            Ok(DocAction::Upsert(d)) => assert!(d.as_str().len() > 13 * 146_000),
            other => panic!("{other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    eprintln!("two decodes of a {} byte record: {took:?}", data.len());
}
