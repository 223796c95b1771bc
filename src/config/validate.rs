//! The rules serde cannot express: [`Settings::validate`], pure (no I/O), every error naming
//! the field path, the bad value and what is accepted.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;

use super::*;

fn invalid(field: String, message: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
        fix: fix.into(),
    }
}

/// Valid PostgreSQL slot names: lowercase letters, digits, underscore.
fn is_slot_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Settings {
    /// Check the rules serde cannot express. Pure: no I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connectors.is_empty() {
            return Err(invalid(
                "connectors".into(),
                "no connector is defined",
                "add at least one entry under `connectors:`",
            ));
        }
        let addr = &self.service.http_listen_addr;
        let host_port = addr.rsplit_once(':').and_then(|(h, p)| {
            let port = p.parse::<u16>().ok()?;
            let h = h.trim_start_matches('[').trim_end_matches(']');
            (!h.is_empty() && !h.contains(char::is_whitespace)).then_some(port)
        });
        if host_port.is_none() {
            return Err(invalid(
                "service.http_listen_addr".into(),
                format!("`{addr}` is not host:port"),
                "write e.g. 127.0.0.1:8083, localhost:8083 or [::1]:8083",
            ));
        }
        let topic = &self.service.offsets.topic;
        if !is_topic_name(topic) {
            return Err(invalid(
                "service.offsets.topic".into(),
                format!("`{topic}` is not a Kafka topic name"),
                "use 1 to 249 of a-z, A-Z, 0-9, `.`, `_`, `-` (default sluice-offsets)",
            ));
        }
        if let Some(c) = &self.service.cluster {
            if self.service.offsets.store != crate::config::OffsetsStoreKind::Kafka {
                return Err(invalid(
                    "service.cluster".into(),
                    "is set, but service.offsets.store is file: a connector that moves to another worker would not find its offsets",
                    "set service.offsets: {store: kafka}",
                ));
            }
            if c.group_id.trim().is_empty() {
                return Err(invalid(
                    "service.cluster.group_id".into(),
                    "is empty",
                    "give the workers' Kafka consumer group, the same on every worker",
                ));
            }
            if c.bootstrap_servers.trim().is_empty() {
                return Err(invalid(
                    "service.cluster.bootstrap_servers".into(),
                    "is empty",
                    "give host:port[,host:port] of the brokers",
                ));
            }
            if !is_topic_name(&c.lease_topic) {
                return Err(invalid(
                    "service.cluster.lease_topic".into(),
                    format!("`{}` is not a Kafka topic name", c.lease_topic),
                    "use 1 to 249 of a-z, A-Z, 0-9, `.`, `_`, `-` (default sluice-leases)",
                ));
            }
            if !(1_000..=300_000).contains(&c.session_timeout_ms) {
                return Err(invalid(
                    "service.cluster.session_timeout_ms".into(),
                    format!("{} is out of range", c.session_timeout_ms),
                    "use 1000 to 300000 (milliseconds; brokers refuse less than their group.min.session.timeout.ms, 6000 by default)",
                ));
            }
            if !(1_000..=600_000).contains(&c.drain_timeout_ms) {
                return Err(invalid(
                    "service.cluster.drain_timeout_ms".into(),
                    format!("{} is out of range", c.drain_timeout_ms),
                    "use 1000 to 600000 (milliseconds)",
                ));
            }
        }
        if let Some(token) = &self.service.http_auth_token {
            let t = token.expose_secret();
            if t.trim().is_empty() {
                // The token itself is never repeated: say only what is wrong with it.
                return Err(invalid(
                    "service.http_auth_token".into(),
                    "an empty or whitespace-only token would refuse every request",
                    "set a token of at least one visible character (e.g. from ${SLUICE_API_TOKEN}), or remove the field for an API without a token",
                ));
            }
            if t.chars().any(char::is_control) || t.trim() != t {
                return Err(invalid(
                    "service.http_auth_token".into(),
                    "the token starts or ends with white space or holds control characters, which HTTP strips or refuses in `Authorization: Bearer <token>`",
                    "use a token of visible characters (no leading or trailing spaces)",
                ));
            }
        }
        for (name, c) in &self.connectors {
            let at = |f: &str| format!("connectors.{name}.{f}");
            if !is_slot_name(name) {
                return Err(invalid(
                    format!("connectors.{name}"),
                    "connector names may only hold lowercase letters, digits and `_`",
                    "rename the connector, e.g. `inventory_pg`",
                ));
            }
            if c.heartbeat_interval_ms != 0 && c.heartbeat_interval_ms < 100 {
                return Err(invalid(
                    at("heartbeat_interval_ms"),
                    format!("{} is below the minimum 100", c.heartbeat_interval_ms),
                    "use 0 (no heartbeats) or at least 100, e.g. 10000",
                ));
            }
            for (field, value, min) in [
                ("max_batch_events", c.max_batch_events, 1),
                ("max_batch_bytes", c.max_batch_bytes, 1024),
                ("queue_batches", c.queue_batches, 1),
            ] {
                if value < min {
                    return Err(invalid(
                        at(field),
                        format!("{value} is below the minimum {min}"),
                        format!("use at least {min}, or remove the field for the default"),
                    ));
                }
            }
            match (&c.source, &c.sink) {
                (SourceSettings::Postgres(_) | SourceSettings::Mysql(_), SinkSettings::Kafka(_))
                | (
                    SourceSettings::Kafka(_),
                    SinkSettings::Search(_) | SinkSettings::Redis(_) | SinkSettings::Memcached(_),
                ) => {}
                _ => {
                    return Err(invalid(
                        at("sink.type"),
                        "this source and sink do not fit together",
                        "pair `source.type: postgres` or `mysql` with `sink.type: kafka`, and `source.type: kafka` with `search`, `redis` or `memcached`",
                    ))
                }
            }
            match &c.source {
                SourceSettings::Kafka(k) => {
                    if k.unavailable_value_placeholder.as_deref() == Some("") {
                        return Err(invalid(
                            at("source.unavailable_value_placeholder"),
                            "an empty placeholder would take every empty string for a value the source did not have",
                            "set the producing connector's placeholder, or remove the field for Debezium's `__debezium_unavailable_value`",
                        ));
                    }
                    if k.topics.is_empty() && k.topic_pattern.is_none() {
                        return Err(invalid(
                            at("source.topics"),
                            "no topic to read",
                            "list `topics` or set `topic_pattern`",
                        ));
                    }
                    if let Some(p) = &k.topic_pattern {
                        if !p.starts_with('^') {
                            return Err(invalid(
                                at("source.topic_pattern"),
                                "a pattern must start with `^` (librdkafka's regex marker)",
                                format!("write `^{p}`"),
                            ));
                        }
                        if let Err(e) = regex::Regex::new(p) {
                            return Err(invalid(
                                at("source.topic_pattern"),
                                format!(
                                    "`{p}` is not a regular expression ({})",
                                    first_line(&e.to_string())
                                ),
                                "fix the expression, e.g. `^inventory\\.public\\..*`",
                            ));
                        }
                    }
                    validate_kafka_client(&at, "source", k.sasl.as_ref(), &k.properties)?;
                }
                SourceSettings::Postgres(pg) => {
                    if pg.port == 0 {
                        return Err(invalid(
                            at("source.port"),
                            "0 is not a port",
                            "use the server's port, 1 to 65535 (PostgreSQL's default is 5432)",
                        ));
                    }
                    validate_patterns(
                        &at,
                        pg.tables.is_empty(),
                        &pg.table_include_list,
                        &pg.table_exclude_list,
                        ("schema.table", "public.customers", "public\\.orders_.*"),
                    )?;
                    for (i, t) in pg.tables.iter().enumerate() {
                        if parse_table_name(t).is_none() {
                            return Err(invalid(
                                at(&format!("source.tables[{i}]")),
                                format!("`{t}` is not of the form schema.table"),
                                "write the table as `schema.table`, e.g. `public.customers`",
                            ));
                        }
                    }
                    for (f, v) in [
                        ("slot_name", &pg.slot_name),
                        ("publication_name", &pg.publication_name),
                    ] {
                        if let Some(v) = v {
                            if !is_slot_name(v) {
                                return Err(invalid(
                                    at(&format!("source.{f}")),
                                    format!("`{v}` is not a valid name"),
                                    "use up to 63 lowercase letters, digits and `_`",
                                ));
                            }
                        }
                    }
                    let patterns =
                        super::TableFilter::new(&pg.table_include_list, &pg.table_exclude_list)
                            .unwrap_or_default();
                    let unlisted: BTreeMap<String, Vec<String>> = pg
                        .key_columns
                        .iter()
                        .filter(|(t, _)| {
                            !parse_table_name(t)
                                .is_some_and(|(ns, n)| patterns.matches(&format!("{ns}.{n}")))
                        })
                        .map(|(t, c)| (t.clone(), c.clone()))
                        .collect();
                    validate_key_columns(&at, &unlisted, &pg.tables)?;
                    for (t, cols) in pg
                        .key_columns
                        .iter()
                        .filter(|(t, _)| !unlisted.contains_key(*t))
                    {
                        if cols.is_empty() || cols.iter().any(|c| c.is_empty()) {
                            return Err(invalid(
                                at(&format!("source.key_columns.{t}")),
                                "needs at least one column name, none of them empty",
                                "write e.g. `public.items: [sku]`",
                            ));
                        }
                    }
                    for (table, cond) in &pg.publication_filter {
                        let field = at(&format!("source.publication_filter.{table}"));
                        if parse_table_name(table).is_none() {
                            return Err(invalid(
                                field,
                                format!("`{table}` is not schema.table"),
                                "write e.g. `public.items: \"region = 'eu'\"`",
                            ));
                        }
                        if cond.trim().is_empty() || cond.contains(';') {
                            return Err(invalid(
                                field,
                                "must be one SQL condition, not empty and without `;`",
                                "write e.g. `public.items: \"region = 'eu'\"`",
                            ));
                        }
                    }
                    validate_skipped(&at, &pg.skipped_operations)?;
                    validate_column_lists(&at, &pg.column_include_list, &pg.column_exclude_list)?;
                    if pg.status_interval_ms == 0 {
                        return Err(invalid(
                            at("source.status_interval_ms"),
                            "must be positive",
                            "use e.g. 1000",
                        ));
                    }
                    if pg.in_progress_memory_bytes < 1024 {
                        return Err(invalid(
                            at("source.in_progress_memory_bytes"),
                            format!("{} is below the minimum 1024", pg.in_progress_memory_bytes),
                            "use e.g. 67108864 (64 MiB, the default)",
                        ));
                    }
                    for (i, h) in pg.failover_hosts.iter().enumerate() {
                        if super::host_port(h).is_none() {
                            return Err(invalid(
                                at(&format!("source.failover_hosts[{i}]")),
                                format!("`{h}` is not host:port"),
                                "write e.g. standby.example.com:5432",
                            ));
                        }
                    }
                    if let Some(kb) = pg.logical_decoding_work_mem_kb {
                        if !(64..=2_147_483_647).contains(&kb) {
                            return Err(invalid(
                                at("source.logical_decoding_work_mem_kb"),
                                format!("{kb} is outside 64 to 2147483647 (the server's range)"),
                                "use e.g. 4096 (4 MB), or leave it out for the server's setting",
                            ));
                        }
                    }
                    if pg
                        .spill_dir
                        .as_ref()
                        .is_some_and(|d| d.as_os_str().is_empty())
                    {
                        return Err(invalid(
                            at("source.spill_dir"),
                            "is empty",
                            "name a directory sluice may write to, or leave it out for the system's temporary directory",
                        ));
                    }
                    if !(1..=16).contains(&pg.snapshot_max_threads) {
                        return Err(invalid(
                            at("source.snapshot_max_threads"),
                            format!("{} is out of range", pg.snapshot_max_threads),
                            "use 1 to 16 connections (default 2)",
                        ));
                    }
                    validate_incremental(
                        &at,
                        pg.snapshot_chunk_size,
                        pg.signal_kafka_topic.as_deref(),
                        pg.signal_data_collection.as_deref(),
                        "schema.table",
                    )?;
                    if pg.snapshot_consistency == super::SnapshotConsistency::Chunked
                        && pg.snapshot_mode == super::SnapshotMode::InitialOnly
                    {
                        return Err(invalid(
                            at("source.snapshot_consistency"),
                            "`chunked` reads while streaming, and `initial_only` does not stream",
                            "use snapshot_consistency: transaction with initial_only, or snapshot_mode: initial",
                        ));
                    }
                }
                SourceSettings::Mysql(my) => {
                    if my.port == 0 {
                        return Err(invalid(
                            at("source.port"),
                            "0 is not a port",
                            "use the server's port, 1 to 65535 (MySQL's default is 3306)",
                        ));
                    }
                    validate_patterns(
                        &at,
                        my.tables.is_empty(),
                        &my.table_include_list,
                        &my.table_exclude_list,
                        (
                            "database.table",
                            "inventory.customers",
                            "inventory\\.orders_.*",
                        ),
                    )?;
                    for (i, t) in my.tables.iter().enumerate() {
                        if parse_table_name(t).is_none() {
                            return Err(invalid(
                                at(&format!("source.tables[{i}]")),
                                format!("`{t}` is not of the form database.table"),
                                "write the table as `database.table`, e.g. `inventory.customers`",
                            ));
                        }
                    }
                    if my.server_id == Some(0) {
                        return Err(invalid(
                            at("source.server_id"),
                            "0 is not a valid replica server id",
                            "choose a number from 1 to 4294967295 that no other replica uses",
                        ));
                    }
                    validate_key_columns(&at, &my.key_columns, &my.tables)?;
                    validate_skipped(&at, &my.skipped_operations)?;
                    validate_column_lists(&at, &my.column_include_list, &my.column_exclude_list)?;
                    if my.heartbeat_interval_ms < 100 {
                        return Err(invalid(
                            at("source.heartbeat_interval_ms"),
                            "must be at least 100",
                            "use e.g. 5000",
                        ));
                    }
                    if my.snapshot_consistency == super::SnapshotConsistency::Chunked
                        && my.snapshot_mode == super::MysqlSnapshotMode::InitialOnly
                    {
                        return Err(invalid(
                            at("source.snapshot_consistency"),
                            "`chunked` reads while streaming, and `initial_only` does not stream",
                            "use snapshot_consistency: transaction with initial_only, or snapshot_mode: initial",
                        ));
                    }
                    if !(1..=16).contains(&my.snapshot_max_threads) {
                        return Err(invalid(
                            at("source.snapshot_max_threads"),
                            format!("{} is out of range", my.snapshot_max_threads),
                            "use 1 to 16 connections (default 1)",
                        ));
                    }
                    validate_incremental(
                        &at,
                        my.snapshot_chunk_size,
                        my.signal_kafka_topic.as_deref(),
                        my.signal_data_collection.as_deref(),
                        "database.table",
                    )?;
                }
            }
            match &c.sink {
                SinkSettings::Search(se) => {
                    if !(se.url.starts_with("http://") || se.url.starts_with("https://")) {
                        return Err(invalid(
                            at("sink.url"),
                            "is not an http(s) URL",
                            "write e.g. http://127.0.0.1:9200",
                        ));
                    }
                }
                SinkSettings::Redis(r) => {
                    let url = r.url.expose_secret();
                    if !(url.starts_with("redis://")
                        || url.starts_with("rediss://")
                        || url.starts_with("unix://"))
                    {
                        // The URL may hold a password: it is not repeated here.
                        return Err(invalid(
                            at("sink.url"),
                            "is not a redis:// URL (the value is not shown: it may hold a password)",
                            "write redis://[user:password@]host:port/db, rediss:// for TLS, or unix:///path",
                        ));
                    }
                }
                SinkSettings::Memcached(m) => {
                    if !m.server.contains(':') {
                        return Err(invalid(
                            at("sink.server"),
                            "is not host:port",
                            "write e.g. 127.0.0.1:11211",
                        ));
                    }
                }
                SinkSettings::Kafka(k) => {
                    if k.bootstrap_servers.trim().is_empty() {
                        return Err(invalid(
                            at("sink.bootstrap_servers"),
                            "is empty",
                            "write host:port of at least one broker",
                        ));
                    }
                    if k.topic_partitions < 1 || k.topic_replication_factor < 1 {
                        return Err(invalid(
                            at("sink.topic_partitions"),
                            "partitions and replication factor must be at least 1",
                            "set topic_partitions and topic_replication_factor to 1 or more",
                        ));
                    }
                    for (table, cfg) in &k.topic_config {
                        let tables = match &c.source {
                            SourceSettings::Postgres(p) => p.tables.as_slice(),
                            SourceSettings::Mysql(m) => m.tables.as_slice(),
                            SourceSettings::Kafka(_) => &[],
                        };
                        if table != "*" && !lists_table(tables, table) {
                            return Err(invalid(
                                at(&format!("sink.topic_config.{table}")),
                                format!("`{table}` is not one of source.tables"),
                                "use a table listed in source.tables, or `*` for every topic",
                            ));
                        }
                        if let Some(p) = cfg.get("cleanup.policy") {
                            if !matches!(
                                p.as_str(),
                                "compact" | "delete" | "compact,delete" | "delete,compact"
                            ) {
                                return Err(invalid(
                                    at(&format!("sink.topic_config.{table}.cleanup.policy")),
                                    format!("`{p}` is not a cleanup policy"),
                                    "use compact, delete or compact,delete",
                                ));
                            }
                        }
                    }
                    for key in k.properties.keys() {
                        if RESERVED_KAFKA_PROPERTIES.contains(&key.as_str()) {
                            return Err(invalid(
                                at(&format!("sink.properties.{key}")),
                                "is set by sluice to keep its delivery guarantees",
                                "remove it (bootstrap.servers and transactional_id have their own fields)",
                            ));
                        }
                    }
                    if !(1..=60_000).contains(&k.transaction_interval_ms) {
                        return Err(invalid(
                            at("sink.transaction_interval_ms"),
                            format!("{} is out of range", k.transaction_interval_ms),
                            "use 1 to 60000 (milliseconds)",
                        ));
                    }
                    if let Some(id) = &k.transactional_id {
                        if !k.transactions {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                format!("`{id}` is set, but sink.transactions is false"),
                                "set sink.transactions: true, or remove transactional_id",
                            ));
                        }
                        if id.trim().is_empty() {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                "is empty",
                                "give a non-empty id unique to this connector, or remove it for sluice-<connector>",
                            ));
                        }
                    }
                    let avro = [k.key_format, k.value_format].contains(&RecordFormat::Avro);
                    match (&k.schema_registry, avro) {
                        (None, true) => {
                            return Err(invalid(
                                at("sink.schema_registry"),
                                "is missing, but key_format or value_format is avro",
                                "add schema_registry: {url: http://host:8081}, or use json",
                            ))
                        }
                        (Some(r), _) => {
                            if !(r.url.starts_with("http://") || r.url.starts_with("https://")) {
                                return Err(invalid(
                                    at("sink.schema_registry.url"),
                                    format!("`{}` is not an http(s) URL", r.url),
                                    "write e.g. http://localhost:8081",
                                ));
                            }
                            if r.password.is_some() && r.username.is_none() {
                                return Err(invalid(
                                    at("sink.schema_registry.password"),
                                    "is set without a username",
                                    "add schema_registry.username",
                                ));
                            }
                        }
                        (None, false) => {}
                    }
                    if k.key_format == RecordFormat::Avro
                        && matches!(&c.source, SourceSettings::Postgres(p) if p.emit_truncate)
                    {
                        return Err(invalid(
                            at("source.emit_truncate"),
                            "is true, but sink.key_format is avro",
                            "a TRUNCATE record has no key, which an Avro key cannot express (Debezium writes a null key, which compacted topics refuse): use key_format: json, or emit_truncate: false",
                        ));
                    }
                    if let Some(id) = k.transactional_id_for(name) {
                        let other = self.connectors.iter().find(|(n, o)| {
                            *n != name
                                && matches!(&o.sink, SinkSettings::Kafka(ok)
                                    if ok.transactional_id_for(n).as_deref() == Some(id.as_str()))
                        });
                        if let Some((other, _)) = other {
                            return Err(invalid(
                                at("sink.transactional_id"),
                                format!("`{id}` is also connector {other}'s transactional id: each would fence the other"),
                                "give each connector its own transactional_id",
                            ));
                        }
                    }
                    validate_kafka_client(&at, "sink", k.sasl.as_ref(), &BTreeMap::new())?;
                }
            }
        }
        Ok(())
    }
}

/// The first line of a multi-line message (the regex crate draws a caret diagram).
fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| s.lines().next())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A Kafka client's SASL mechanism and its properties (consumers: no librdkafka alias of a
/// property sluice sets either).
fn validate_kafka_client(
    at: &dyn Fn(&str) -> String,
    side: &str,
    sasl: Option<&KafkaSasl>,
    properties: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    if let Some(s) = sasl {
        if !SASL_MECHANISMS.contains(&s.mechanism.as_str()) {
            return Err(invalid(
                at(&format!("{side}.sasl.mechanism")),
                format!(
                    "`{}` is not one of {}",
                    s.mechanism,
                    SASL_MECHANISMS.join(", ")
                ),
                "write the mechanism as librdkafka names it, e.g. SCRAM-SHA-256",
            ));
        }
    }
    for key in properties.keys() {
        if ["bootstrap.servers", "metadata.broker.list", "group.id"].contains(&key.as_str()) {
            return Err(invalid(
                at(&format!("{side}.properties.{key}")),
                "has its own field",
                "use source.bootstrap_servers / source.group_id instead",
            ));
        }
    }
    Ok(())
}

/// Whether `table` (as written in a config map key) names one of `tables`.
fn lists_table(tables: &[String], table: &str) -> bool {
    let Some(want) = parse_table_name(table) else {
        return false;
    };
    tables
        .iter()
        .any(|t| parse_table_name(t).as_ref() == Some(&want))
}

/// Column lists: valid regular expressions, and not both lists at once (as Debezium).
fn validate_column_lists(
    at: &dyn Fn(&str) -> String,
    include: &[String],
    exclude: &[String],
) -> Result<(), ConfigError> {
    if !include.is_empty() && !exclude.is_empty() {
        return Err(invalid(
            at("source.column_exclude_list"),
            "is set together with source.column_include_list",
            "use one of the two lists",
        ));
    }
    for (list, name) in [
        (include, "column_include_list"),
        (exclude, "column_exclude_list"),
    ] {
        for (i, p) in list.iter().enumerate() {
            if let Err(e) = crate::envelope::ColumnFilter::new(std::slice::from_ref(p), &[]) {
                return Err(invalid(
                    at(&format!("source.{name}[{i}]")),
                    format!("`{p}` is not a regular expression ({e})"),
                    "write a regular expression of schema.table.column names, e.g. `public\\.users\\.email`",
                ));
            }
        }
    }
    Ok(())
}

/// `tables` or `table_include_list` names something, and every pattern compiles. `form` is
/// the name form, an example name and an example pattern.
fn validate_patterns(
    at: &dyn Fn(&str) -> String,
    no_tables: bool,
    include: &[String],
    exclude: &[String],
    (form, example, pattern): (&str, &str, &str),
) -> Result<(), ConfigError> {
    if no_tables && include.is_empty() {
        return Err(invalid(
            at("source.tables"),
            "no table is listed",
            format!(
                "list tables as `{form}`, e.g. [\"{example}\"], or patterns in source.table_include_list"
            ),
        ));
    }
    for (list, name) in [
        (include, "table_include_list"),
        (exclude, "table_exclude_list"),
    ] {
        for (i, p) in list.iter().enumerate() {
            if let Err((_, e)) = super::TableFilter::new(std::slice::from_ref(p), &[]) {
                return Err(invalid(
                    at(&format!("source.{name}[{i}]")),
                    format!("`{p}` is not a regular expression ({e})"),
                    format!("write a regular expression of {form} names, e.g. `{pattern}`"),
                ));
            }
        }
    }
    Ok(())
}

/// A name Kafka accepts for a topic.
fn is_topic_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The incremental-snapshot settings every source has: chunk size, signal topic and table.
fn validate_incremental(
    at: &dyn Fn(&str) -> String,
    chunk_size: usize,
    kafka_topic: Option<&str>,
    signal_table: Option<&str>,
    form: &str,
) -> Result<(), ConfigError> {
    if !(1..=1_000_000).contains(&chunk_size) {
        return Err(invalid(
            at("source.snapshot_chunk_size"),
            format!("{chunk_size} rows is out of range"),
            "use 1 to 1000000 rows (default 1024)",
        ));
    }
    if let Some(t) = kafka_topic {
        if !is_topic_name(t) {
            return Err(invalid(
                at("source.signal_kafka_topic"),
                format!("`{t}` is not a Kafka topic name"),
                "use 1 to 249 of a-z, A-Z, 0-9, `.`, `_`, `-`",
            ));
        }
    }
    if let Some(sig) = signal_table {
        if parse_table_name(sig).is_none() {
            return Err(invalid(
                at("source.signal_data_collection"),
                format!("`{sig}` is not of the form {form}"),
                format!("name the signal table as {form}, e.g. inventory.debezium_signal"),
            ));
        }
    }
    Ok(())
}

/// `skipped_operations` holds Debezium's op codes only.
fn validate_skipped(at: &dyn Fn(&str) -> String, ops: &[String]) -> Result<(), ConfigError> {
    for (i, op) in ops.iter().enumerate() {
        if !matches!(op.as_str(), "c" | "u" | "d" | "t") {
            return Err(invalid(
                at(&format!("source.skipped_operations[{i}]")),
                format!("`{op}` is not an operation code"),
                "use c (inserts), u (updates), d (deletes) or t (truncates), e.g. [u, t]",
            ));
        }
    }
    Ok(())
}

fn validate_key_columns(
    at: &dyn Fn(&str) -> String,
    key_columns: &BTreeMap<String, Vec<String>>,
    tables: &[String],
) -> Result<(), ConfigError> {
    for (table, cols) in key_columns {
        let field = at(&format!("source.key_columns.{table}"));
        if !lists_table(tables, table) {
            return Err(invalid(
                field,
                format!("`{table}` is not one of source.tables"),
                "list the table in source.tables, or remove its key_columns entry",
            ));
        }
        if cols.is_empty() || cols.iter().any(|c| c.is_empty()) {
            return Err(invalid(
                field,
                "needs at least one column name, none of them empty",
                "write e.g. `public.items: [sku]`",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = cols.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(invalid(
                field,
                format!("column `{dup}` is listed twice"),
                "list each key column once",
            ));
        }
    }
    Ok(())
}

/// Split `schema.table` (either part may be double-quoted).
pub fn parse_table_name(s: &str) -> Option<(String, String)> {
    let parts = split_qualified(s)?;
    match parts.as_slice() {
        [schema, table] if !schema.is_empty() && !table.is_empty() => {
            Some((schema.clone(), table.clone()))
        }
        _ => None,
    }
}

fn split_qualified(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('.', false) => parts.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    parts.push(cur);
    Some(parts)
}
