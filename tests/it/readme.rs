//! The README's type tables are backed by recordings: every type a row names is used by a
//! recorded differential case (`schemas/golden/cases/*/setup.sql`, or the reference samples
//! in `schemas/golden/debezium-3.6.3/`), whose records `cases.rs` and `golden.rs` compare
//! field by field with the real Debezium's.

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Types MariaDB stores but the recorder's Debezium cannot read (its DDL parser rejects
/// them), so no recording can hold them; sluice's conversion has unit tests.
const UNRECORDABLE: &[&str] = &["uuid", "inet6"];

/// Names the README uses beside the spelling the cases use.
const SYNONYMS: &[(&str, &str)] = &[("integer", "int")];

/// SQL without its `--` comments (a type named only in a comment is not recorded).
fn without_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The SQL of every recorded case of one engine (`pg` or `maria`), lower case.
fn recorded_sql(engine: &str) -> String {
    let mut sql = String::new();
    let cases = Path::new(ROOT).join("schemas/golden/cases");
    for entry in std::fs::read_dir(&cases).expect("cases dir").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&format!("{engine}_")) {
            for f in ["setup.sql", "dml.sql"] {
                let text = std::fs::read_to_string(entry.path().join(f)).unwrap_or_default();
                sql.push_str(&without_comments(&text));
            }
        }
    }
    let reference = Path::new(ROOT).join("schemas/golden/debezium-3.6.3");
    for entry in std::fs::read_dir(&reference)
        .expect("reference dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(engine) && name.ends_with(".sql") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            sql.push_str(&without_comments(&text));
        }
    }
    sql.to_lowercase()
}

/// The type names in the first column of the README table whose header starts with
/// `header` (the word before any `(`, `[` or `*` of each backticked name).
fn table_types(readme: &str, header: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in readme.lines() {
        if line.starts_with(header) {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let first = line.split('|').nth(1).unwrap_or_default();
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 1 {
                let word: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !word.is_empty() {
                    out.push(word.to_lowercase());
                }
            }
        }
    }
    out
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        boundary(before) && boundary(after)
    })
}

/// Every type of the PostgreSQL and MySQL/MariaDB tables appears in a recorded case.
#[test]
fn every_readme_type_is_recorded() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    for (header, engine) in [
        ("| PostgreSQL | JSON value", "pg"),
        ("| MySQL / MariaDB | JSON value", "maria"),
    ] {
        let types = table_types(&readme, header);
        assert!(types.len() > 20, "{header}: found only {types:?}");
        let sql = recorded_sql(engine);
        let missing: Vec<&String> = types
            .iter()
            .filter(|t| {
                let alias = SYNONYMS.iter().find(|(a, _)| a == t).map(|(_, b)| *b);
                !UNRECORDABLE.contains(&t.as_str())
                    && !contains_word(&sql, t)
                    && !alias.is_some_and(|a| contains_word(&sql, a))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "README types without a recorded {engine} case: {missing:?}"
        );
    }
}
