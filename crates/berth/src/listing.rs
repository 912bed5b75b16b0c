//! `--format` for list commands (`ps`, `network ls`), as Docker's CLI does it: the template is
//! applied to each row, given as an object of Docker's field names (`{{.Names}}`, `{{.ID}}`,
//! ...); a template starting with `table` prints a header row (each `{{.Field}}` replaced by
//! the column's title) and aligns the tab-separated columns. `\t` and `\n` written as two
//! characters (as shells pass them) are a tab and a newline.

use crate::display::table;
use crate::format::{Template, TemplateError};
use serde_json::Value;

/// Rows rendered with `format`; `titles` maps field names to column titles (`ID` →
/// `NETWORK ID`).
pub fn render(
    format: &str,
    rows: &[Value],
    titles: &[(&str, &str)],
) -> Result<String, TemplateError> {
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    let (is_table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, format),
    };
    let template = Template::parse(&body)?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        lines.push(template.render(row)?);
    }
    if !is_table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let header = Template::parse(&titles_template(&body, titles))?.render(&Value::Null)?;
    let cells = |l: &str| l.split('\t').map(str::to_string).collect::<Vec<_>>();
    let header_cells = cells(&header);
    let header_refs: Vec<&str> = header_cells.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = lines.iter().map(|l| cells(l)).collect();
    Ok(table(&header_refs, &rows))
}

/// A `Labels` object as list commands show it: `k=v` pairs joined by commas.
pub fn labels(v: &Value) -> String {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// `{{.Name}}\t{{.ID}}` → `NAME\tNETWORK ID`: each action that is a plain field becomes the
/// field's title (unknown fields their upper-cased name), other actions disappear.
fn titles_template(body: &str, titles: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let action =
            rest[start + 2..start + end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if let Some(field) = action
            .strip_prefix('.')
            .filter(|f| !f.is_empty() && !f.contains(['.', ' ', '|']))
        {
            out.push_str(&field_title(field, titles));
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn field_title(field: &str, titles: &[(&str, &str)]) -> String {
    titles
        .iter()
        .chain(TITLES)
        .find(|(f, _)| *f == field)
        .map_or_else(|| field.to_uppercase(), |(_, t)| t.to_string())
}

/// Docker's column titles for the fields of every list command.
const TITLES: &[(&str, &str)] = &[
    ("ID", "ID"),
    ("Name", "NAME"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Labels", "LABELS"),
    ("Networks", "NETWORKS"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"ID": "abc", "Name": "app", "Driver": "bridge"}),
            json!({"ID": "defdef", "Name": "backend", "Driver": "overlay"}),
        ]
    }

    #[test]
    fn plain_templates_give_one_line_per_row() {
        let out = render("{{.Name}}", &rows(), &[]).unwrap();
        assert_eq!(out, "app\nbackend\n");
        let out = render("{{.Name}}\\t{{.Driver}}", &rows(), &[]).unwrap();
        assert_eq!(out, "app\tbridge\nbackend\toverlay\n");
        assert_eq!(
            render("{{json .Name}}", &rows(), &[]).unwrap(),
            "\"app\"\n\"backend\"\n"
        );
    }

    #[test]
    fn table_templates_get_titles_and_aligned_columns() {
        let out = render(
            "table {{.ID}}\\t{{.Name}}",
            &rows(),
            &[("ID", "NETWORK ID")],
        )
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("NETWORK ID") && lines[0].ends_with("NAME"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("abc ") && lines[1].ends_with("app"),
            "{out}"
        );
        let col = lines[0].find("NAME").unwrap();
        assert_eq!(lines[2].find("backend"), Some(col), "{out}");
    }

    #[test]
    fn labels_are_pairs_joined_by_commas() {
        assert_eq!(labels(&json!({"a": "1", "b": "x y"})), "a=1,b=x y");
        assert_eq!(labels(&Value::Null), "");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(render("{{.Name", &rows(), &[]).is_err());
    }
}
