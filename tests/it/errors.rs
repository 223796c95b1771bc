//! Bad input gets a clear error and a non-zero exit.

use crate::support::config::PgConnector;
use crate::support::postgres::Pg;
use crate::support::sluice;

/// A misspelled field fails `validate` and `run` with exit code 2, naming the field path.
#[test]
fn bad_config_field() {
    let tmp = crate::support::test_dir();
    let path = PgConnector::new("bad", 5432, "db", "127.0.0.1:9")
        .table("public.t")
        .source("slot_nmae", "x")
        .write(tmp.path())
        .path;
    for cmd in ["validate", "run"] {
        let (code, err) = sluice::run_to_end(&[cmd], &path);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains("connectors.bad.source"), "{cmd}: {err}");
        assert!(err.contains("slot_nmae"), "{cmd}: {err}");
    }
}

/// A table without a schema part is rejected with the fix.
#[test]
fn bad_table_name() {
    let tmp = crate::support::test_dir();
    let path = PgConnector::new("bad", 5432, "db", "127.0.0.1:9")
        .table("t")
        .write(tmp.path())
        .path;
    let (code, err) = sluice::run_to_end(&["validate"], &path);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("connectors.bad.source.tables[0]") && err.contains("fix:"),
        "{err}"
    );
}

/// A server with `wal_level=replica` stops `sluice run` with an error that says how to fix it.
#[tokio::test(flavor = "multi_thread")]
async fn wal_level_replica() {
    let pg = Pg::start("replica");
    let c = pg.create_db("app").await;
    c.batch_execute("CREATE TABLE t (id int primary key)")
        .await
        .expect("create table");
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let tmp = crate::support::test_dir();
    let path = PgConnector::new("walcheck", pg.port, "app", &cluster.bootstrap_servers())
        .table("public.t")
        .sink("create_topics", false)
        .write(tmp.path())
        .path;
    let cfg = path.clone();
    let (code, err) = tokio::task::spawn_blocking(move || sluice::run_to_end(&["run"], &cfg))
        .await
        .expect("join");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("wal_level=replica"), "{err}");
    assert!(err.contains("wal_level = logical"), "hint missing: {err}");
}

/// A listed relation that is not a table (a view) is reported by name, with a non-zero exit.
/// (A table that does not exist yet is not an error: see `tests/it/incremental.rs`.)
#[tokio::test(flavor = "multi_thread")]
async fn listed_view_is_refused() {
    let pg = Pg::start("logical");
    let c = pg.create_db("app").await;
    c.batch_execute("CREATE VIEW nope AS SELECT 1 AS id")
        .await
        .expect("view");
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let tmp = crate::support::test_dir();
    let path = PgConnector::new("missing", pg.port, "app", &cluster.bootstrap_servers())
        .table("public.nope")
        .sink("create_topics", false)
        .write(tmp.path())
        .path;
    let cfg = path.clone();
    let (code, err) = tokio::task::spawn_blocking(move || sluice::run_to_end(&["run"], &cfg))
        .await
        .expect("join");
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("public.nope is not an ordinary table"),
        "{err}"
    );
}

/// Every config file shipped in `connectors/` and `docker/` parses and validates.
#[test]
fn shipped_configs_validate() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut n = 0;
    for dir in ["connectors", "docker"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml")
                || path.ends_with("compose.yaml")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let s = ::sluice::config::parse(&text, &path.display().to_string(), |k| {
                (k == "PGPASSWORD").then(|| "x".to_string())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            s.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "expected the shipped configs, found {n}");
}
