//! A small Go text/template subset for `--format`, evaluated on API JSON.
//!
//! Supported: plain text; `{{.A.B}}` (map keys too: `.Networks.app.IPAddress`);
//! `{{.}}`; string, number and bool literals; function calls `json`, `index`,
//! `join`, `len`, `lower`, `upper`; pipelines `{{.X | json}}`; parentheses with
//! field access `{{(index .A "k").B}}`; `{{-`/`-}}` whitespace trimming.
//! No `range`/`if`/variables.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {template:?}: unclosed action (missing \"}}}}\")")]
    Unclosed { template: String },
    #[error("template {template:?}: {why}")]
    Parse { template: String, why: String },
    #[error("template: executing {action:?}: {why}")]
    Exec { action: String, why: String },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Lit(Value),
    LParen,
    RParen,
    Pipe,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Field(Vec<String>),
    Lit(Value),
    /// A parenthesized pipeline followed by field accesses.
    Sub(Box<Pipeline>, Vec<String>),
    Call(String, Vec<Expr>),
}

type Pipeline = Vec<Expr>;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Action(String, Pipeline),
}

/// A parsed template, reusable across objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let perr = |why: String| TemplateError::Parse {
            template: src.to_string(),
            why,
        };
        let mut parts = Vec::new();
        let mut rest = src;
        let mut trim_next = false;
        while let Some(start) = rest.find("{{") {
            let mut text = &rest[..start];
            if trim_next {
                text = text.trim_start();
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
                template: src.to_string(),
            })?;
            let mut inner = &after[..end];
            if let Some(s) = inner.strip_prefix("- ") {
                text = text.trim_end();
                inner = s;
            }
            trim_next = false;
            if let Some(s) = inner.strip_suffix(" -") {
                trim_next = true;
                inner = s;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text.to_string()));
            }
            let tokens = lex(inner).map_err(perr)?;
            let mut p = Parser { tokens, pos: 0 };
            let pipe = p.pipeline().map_err(perr)?;
            if p.pos != p.tokens.len() {
                return Err(perr(format!(
                    "unexpected {:?} in {inner:?}",
                    p.tokens[p.pos]
                )));
            }
            parts.push(Part::Action(inner.trim().to_string(), pipe));
            rest = &after[end + 2..];
        }
        let text = if trim_next { rest.trim_start() } else { rest };
        if !text.is_empty() {
            parts.push(Part::Text(text.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Action(src, pipe) => {
                    let v = eval_pipeline(pipe, data).map_err(|why| TemplateError::Exec {
                        action: src.clone(),
                        why,
                    })?;
                    out.push_str(&go_print(&v));
                }
            }
        }
        Ok(out)
    }
}

fn lex_fields(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut fields = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        *i += 1;
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || "_-".contains(chars[*i])) {
            *i += 1;
        }
        let name: String = chars[start..*i].iter().collect();
        if !name.is_empty() {
            fields.push(name);
        }
    }
    fields
}

fn lex_string(chars: &[char], i: &mut usize) -> Result<String, String> {
    let quote = chars[*i];
    *i += 1;
    let mut s = String::new();
    while *i < chars.len() && chars[*i] != quote {
        if chars[*i] == '\\' && quote == '"' && *i + 1 < chars.len() {
            *i += 1;
            s.push(match chars[*i] {
                'n' => '\n',
                't' => '\t',
                c => c,
            });
        } else {
            s.push(chars[*i]);
        }
        *i += 1;
    }
    if *i >= chars.len() {
        return Err("unterminated string literal".into());
    }
    *i += 1;
    Ok(s)
}

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '.' => toks.push(Token::Field(lex_fields(&chars, &mut i))),
            '"' | '`' => toks.push(Token::Str(lex_string(&chars, &mut i)?)),
            '(' | ')' | '|' => {
                toks.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    _ => Token::Pipe,
                });
                i += 1;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let v: Value = serde_json::from_str(&s).map_err(|_| format!("bad number {s:?}"))?;
                toks.push(Token::Lit(v));
            }
            c if c.is_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                toks.push(match word.as_str() {
                    "true" => Token::Lit(Value::Bool(true)),
                    "false" => Token::Lit(Value::Bool(false)),
                    "nil" => Token::Lit(Value::Null),
                    _ => Token::Ident(word),
                });
            }
            c => return Err(format!("unexpected character {c:?}")),
        }
    }
    Ok(toks)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let mut cmds = vec![self.command()?];
        while self.peek() == Some(&Token::Pipe) {
            self.pos += 1;
            cmds.push(self.command()?);
        }
        Ok(cmds)
    }

    fn command(&mut self) -> Result<Expr, String> {
        if let Some(Token::Ident(name)) = self.peek().cloned() {
            self.pos += 1;
            let mut args = Vec::new();
            while !matches!(self.peek(), None | Some(Token::Pipe) | Some(Token::RParen)) {
                args.push(self.operand()?);
            }
            return Ok(Expr::Call(name, args));
        }
        self.operand()
    }

    fn operand(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned().ok_or("missing value")?;
        self.pos += 1;
        match tok {
            Token::Field(f) => Ok(Expr::Field(f)),
            Token::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Token::Lit(v) => Ok(Expr::Lit(v)),
            Token::Ident(name) => Ok(Expr::Call(name, vec![])),
            Token::LParen => {
                let inner = self.pipeline()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                let mut fields = Vec::new();
                // `(expr).Field`: the lexer gives the chain as the next token.
                if let Some(Token::Field(f)) = self.peek().cloned() {
                    if !f.is_empty() {
                        self.pos += 1;
                        fields = f;
                    }
                }
                Ok(Expr::Sub(Box::new(inner), fields))
            }
            t => Err(format!("unexpected {t:?}")),
        }
    }
}

fn walk(mut v: Value, fields: &[String]) -> Result<Value, String> {
    for f in fields {
        v = match v {
            Value::Object(mut m) => m.remove(f).unwrap_or(Value::Null),
            Value::Null => Value::Null,
            other => return Err(format!("can't evaluate field {f} in {}", kind(&other))),
        };
    }
    Ok(v)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

fn eval_pipeline(pipe: &Pipeline, data: &Value) -> Result<Value, String> {
    let mut prev: Option<Value> = None;
    for cmd in pipe {
        prev = Some(match (cmd, prev.take()) {
            (Expr::Call(name, args), piped) => {
                let mut vals = args
                    .iter()
                    .map(|a| eval(a, data))
                    .collect::<Result<Vec<_>, _>>()?;
                vals.extend(piped);
                call(name, vals)?
            }
            (e, None) => eval(e, data)?,
            (_, Some(_)) => return Err("only a function can follow '|'".into()),
        });
    }
    Ok(prev.unwrap_or(Value::Null))
}

fn eval(e: &Expr, data: &Value) -> Result<Value, String> {
    match e {
        Expr::Field(f) => walk(data.clone(), f),
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Sub(p, f) => walk(eval_pipeline(p, data)?, f),
        Expr::Call(name, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, data))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, vals)
        }
    }
}

fn index(mut v: Value, keys: &[Value]) -> Result<Value, String> {
    for k in keys {
        v = match (v, k) {
            (Value::Object(mut m), Value::String(s)) => m.remove(s).unwrap_or(Value::Null),
            (Value::Array(mut a), Value::Number(n)) => {
                let i = n.as_u64().filter(|i| (*i as usize) < a.len());
                let i = i.ok_or_else(|| format!("index out of range: {n}"))?;
                a.swap_remove(i as usize)
            }
            (Value::Null, _) => Value::Null,
            (v, k) => return Err(format!("can't index {} with {}", kind(&v), kind(k))),
        };
    }
    Ok(v)
}

fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name} expects {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    match name {
        "json" => arity(1).map(|_| Value::String(args[0].to_string())),
        "index" if !args.is_empty() => index(args[0].clone(), &args[1..]),
        "join" => {
            arity(2)?;
            let items = args[0].as_array().ok_or("join expects a list")?;
            let strs: Vec<String> = items.iter().map(go_print).collect();
            Ok(Value::String(strs.join(&go_print(&args[1]))))
        }
        "len" => {
            arity(1)?;
            let n = match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                Value::String(s) => s.len(),
                v => return Err(format!("len of {}", kind(v))),
            };
            Ok(Value::from(n))
        }
        "lower" => arity(1).map(|_| Value::String(go_print(&args[0]).to_lowercase())),
        "upper" => arity(1).map(|_| Value::String(go_print(&args[0]).to_uppercase())),
        _ => Err(format!(
            "function {name:?} not defined (use json, index, join, len, lower, upper)"
        )),
    }
}

/// Prints a value the way Go's `fmt` prints decoded JSON.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_print).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(m) => {
            let mut items: Vec<(&String, &Value)> = m.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            let items: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    fn ctr() -> Value {
        json!({
            "Id": "abc",
            "Name": "/web",
            "State": {"Running": true, "ExitCode": 0, "Pid": 42},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"x.y": "z"}},
            "NetworkSettings": {
                "Networks": {"app": {"IPAddress": "10.0.0.2", "Aliases": null}},
                "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
            }
        })
    }

    #[test]
    fn fields_and_text() {
        let v = ctr();
        assert_eq!(render("{{.Id}}", &v), "abc");
        assert_eq!(
            render("id={{ .Id }} pid={{.State.Pid}}!", &v),
            "id=abc pid=42!"
        );
        assert_eq!(
            render("{{.NetworkSettings.Networks.app.IPAddress}}", &v),
            "10.0.0.2"
        );
        assert_eq!(render("{{.State.Running}}", &v), "true");
        assert_eq!(render("{{.Config.Env}}", &v), "[A=1 B=2]");
        assert_eq!(render("{{.Missing.Deeper}}", &v), "<no value>");
        assert_eq!(render("{{.Config.Labels}}", &v), "map[x.y:z]");
        assert_eq!(render("no actions", &v), "no actions");
    }

    #[test]
    fn functions() {
        let v = ctr();
        assert_eq!(render("{{json .Config.Env}}", &v), r#"["A=1","B=2"]"#);
        assert_eq!(
            render("{{.State | json}}", &v),
            // Keys keep the daemon's order, as Docker's templates print struct fields in order.
            r#"{"Running":true,"ExitCode":0,"Pid":42}"#
        );
        assert_eq!(render(r#"{{index .Config.Labels "x.y"}}"#, &v), "z");
        assert_eq!(
            render(
                r#"{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}"#,
                &v
            ),
            "8080"
        );
        assert_eq!(
            render(
                r#"{{index .NetworkSettings.Networks "app" "IPAddress"}}"#,
                &v
            ),
            "10.0.0.2"
        );
        assert_eq!(render(r#"{{join .Config.Env ","}}"#, &v), "A=1,B=2");
        assert_eq!(render("{{len .Config.Env}} {{upper .Id}}", &v), "2 ABC");
        assert_eq!(render("{{json .}}", &json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(render("{{.}}", &json!("s")), "s");
    }

    #[test]
    fn trimming() {
        assert_eq!(render("a  {{- .Id -}}  b", &ctr()), "aabcb");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Template::parse("{{.Id"),
            Err(TemplateError::Unclosed { .. })
        ));
        assert!(matches!(
            Template::parse("{{ .Id ) }}"),
            Err(TemplateError::Parse { .. })
        ));
        assert!(matches!(
            Template::parse(r#"{{index .A "x}}"#),
            Err(TemplateError::Parse { .. })
        ));
        let t = Template::parse("{{nosuch .Id}}").unwrap();
        assert!(matches!(t.render(&ctr()), Err(TemplateError::Exec { .. })));
        let t = Template::parse("{{.Id.Deeper}}").unwrap();
        let e = t.render(&ctr()).unwrap_err().to_string();
        assert!(e.contains("can't evaluate field Deeper"), "{e}");
        let t = Template::parse(r#"{{index .Config.Env 5}}"#).unwrap();
        assert!(t.render(&ctr()).is_err());
    }
}
