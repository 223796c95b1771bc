//! `${VAR}` and `${VAR:-default}` substitution in config text, before YAML parsing.
//! `$${` escapes a literal `${`. Invariant: an unset variable without default is an error.

/// Replace `${VAR}` references; returns the name of the first unset variable on failure.
pub(super) fn substitute(
    raw: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(esc) = after.strip_prefix("${") {
            out.push_str("${");
            rest = esc;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            out.push_str("${");
            rest = body;
            continue;
        };
        let expr = &body[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        match (lookup(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(name.to_string()),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(k: &str) -> Option<String> {
        (k == "A").then(|| "alpha".to_string())
    }

    /// Variables, defaults, escapes and unset variables behave as documented.
    #[test]
    fn substitution() {
        assert_eq!(substitute("x ${A} y", &look).as_deref(), Ok("x alpha y"));
        assert_eq!(substitute("${B:-dflt}", &look).as_deref(), Ok("dflt"));
        assert_eq!(substitute("$${A} $5 $", &look).as_deref(), Ok("${A} $5 $"));
        assert_eq!(substitute("${B}", &look), Err("B".to_string()));
    }
}
