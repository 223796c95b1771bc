//! Which tables a source captures beyond the ones it names: Debezium's
//! `table.include.list` / `table.exclude.list`, regular expressions matched against the
//! whole `schema.table` name, case-insensitive (as Debezium matches them).
//!
//! Invariant: a pattern that does not compile never reaches here (validation refuses it).

use regex::{Regex, RegexBuilder};

/// Compiled include and exclude patterns.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

fn compile(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{p})$"))
        .case_insensitive(true)
        .build()
}

impl TableFilter {
    /// Compile both lists; the error names the first pattern that does not compile.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, (String, regex::Error)> {
        let all = |list: &[String]| -> Result<Vec<Regex>, (String, regex::Error)> {
            list.iter()
                .map(|p| compile(p).map_err(|e| (p.clone(), e)))
                .collect()
        };
        Ok(Self {
            include: all(include)?,
            exclude: all(exclude)?,
        })
    }

    /// Whether any include pattern is set (otherwise the filter captures nothing).
    pub fn is_active(&self) -> bool {
        !self.include.is_empty()
    }

    /// Whether `schema.table` (unquoted parts joined by a dot) is captured by the patterns.
    pub fn matches(&self, name: &str) -> bool {
        self.include.iter().any(|r| r.is_match(name))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whole names, case-insensitive; exclusion wins.
    #[test]
    fn include_and_exclude() {
        let f = TableFilter::new(&[r"public\.p_.*".into()], &[r"public\.p_skip".into()])
            .expect("valid");
        assert!(f.is_active());
        assert!(f.matches("public.p_a") && f.matches("PUBLIC.P_B"));
        assert!(
            !f.matches("public.p_skip") && !f.matches("other.p_a") && !f.matches("xpublic.p_a")
        );
        assert!(TableFilter::new(&["(".into()], &[]).is_err());
        assert!(!TableFilter::default().is_active());
    }
}
