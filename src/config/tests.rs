//! Config parsing and validation: errors name the field and the fix.

use super::*;

const GOOD: &str = r#"
service:
  http_listen_addr: 127.0.0.1:9000
connectors:
  inv:
    source:
      type: postgres
      host: 127.0.0.1
      user: sluice
      password: ${PGPW}
      database: app
      tables: [public.customers, '"Odd"."Name.x"']
    sink:
      type: kafka
      bootstrap_servers: 127.0.0.1:9092
"#;

fn parse_str(s: &str) -> Result<Settings, ConfigError> {
    parse(s, "test.yaml", |k| {
        (k == "PGPW").then(|| "s3cret".to_string())
    })
}

/// A good file parses, defaults apply, and the secret stays out of Debug output.
#[test]
fn good_config() {
    let s = parse_str(GOOD).expect("parses");
    s.validate().expect("valid");
    let c = &s.connectors["inv"];
    let SourceSettings::Postgres(pg) = &c.source else {
        panic!("postgres source expected");
    };
    assert_eq!(pg.slot_name("inv"), "sluice_inv");
    assert_eq!(pg.publication_name("inv"), "sluice_inv");
    assert_eq!(pg.port, 5432);
    assert_eq!(pg.snapshot_mode, SnapshotMode::Initial);
    assert!(!format!("{s:?}").contains("s3cret"));
    assert_eq!(
        parse_table_name(&pg.tables[1]),
        Some(("Odd".to_string(), "Name.x".to_string()))
    );
}

/// A misspelled field is rejected with its full path.
#[test]
fn unknown_field_has_path() {
    let bad = GOOD.replace("database: app", "database: app\n      slot_nmae: x");
    let err = parse_str(&bad).expect_err("unknown field");
    let msg = err.to_string();
    assert!(msg.contains("connectors.inv.source"), "{msg}");
    assert!(msg.contains("slot_nmae"), "{msg}");
}

/// A wrongly typed value names the field.
#[test]
fn wrong_type_has_path() {
    let bad = GOOD.replace("host: 127.0.0.1", "host: 127.0.0.1\n      port: many");
    let msg = parse_str(&bad).expect_err("bad port").to_string();
    assert!(msg.contains("connectors.inv.source.port"), "{msg}");
}

/// A missing environment variable is named.
#[test]
fn missing_env_var() {
    let msg = parse(GOOD, "t.yaml", |_| None)
        .expect_err("unset")
        .to_string();
    assert!(msg.contains("PGPW"), "{msg}");
}

/// Semantic errors carry the field and a fix.
#[test]
fn validation_errors() {
    let bad = GOOD.replace("public.customers", "customers");
    let err = parse_str(&bad)
        .expect("parses")
        .validate()
        .expect_err("bad table");
    let msg = err.to_string();
    assert!(
        msg.contains("connectors.inv.source.tables[0]") && msg.contains("fix:"),
        "{msg}"
    );

    let bad = GOOD.replace(
        "bootstrap_servers: 127.0.0.1:9092",
        "bootstrap_servers: x\n      properties: {acks: '1'}",
    );
    let msg = parse_str(&bad)
        .expect("parses")
        .validate()
        .expect_err("reserved")
        .to_string();
    assert!(msg.contains("sink.properties.acks"), "{msg}");

    let bad = GOOD.replace("type: kafka", "type: kafak");
    let msg = parse_str(&bad).expect_err("bad variant").to_string();
    assert!(
        msg.contains("connectors.inv.sink") && msg.contains("kafka"),
        "{msg}"
    );
}

/// `key_columns` and `topic_config` are checked before connecting, each error naming its
/// field path and the bad value.
#[test]
fn key_columns_and_topic_config_validated() {
    let with = |source_extra: &str, sink_extra: &str| {
        let text = GOOD
            .replace(
                "      tables: [public.customers, '\"Odd\".\"Name.x\"']\n",
                &format!("      tables: [public.customers, '\"Odd\".\"Name.x\"']\n{source_extra}"),
            )
            .replace(
                "      bootstrap_servers: 127.0.0.1:9092\n",
                &format!("      bootstrap_servers: 127.0.0.1:9092\n{sink_extra}"),
            );
        parse_str(&text).expect("parses").validate()
    };
    with(
        "      key_columns:\n        public.customers: [email]\n",
        "      topic_config:\n        \"*\": {min.insync.replicas: \"2\"}\n        public.customers: {cleanup.policy: delete}\n",
    )
    .expect("valid");
    let err = |r: Result<(), ConfigError>| r.expect_err("invalid").to_string();
    let e = err(with("      key_columns:\n        public.other: [a]\n", ""));
    assert!(
        e.contains("connectors.inv.source.key_columns.public.other") && e.contains("public.other"),
        "{e}"
    );
    let e = err(with(
        "      key_columns:\n        public.customers: []\n",
        "",
    ));
    assert!(e.contains("at least one column"), "{e}");
    let e = err(with(
        "      key_columns:\n        public.customers: [a, a]\n",
        "",
    ));
    assert!(e.contains("listed twice"), "{e}");
    let e = err(with(
        "",
        "      topic_config:\n        public.nope: {retention.ms: \"1\"}\n",
    ));
    assert!(e.contains("sink.topic_config.public.nope"), "{e}");
    let e = err(with(
        "",
        "      topic_config:\n        \"*\": {cleanup.policy: compacted}\n",
    ));
    assert!(
        e.contains("cleanup.policy") && e.contains("compacted"),
        "{e}"
    );
}

/// Debezium's value options: op codes, column lists (regex, not both), mode names.
#[test]
fn output_options_validated() {
    let with = |source_extra: &str| {
        let text = GOOD.replace(
            "      tables: [public.customers, '\"Odd\".\"Name.x\"']\n",
            &format!("      tables: [public.customers, '\"Odd\".\"Name.x\"']\n{source_extra}"),
        );
        parse_str(&text).and_then(|c| c.validate().map(|()| c))
    };
    with("      skipped_operations: [u, t]\n      column_exclude_list: [\"public\\\\.customers\\\\.email\"]\n      decimal_handling_mode: string\n      binary_handling_mode: base64-url-safe\n      time_precision_mode: connect\n      tombstones_on_delete: false\n")
        .expect("valid");
    let err = |r: Result<_, ConfigError>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let e = err(with("      skipped_operations: [x]\n"));
    assert!(
        e.contains("source.skipped_operations[0]") && e.contains("`x`"),
        "{e}"
    );
    let e = err(with("      column_exclude_list: [\"(\"]\n"));
    assert!(
        e.contains("source.column_exclude_list[0]") && e.contains("regular expression"),
        "{e}"
    );
    let e = err(with(
        "      column_include_list: [a]\n      column_exclude_list: [b]\n",
    ));
    assert!(
        e.contains("column_exclude_list") && e.contains("one of the two"),
        "{e}"
    );
    let e = err(with("      decimal_handling_mode: exact\n"));
    assert!(
        e.contains("decimal_handling_mode") && e.contains("precise"),
        "{e}"
    );
}

/// The table of operator mistakes (issue: config mistakes caught with their field): each
/// edit of the good file gives an error naming the field, the bad value and what is
/// accepted.
#[test]
fn mistakes_table() {
    let src = "tables: [public.customers, '\"Odd\".\"Name.x\"']";
    let sink = "bootstrap_servers: 127.0.0.1:9092";
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // (replace, with, field, words the message must hold)
        (src, "tables: [public.c]\n      emit_truncate: yes", "source.emit_truncate", &["\"yes\"", "boolean"]),
        (src, "tables: [public.c]\n      port: 0", "source.port", &["0 is not a port", "65535"]),
        (src, "tables: [public.c]\n      snapshot_mode: when_needed", "source.snapshot_mode", &["`when_needed`", "initial, no_data, initial_only"]),
        (src, "tables: [public.c]\n      tls: {mode: verify-full}", "source.tls.mode", &["`verify-full`", "verify_full"]),
        (src, "tables: [public.c]\n      decimal_handling_mode: exact", "source.decimal_handling_mode", &["`exact`", "precise, double, string"]),
        (src, "tables: [public.c]\n      failover_hosts: [standby]", "source.failover_hosts[0]", &["`standby` is not host:port"]),
        (src, "tables: [public.c]\n      in_progress_memory_bytes: 10", "source.in_progress_memory_bytes", &["10 is below the minimum 1024"]),
        (src, "tables: [public.c]\n      spill_dir: ''", "source.spill_dir", &["is empty", "temporary directory"]),
        (src, "tables: [public.c]\n      logical_decoding_work_mem_kb: 10", "source.logical_decoding_work_mem_kb", &["10 is outside 64 to 2147483647"]),
        (src, "tables: [public.c]\n      publication_filter: {public.c: 'a = 1; drop table c'}", "source.publication_filter.public.c", &["without `;`"]),
        (src, "tables: [public.c]\n      origin: local", "source.origin", &["`local`", "any, none"]),
        (src, "tables: [public.c]\n      stream_in_progress: sometimes", "source.stream_in_progress", &["\"sometimes\"", "boolean"]),
        (sink, "bootstrap_servers: b:9092\n      sasl: {mechanism: SCRAM_SHA_256, username: u, password: p}", "sink.sasl.mechanism", &["`SCRAM_SHA_256`", "SCRAM-SHA-256"]),
        (sink, "bootstrap_servers: b:9092\n      properties: {request.required.acks: '1'}", "sink.properties.request.required.acks", &["set by sluice"]),
        (sink, "bootstrap_servers: b:9092\n      properties: {metadata.broker.list: x}", "sink.properties.metadata.broker.list", &["set by sluice"]),
        (sink, "bootstrap_servers: b:9092\n      topic_partitions: 0", "sink.topic_partitions", &["at least 1"]),
        ("  inv:\n", "  inv:\n    max_batch_bytes: 0\n", "max_batch_bytes", &["0 is below the minimum 1024"]),
        ("  inv:\n", "  inv:\n    queue_batches: 0\n", "queue_batches", &["0 is below the minimum 1"]),
        ("  inv:\n", "  inv:\n    max_batch_events: 0\n", "max_batch_events", &["0 is below the minimum 1"]),
        ("127.0.0.1:9000", "localhost", "service.http_listen_addr", &["`localhost` is not host:port"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  http_auth_token: \"\"", "service.http_auth_token", &["empty or whitespace-only", "remove the field"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  http_auth_token: '   '", "service.http_auth_token", &["empty or whitespace-only"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  http_auth_token: ' ab'", "service.http_auth_token", &["leading or trailing"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: zookeeper}", "service.offsets.store", &["`zookeeper`", "file, kafka"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka, topic: 'a b'}", "service.offsets.topic", &["`a b`", "topic name"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka, partitions: 3}", "service.offsets", &["partitions"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  cluster: {group_id: g, bootstrap_servers: 'b:9092'}", "service.cluster", &["offsets.store is file", "store: kafka"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka}\n  cluster: {group_id: ' ', bootstrap_servers: 'b:9092'}", "service.cluster.group_id", &["is empty"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka}\n  cluster: {group_id: g, bootstrap_servers: 'b:9092', session_timeout_ms: 10}", "service.cluster.session_timeout_ms", &["10 is out of range", "group.min.session.timeout.ms"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka}\n  cluster: {group_id: g, bootstrap_servers: 'b:9092', lease_topic: 'x y'}", "service.cluster.lease_topic", &["`x y`", "topic name"]),
        ("127.0.0.1:9000", "127.0.0.1:9000\n  offsets: {store: kafka}\n  cluster: {group_id: g, bootstrap_servers: 'b:9092', leader: w1}", "service.cluster", &["leader"]),
        (src, "tables: [public.c]\n      signal_kafka_topic: 'a b'", "source.signal_kafka_topic", &["`a b`", "topic name"]),
        (sink, "bootstrap_servers: b:9092\n      value_format: avro", "sink.schema_registry", &["is missing", "value_format is avro"]),
        (sink, "bootstrap_servers: b:9092\n      value_format: protobuf", "sink.value_format", &["`protobuf`", "json, avro"]),
        (sink, "bootstrap_servers: b:9092\n      key_format: avro\n      schema_registry: {url: 'localhost:8081'}", "sink.schema_registry.url", &["`localhost:8081`", "http(s) URL"]),
        (sink, "bootstrap_servers: b:9092\n      value_format: avro\n      schema_registry: {url: 'http://r:8081', subject_name_strategy: topicname}", "sink.schema_registry.subject_name_strategy", &["`topicname`", "topic, record, topic_record"]),
        (sink, "bootstrap_servers: b:9092\n      value_format: avro\n      schema_registry: {url: 'http://r:8081', password: x}", "sink.schema_registry.password", &["without a username"]),
        (sink, "bootstrap_servers: b:9092\n      transactional_id: t1", "sink.transactional_id", &["`t1`", "transactions is false"]),
        (sink, "bootstrap_servers: b:9092\n      properties: {transactional.id: x}", "sink.properties.transactional.id", &["set by sluice", "transactional_id"]),
        (sink, "bootstrap_servers: b:9092\n      transaction_interval_ms: 0", "sink.transaction_interval_ms", &["0 is out of range", "1 to 60000"]),
    ];
    for (from, to, field, words) in cases {
        assert!(
            GOOD.contains(from),
            "case {field}: {from} not in the good file"
        );
        let text = GOOD.replacen(from, to, 1);
        let err = match parse_str(&text) {
            Err(e) => e,
            Ok(s) => s.validate().expect_err(field),
        };
        let msg = err.to_string();
        let want = if field.starts_with("service") {
            field.to_string()
        } else {
            format!("connectors.inv.{field}")
        };
        assert!(msg.contains(&format!("`{want}`")), "{field}: {msg}");
        for w in *words {
            assert!(msg.contains(w), "{field}: `{w}` not in: {msg}");
        }
    }
    // Rules over two fields or two connectors: TRUNCATE records with Avro keys; two
    // connectors with one transactional id.
    let both = GOOD
        .replacen(src, "tables: [public.c]\n      emit_truncate: true", 1)
        .replacen(sink, "bootstrap_servers: b:9092\n      key_format: avro\n      schema_registry: {url: 'http://r:8081'}", 1);
    let msg = parse_str(&both)
        .expect("parses")
        .validate()
        .expect_err("truncate")
        .to_string();
    assert!(
        msg.contains("`connectors.inv.source.emit_truncate`")
            && msg.contains("sink.key_format is avro"),
        "{msg}"
    );
    let twice = GOOD.replacen(sink, "bootstrap_servers: b:9092\n      transactions: true\n      transactional_id: same", 1)
        + "  inv2:\n    source:\n      type: postgres\n      host: h\n      user: u\n      database: d\n      tables: [public.x]\n    sink:\n      type: kafka\n      bootstrap_servers: b:9092\n      transactions: true\n      transactional_id: same\n";
    let msg = parse_str(&twice)
        .expect("parses")
        .validate()
        .expect_err("same id")
        .to_string();
    assert!(
        msg.contains("transactional_id") && msg.contains("`same`") && msg.contains("fence"),
        "{msg}"
    );
    // Accepted: a host name in the listen address, an unset variable inside a comment.
    let ok = GOOD.replace("127.0.0.1:9000", "localhost:9000") + "# ${NOT_SET_ANYWHERE}\n";
    parse_str(&ok).expect("parses").validate().expect("valid");
    // A topic pattern that is not a regular expression.
    let sink_conn = r#"
connectors:
  apply:
    source:
      type: kafka
      bootstrap_servers: b:9092
      topic_pattern: '^inv\.(unclosed'
    sink:
      type: redis
      url: redis://127.0.0.1:6379
"#;
    let err = parse_str(sink_conn)
        .expect("parses")
        .validate()
        .expect_err("regex");
    let msg = err.to_string();
    assert!(
        msg.contains("`connectors.apply.source.topic_pattern`")
            && msg.contains("not a regular expression"),
        "{msg}"
    );
    // A Redis URL of another scheme; the URL (it may hold a password) is not repeated.
    let bad_url = sink_conn
        .replace("(unclosed", "")
        .replace("redis://127.0.0.1:6379", "http://u:hunter2@127.0.0.1:6379");
    let err = parse_str(&bad_url)
        .expect("parses")
        .validate()
        .expect_err("url");
    let msg = err.to_string();
    assert!(
        msg.contains("`connectors.apply.sink.url`") && !msg.contains("hunter2"),
        "{msg}"
    );
}

/// A missing file and a directory give the OS's reason.
#[test]
fn file_errors_carry_the_cause() {
    let msg = load(Path::new("/nonexistent/sluice.yaml"))
        .expect_err("missing")
        .to_string();
    assert!(msg.contains("No such file"), "{msg}");
    let msg = load(Path::new("/")).expect_err("directory").to_string();
    assert!(msg.contains("directory"), "{msg}");
}

/// Issue 22: a missing field inside `source` names its full path (it printed `source..`);
/// a duplicated connector name or field names its path and line (it printed
/// `String("inv"): duplicated key` alone).
#[test]
fn missing_and_duplicated_fields_name_their_path() {
    let missing = GOOD.replace("      host: 127.0.0.1\n", "");
    let msg = parse_str(&missing).expect_err("missing").to_string();
    assert!(
        msg.contains("`connectors.inv.source.host`") && !msg.contains(".."),
        "{msg}"
    );
    let dup = format!("{GOOD}  inv:\n    source:\n      type: postgres\n");
    let msg = parse_str(&dup).expect_err("dup").to_string();
    assert!(
        msg.contains("`connectors.inv`")
            && msg.contains("appears twice")
            && msg.contains("line 16"),
        "{msg}"
    );
    let dup = GOOD.replace(
        "      user: sluice\n",
        "      user: sluice\n      user: other\n",
    );
    let msg = parse_str(&dup).expect_err("dup").to_string();
    assert!(
        msg.contains("`connectors.inv.source.user`") && msg.contains("line 10"),
        "{msg}"
    );
    assert!(!msg.contains("other"), "values are not repeated: {msg}");
}
