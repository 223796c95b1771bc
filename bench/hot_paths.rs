//! In-process hot paths, events/s per core: pgoutput decode, MariaDB binlog row decode (a
//! recorded file: 200 inserts, 50 updates, 20 deletes of the bench shape), Debezium JSON
//! encoding (schemas off and on, including the primary-key record key), and the sink-side
//! Debezium decoder, and the MariaDB drain with a null sink (the recorded file decoded and
//! encoded with the defaults, the records dropped), and the PostgreSQL snapshot with a null sink
//! (COPY text lines of the bench table turned into events and encoded).
//! Run with `cargo bench --bench hot_paths`.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice::envelope::{EnvelopeEncoder, EnvelopeOptions, Record, SourceKind};
use sluice::event::{
    ChangeEvent, Column, ColumnType, DocChange, Lsn, Op, Origin, Position, SnapshotMarker, TableId,
    TableSchema, Value,
};
use sluice::source::changelog::debezium::{decode, DecodeOptions, SchemaCache};
use sluice::source::mysql::RecordedBinlog;
use sluice::source::postgres::{decode_pgoutput, CopyText};

fn insert_message() -> Bytes {
    let vals = [
        "123456",
        "42",
        "c4ca4238a0b923820dcc509a6f75849bc81e728d9d4c2f636f067f89cc14862c",
        "2024-02-29 13:45:56.123456+00",
        "1234.56",
        "{\"k\": 1, \"tag\": \"abc\", \"list\": [1, 2, 3], \"flag\": true}",
    ];
    let mut b = vec![b'I'];
    b.extend_from_slice(&16400u32.to_be_bytes());
    b.push(b'N');
    b.extend_from_slice(&(vals.len() as u16).to_be_bytes());
    for v in vals {
        b.push(b't');
        b.extend_from_slice(&(v.len() as u32).to_be_bytes());
        b.extend_from_slice(v.as_bytes());
    }
    Bytes::from(b)
}

fn event() -> ChangeEvent {
    let col = |name: &str, ty: ColumnType| Column {
        name: name.into(),
        ty,
        nullable: name != "id",
        default: None,
    };
    let schema = Arc::new(TableSchema {
        table: TableId::new("public", "bench"),
        columns: vec![
            col("id", ColumnType::Int64),
            col("a", ColumnType::Int32),
            col("b", ColumnType::String),
            col("c", ColumnType::ZonedTimestamp { fraction_digits: 6 }),
            col(
                "d",
                ColumnType::Decimal {
                    precision: Some(12),
                    scale: 2,
                },
            ),
            col("e", ColumnType::Json),
        ],
        key_columns: vec![0],
        version: 1,
    });
    ChangeEvent::new(
        Op::Create,
        schema,
        None,
        Some(vec![
            Value::Int(123_456),
            Value::Int(42),
            Value::String(
                "c4ca4238a0b923820dcc509a6f75849bc81e728d9d4c2f636f067f89cc14862c".into(),
            ),
            Value::Timestamp(1_709_214_356_123_456),
            Value::Decimal {
                unscaled: "123456".into(),
                scale: 2,
            },
            Value::Json("{\"k\": 1, \"tag\": \"abc\", \"list\": [1, 2, 3], \"flag\": true}".into()),
        ]),
        Position::Postgres {
            db: "bench".into(),
            lsn: Lsn(0x1_0000_0000),
            tx_id: Some(7),
            last_commit_lsn: None,
        },
        1_709_214_356_123_456,
    )
    .expect("valid event")
}

/// `n` COPY text lines as PostgreSQL writes the bench table's rows (`bench/harness.rs`).
fn copy_lines(n: u64) -> Vec<Vec<u8>> {
    // Hex digits that look like md5 output (their exact values do not matter).
    let hex = |g: u64| {
        (0..32)
            .map(|i| {
                let x = g.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i * 7) & 0xf;
                char::from_digit(x as u32, 16).unwrap_or('0')
            })
            .collect::<String>()
    };
    (1..=n)
        .map(|g| {
            format!(
                "{g}\t{}\t{}{}xxxxxxxxxxxxxxxxx\t2026-12-07 08:05:12.039908+00\t{}.{:02}\t{{\"k\": {g}, \"tag\": \"{}\", \"flag\": true, \"list\": [1, 2, 3]}}",
                g % 1000,
                hex(g),
                hex(g + 1),
                (g % 100_000) / 100,
                g % 100,
                hex(g)
            )
            .into_bytes()
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let msg = insert_message();
    let mut g = c.benchmark_group("hot_paths");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pgoutput_decode_insert", |b| {
        b.iter(|| decode_pgoutput(msg.clone()).expect("decodes"))
    });
    let rec = RecordedBinlog::parse(
        "mysql-bin.000003",
        include_bytes!("fixtures/mariadb-10.11-rows.binlog"),
    )
    .expect("fixture parses");
    let mut events = Vec::new();
    rec.decode(&mut events).expect("fixture decodes");
    let row_changes = events.len() as u64;
    g.throughput(Throughput::Elements(row_changes));
    g.bench_function("binlog_rows_decode_mariadb", |b| {
        b.iter(|| {
            events.clear();
            rec.decode(&mut events).expect("decodes");
        })
    });
    // The drain with a null sink: what sluice alone spends per row change (decode, convert,
    // encode with the defaults, schemas on), with the records dropped instead of produced.
    let mut enc = EnvelopeEncoder::new(EnvelopeOptions::new(
        "bench".into(),
        true,
        sluice::envelope::SourceOutput::new(SourceKind::Mysql),
    ));
    let mut records: Vec<Record> = Vec::with_capacity(2 * events.len());
    events.clear();
    rec.decode(&mut events).expect("decodes");
    for ev in &events {
        enc.encode(ev, &mut records);
    }
    let bytes: usize = records
        .iter()
        .map(|r| r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len))
        .sum();
    eprintln!(
        "MariaDB drain records (schemas on): {} records, {} bytes each on average",
        records.len(),
        bytes / records.len().max(1)
    );
    g.bench_function("maria_drain_null_sink", |b| {
        b.iter(|| {
            events.clear();
            rec.decode(&mut events).expect("decodes");
            // One processing time per batch, as the Kafka sink sets it.
            enc.set_now(Some(1_765_000_000_000_000_000));
            // As the Kafka sink does once the producer has copied them.
            for r in records.drain(..) {
                enc.recycle(r);
            }
            for ev in &events {
                enc.encode(ev, &mut records);
            }
        })
    });
    // The PostgreSQL snapshot with a null sink: COPY text lines of the bench table's shape
    // (`bench/harness.rs` SHAPE and ROW) turned into events and encoded with the defaults.
    let copy = CopyText::new(
        TableId::new("public", "snap"),
        &[
            ("id".into(), 20, -1),
            ("a".into(), 23, -1),
            ("b".into(), 25, -1),
            ("c".into(), 1184, -1),
            // numeric(12,2): (precision << 16 | scale) + 4
            ("d".into(), 1700, (12 << 16 | 2) + 4),
            ("e".into(), 3802, -1),
        ],
        vec![0],
        Position::Postgres {
            db: "bench".into(),
            lsn: Lsn(0x1_0000_0000),
            tx_id: None,
            last_commit_lsn: None,
        },
    );
    let lines = copy_lines(1000);
    let mut enc = EnvelopeEncoder::new(EnvelopeOptions::new(
        "bench".into(),
        true,
        sluice::envelope::SourceOutput::new(SourceKind::Postgres),
    ));
    let mut records: Vec<Record> = Vec::with_capacity(lines.len());
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("pg_snapshot_null_sink", |b| {
        b.iter(|| {
            for r in records.drain(..) {
                enc.recycle(r);
            }
            enc.set_now(Some(1_765_000_000_000_000_000));
            for line in &lines {
                let mut ev = copy.event(line, 1_709_214_356_123_456).expect("converts");
                // The snapshot's emitter marks every read (so they share one `source` block).
                ev.snapshot = Some(SnapshotMarker::True);
                enc.encode(&ev, &mut records);
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    let ev = event();
    for schemas_enable in [false, true] {
        let mut enc = EnvelopeEncoder::new(EnvelopeOptions::new(
            "bench".into(),
            schemas_enable,
            sluice::envelope::SourceOutput::new(SourceKind::Postgres),
        ));
        let mut out: Vec<Record> = Vec::with_capacity(2);
        g.bench_function(format!("envelope_encode_schemas_{schemas_enable}"), |b| {
            b.iter(|| {
                out.clear();
                enc.encode(&ev, &mut out);
            })
        });
    }
    // Avro keys and values as the sink writes them: straight from the event (the sink then
    // only puts the registered schema id into bytes 1..5).
    {
        let mut opts = EnvelopeOptions::new(
            "bench".into(),
            false,
            sluice::envelope::SourceOutput::new(SourceKind::Postgres),
        );
        opts.avro = sluice::envelope::AvroParts {
            key: true,
            value: true,
        };
        let mut enc = EnvelopeEncoder::new(opts);
        let mut out: Vec<Record> = Vec::with_capacity(2);
        enc.encode(&ev, &mut out);
        assert!(
            matches!(out[0].form, sluice::envelope::Form::Final { .. }),
            "written straight as Avro"
        );
        let size =
            |r: &Record| r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len);
        let avro_len = size(&out[0]);
        let mut plain = EnvelopeEncoder::new(EnvelopeOptions::new(
            "bench".into(),
            false,
            sluice::envelope::SourceOutput::new(SourceKind::Postgres),
        ));
        let mut p = Vec::new();
        plain.encode(&ev, &mut p);
        let plain_len = size(&p[0]);
        eprintln!(
            "record sizes (key + value): Avro {avro_len} bytes, JSON without schemas {plain_len} bytes (Avro = {:.0}% of JSON)",
            100.0 * avro_len as f64 / plain_len.max(1) as f64
        );
        g.bench_function("envelope_encode_avro", |b| {
            b.iter(|| {
                out.clear();
                enc.encode(&ev, &mut out);
            })
        });
    }
    let mut enc = EnvelopeEncoder::new(EnvelopeOptions::new(
        "bench".into(),
        true,
        sluice::envelope::SourceOutput::new(SourceKind::Postgres),
    ));
    let mut recs = Vec::new();
    enc.encode(&ev, &mut recs);
    let (key, value) = (recs[0].key.clone(), recs[0].value.clone());
    let opts = DecodeOptions::default();
    let mut cache = SchemaCache::default();
    g.bench_function("sink_decode_debezium_schemas_true", |b| {
        b.iter(|| {
            let o = Origin {
                topic: Arc::from("bench.public.bench"),
                partition: 0,
                offset: 1,
            };
            let c: DocChange =
                decode(o, key.as_deref(), value.as_deref(), &opts, &mut cache).expect("decodes");
            c
        })
    });
    g.finish();
}

criterion_group!(hot, benches);
criterion_main!(hot);
