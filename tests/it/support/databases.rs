//! Where `tests/services/databases.sh` laid out the server versions beside Debian's
//! (PostgreSQL 16-18, MySQL 8.0). Its own file so the benchmark harness can include it too.

/// `sub` under `$SLUICE_DATABASES` (default `/var/tmp/sluice-databases`), which must hold
/// `probe`.
pub fn database_dir(sub: &str, probe: &str) -> String {
    let root =
        std::env::var("SLUICE_DATABASES").unwrap_or_else(|_| "/var/tmp/sluice-databases".into());
    let dir = format!("{root}/{sub}");
    assert!(
        std::path::Path::new(&dir).join(probe).exists(),
        "{sub} is not laid out in {root}: run tests/services/databases.sh"
    );
    dir
}
