//! Pretty-printing raw JSON like Go's `json.Indent`, keeping the daemon's key
//! order (parsing into `serde_json::Value` would sort object keys).

/// Re-indents compact or pretty JSON text; `level` is the starting depth.
pub fn indent(raw: &str, unit: &str, level: usize) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = level;
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = raw.trim().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&unit.repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                skip_ws(&mut chars);
                // Empty containers stay compact: `{}`, `[]`.
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

fn skip_ws(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

/// Docker's inspect output: a JSON array of the objects, 4-space indented.
pub fn inspect_array(objects: &[String]) -> String {
    if objects.is_empty() {
        return "[]".to_string();
    }
    let items: Vec<String> = objects
        .iter()
        .map(|o| format!("    {}", indent(o, "    ", 1)))
        .collect();
    format!("[\n{}\n]", items.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_compacts_empty() {
        let raw = r#"{"Name":"app","Id":"x","Labels":{},"IPAM":{"Config":[{"Subnet":"10.0.0.0/24"}]},"S":"a,{\"b\":[1]}"}"#;
        let expected = r#"{
    "Name": "app",
    "Id": "x",
    "Labels": {},
    "IPAM": {
        "Config": [
            {
                "Subnet": "10.0.0.0/24"
            }
        ]
    },
    "S": "a,{\"b\":[1]}"
}"#;
        assert_eq!(indent(raw, "    ", 0), expected);
        // Already pretty input comes out the same.
        assert_eq!(indent(expected, "    ", 0), expected);
    }

    #[test]
    fn array_of_objects() {
        let out = inspect_array(&["{\"a\":1}".into(), "{\"b\":[]}".into()]);
        assert_eq!(
            out,
            "[\n    {\n        \"a\": 1\n    },\n    {\n        \"b\": []\n    }\n]"
        );
        assert_eq!(inspect_array(&[]), "[]");
    }
}
