//! `${VAR}` and `${VAR:-default}` substitution in config text, before YAML parsing.
//! `$${` escapes a literal `${`. Invariant: an unset variable without default is an error.

/// Replace `${VAR}` references; returns the name of the first unset variable on failure.
pub(super) fn substitute(
    raw: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    for line in raw.split_inclusive('\n') {
        let (code, comment) = split_comment(line);
        out.push_str(&substitute_line(code, lookup)?);
        out.push_str(comment);
    }
    Ok(out)
}

/// A YAML line's code and its comment (a `#` at the start or after a space, outside quotes);
/// comments are copied as they are.
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return line.split_at(i),
            None => {}
        }
        prev = c;
    }
    (line, "")
}

fn substitute_line(raw: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
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
        // Comments are not substituted; a `#` inside quotes or a word is no comment.
        assert_eq!(
            substitute(
                "a: ${A} # ${B}\n# ${B}\nb: \"x # ${A}\"\nc: d#${A}\n",
                &look
            )
            .as_deref(),
            Ok("a: alpha # ${B}\n# ${B}\nb: \"x # alpha\"\nc: d#alpha\n")
        );
    }
}
