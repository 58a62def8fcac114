//! Reading one rule from an Elastic detection-rules TOML document or a JSON
//! object: field by field, with the line of every field kept so that an error
//! names the line it is on.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value as Json};
use toml::de::{DeTable, DeValue};

use super::{Rule, RuleLoadError, Technique, Threat, ThreatRef};

/// The fields of a rule object that [`Rule`] has a place for; every other
/// key goes to [`Rule::extra`].
const KNOWN: &[&str] = &[
    "name",
    "rule_id",
    "description",
    "severity",
    "risk_score",
    "index",
    "tags",
    "version",
    "author",
    "license",
    "from",
    "interval",
    "max_signals",
    "threat",
    "language",
    "type",
    "event_category_override",
    "timestamp_override",
    "tiebreaker_field",
    "note",
    "query",
    "references",
    "false_positives",
    "building_block_type",
    "maturity",
    "deprecation_date",
];

/// The `[metadata]` keys that [`Rule`] has a place for.
const METADATA_KNOWN: &[&str] = &["maturity", "deprecation_date"];

/// The lines of a value and of what it holds (TOML only).
#[derive(Debug, Default)]
pub(super) struct Lines {
    line: usize,
    keys: HashMap<String, Lines>,
    items: Vec<Lines>,
}

/// 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.get(..end).map_or(0, |t| t.matches('\n').count()) + 1
}

/// A TOML value as JSON, with the lines of its parts.
fn convert(text: &str, value: &DeValue<'_>, span: std::ops::Range<usize>) -> (Json, Lines) {
    let mut lines = Lines {
        line: line_at(text, span.start),
        ..Lines::default()
    };
    let json = match value {
        DeValue::String(s) => Json::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Json::from(n),
            // Beyond i64 (TOML itself allows no more): kept as text.
            Err(_) => Json::String(i.to_string()),
        },
        DeValue::Float(f) => f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let (v, l) = convert(text, item.get_ref(), item.span());
                out.push(v);
                lines.items.push(l);
            }
            Json::Array(out)
        }
        DeValue::Table(table) => {
            let mut out = Map::new();
            for (k, v) in table {
                let (json, l) = convert(text, v.get_ref(), v.span());
                out.insert(k.get_ref().to_string(), json);
                lines.keys.insert(k.get_ref().to_string(), l);
            }
            Json::Object(out)
        }
    };
    (json, lines)
}

/// A table of a rule document with the context its fields are read in.
type Table<'m, 'a> = (&'m Map<String, Json>, Ctx<'a>);

/// Where fields are read from, for error messages: the file, the dotted
/// path of the table being read, and the lines of its fields.
pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    /// The line of the table being read (the line of a JSONL object).
    pub(super) line: usize,
    pub(super) prefix: String,
    pub(super) lines: Option<&'a Lines>,
}

impl<'a> Ctx<'a> {
    fn field(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn line_of(&self, key: &str) -> usize {
        self.lines
            .and_then(|l| l.keys.get(key))
            .map_or(self.line, |l| l.line)
    }

    /// The context of the table under `key`.
    fn child(&self, key: &str) -> Ctx<'a> {
        let lines = self.lines.and_then(|l| l.keys.get(key));
        Ctx {
            path: self.path,
            line: lines.map_or(self.line, |l| l.line),
            prefix: self.field(key),
            lines,
        }
    }

    /// The context of item `i` of the array under `key` (or of the single
    /// table there, accepted as a one-item array).
    fn item(&self, key: &str, i: usize) -> Ctx<'a> {
        let under = self.lines.and_then(|l| l.keys.get(key));
        let lines = under.and_then(|l| l.items.get(i)).or(under);
        Ctx {
            path: self.path,
            line: lines.map_or(self.line, |l| l.line),
            prefix: format!("{}[{i}]", self.field(key)),
            lines,
        }
    }

    fn wrong(&self, key: &str, expected: &'static str) -> RuleLoadError {
        RuleLoadError::WrongType {
            path: self.path.to_path_buf(),
            line: self.line_of(key),
            field: self.field(key),
            expected,
        }
    }

    fn missing(&self, key: &str) -> RuleLoadError {
        RuleLoadError::MissingField {
            path: self.path.to_path_buf(),
            line: self.line,
            field: self.field(key),
        }
    }

    fn opt_str(&self, map: &Map<String, Json>, key: &str) -> Result<Option<String>, RuleLoadError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    fn str_or_empty(&self, map: &Map<String, Json>, key: &str) -> Result<String, RuleLoadError> {
        Ok(self.opt_str(map, key)?.unwrap_or_default())
    }

    fn opt_u32(&self, map: &Map<String, Json>, key: &str) -> Result<Option<u32>, RuleLoadError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a non-negative integer")),
            Some(_) => Err(self.wrong(key, "a non-negative integer")),
        }
    }

    fn str_list(&self, map: &Map<String, Json>, key: &str) -> Result<Vec<String>, RuleLoadError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Json::String(s) => Ok(s.clone()),
                    _ => {
                        let item = self.item(key, i);
                        Err(RuleLoadError::WrongType {
                            path: self.path.to_path_buf(),
                            line: item.line,
                            field: item.prefix,
                            expected: "a string",
                        })
                    }
                })
                .collect(),
            Some(_) => Err(self.wrong(key, "an array of strings")),
        }
    }

    /// The tables of the array under `key`, each with its context.
    fn tables<'m>(
        &self,
        map: &'m Map<String, Json>,
        key: &str,
    ) -> Result<Vec<Table<'m, 'a>>, RuleLoadError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let ctx = self.item(key, i);
                    match v.as_object() {
                        Some(m) => Ok((m, ctx)),
                        None => Err(RuleLoadError::WrongType {
                            path: self.path.to_path_buf(),
                            line: ctx.line,
                            field: ctx.prefix,
                            expected: "a table",
                        }),
                    }
                })
                .collect(),
            // A single inline table is accepted as a one-item array.
            Some(Json::Object(m)) => Ok(vec![(m, self.item(key, 0))]),
            Some(_) => Err(self.wrong(key, "an array of tables")),
        }
    }
}

fn threat_ref(ctx: &Ctx<'_>, map: &Map<String, Json>) -> Result<ThreatRef, RuleLoadError> {
    Ok(ThreatRef {
        id: ctx.str_or_empty(map, "id")?,
        name: ctx.str_or_empty(map, "name")?,
        reference: ctx.str_or_empty(map, "reference")?,
    })
}

fn threats(ctx: &Ctx<'_>, map: &Map<String, Json>) -> Result<Vec<Threat>, RuleLoadError> {
    let mut out = Vec::new();
    for (t, tctx) in ctx.tables(map, "threat")? {
        let tactic = match t.get("tactic") {
            None | Some(Json::Null) => ThreatRef::default(),
            Some(Json::Object(m)) => threat_ref(&tctx.child("tactic"), m)?,
            Some(_) => return Err(tctx.wrong("tactic", "a table")),
        };
        let mut techniques = Vec::new();
        for (tech, techctx) in tctx.tables(t, "technique")? {
            let base = threat_ref(&techctx, tech)?;
            let subtechniques = techctx
                .tables(tech, "subtechnique")?
                .into_iter()
                .map(|(s, subctx)| threat_ref(&subctx, s))
                .collect::<Result<_, _>>()?;
            techniques.push(Technique {
                id: base.id,
                name: base.name,
                reference: base.reference,
                subtechniques,
            });
        }
        out.push(Threat {
            framework: tctx.str_or_empty(t, "framework")?,
            tactic,
            techniques,
        });
    }
    Ok(out)
}

/// Builds a rule from a rule object (a `[rule]` table or a JSONL object).
/// `metadata` is the optional `[metadata]` table with its context; `others`
/// are the document's other top-level tables (kept in [`Rule::extra`]).
/// Returns `None` for a rule in another language than EQL.
pub(super) fn rule_from_map(
    map: &Map<String, Json>,
    metadata: Option<(&Map<String, Json>, Ctx<'_>)>,
    others: BTreeMap<String, Json>,
    ctx: &Ctx<'_>,
    query_line: usize,
) -> Result<Option<Rule>, RuleLoadError> {
    let language = ctx.opt_str(map, "language")?;
    if language
        .as_deref()
        .is_some_and(|l| !l.eq_ignore_ascii_case("eql"))
    {
        return Ok(None);
    }
    let query = match map.get("query") {
        None | Some(Json::Null) => return Err(ctx.missing("query")),
        Some(Json::String(s)) => s.clone(),
        Some(_) => return Err(ctx.wrong("query", "a string")),
    };
    let mut extra: BTreeMap<String, Json> = map
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    extra.extend(others);
    let (maturity, deprecation_date) = match &metadata {
        Some((m, mctx)) => {
            let rest: Map<String, Json> = m
                .iter()
                .filter(|(k, _)| !METADATA_KNOWN.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !rest.is_empty() {
                extra.insert("metadata".into(), Json::Object(rest));
            }
            (
                mctx.opt_str(m, "maturity")?,
                mctx.opt_str(m, "deprecation_date")?,
            )
        }
        None => (
            ctx.opt_str(map, "maturity")?,
            ctx.opt_str(map, "deprecation_date")?,
        ),
    };
    Ok(Some(Rule {
        name: ctx.str_or_empty(map, "name")?,
        rule_id: ctx.opt_str(map, "rule_id")?,
        description: ctx.opt_str(map, "description")?,
        severity: ctx.opt_str(map, "severity")?,
        risk_score: ctx.opt_u32(map, "risk_score")?,
        index: ctx.str_list(map, "index")?,
        tags: ctx.str_list(map, "tags")?,
        version: ctx.opt_u32(map, "version")?,
        author: ctx.str_list(map, "author")?,
        license: ctx.opt_str(map, "license")?,
        from: ctx.opt_str(map, "from")?,
        interval: ctx.opt_str(map, "interval")?,
        max_signals: ctx.opt_u32(map, "max_signals")?,
        threat: threats(ctx, map)?,
        language,
        rule_type: ctx.opt_str(map, "type")?,
        event_category_override: ctx.opt_str(map, "event_category_override")?,
        timestamp_override: ctx.opt_str(map, "timestamp_override")?,
        tiebreaker_field: ctx.opt_str(map, "tiebreaker_field")?,
        note: ctx.opt_str(map, "note")?,
        references: ctx.str_list(map, "references")?,
        false_positives: ctx.str_list(map, "false_positives")?,
        building_block_type: ctx.opt_str(map, "building_block_type")?,
        maturity,
        deprecation_date,
        extra,
        query,
        source: ctx.path.to_path_buf(),
        line: query_line,
    }))
}

/// Parses one JSON object (a JSONL line `line`).
pub(super) fn parse_json_line(
    path: &Path,
    line: usize,
    raw: &str,
) -> Result<Option<Rule>, RuleLoadError> {
    let value: Json = serde_json::from_str(raw).map_err(|e| RuleLoadError::Json {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
    })?;
    let Json::Object(map) = value else {
        return Err(RuleLoadError::Json {
            path: path.to_path_buf(),
            line,
            message: "expected a JSON object".into(),
        });
    };
    let ctx = Ctx {
        path,
        line,
        prefix: String::new(),
        lines: None,
    };
    let mut rule = rule_from_map(&map, None, BTreeMap::new(), &ctx, line)?;
    if let Some(rule) = &mut rule {
        if rule.name.is_empty() {
            rule.name = rule
                .rule_id
                .clone()
                .unwrap_or_else(|| format!("{}:{line}", path.display()));
        }
    }
    Ok(rule)
}

/// Parses one Elastic detection-rules TOML document: the rule fields in a
/// `[rule]` table (or at top level), `[metadata]` beside it.
pub(super) fn parse_toml(path: &Path, text: &str) -> Result<Option<Rule>, RuleLoadError> {
    let doc = DeTable::parse(text).map_err(|e| RuleLoadError::Toml {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |s| line_at(text, s.start)),
        message: e.message().to_string(),
    })?;
    let span = doc.span();
    let (json, lines) = convert(text, &DeValue::Table(doc.into_inner()), span);
    let Json::Object(root) = json else {
        return Err(RuleLoadError::Toml {
            path: path.to_path_buf(),
            line: 1,
            message: "expected a table".into(),
        });
    };
    let top = Ctx {
        path,
        line: 1,
        prefix: String::new(),
        lines: Some(&lines),
    };
    let metadata = match root.get("metadata") {
        None => None,
        Some(Json::Object(m)) => Some((m, top.child("metadata"))),
        Some(_) => return Err(top.wrong("metadata", "a table")),
    };
    match root.get("rule") {
        Some(Json::Object(rule)) => {
            let ctx = top.child("rule");
            let others = root
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "rule" | "metadata"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let line = query_line(text, ctx.lines, ctx.line);
            rule_from_map(rule, metadata, others, &ctx, line)
        }
        Some(_) => Err(top.wrong("rule", "a table")),
        // A flat file: the rule fields at top level.
        None => {
            let line = query_line(text, top.lines, 1);
            let flat: Map<String, Json> = root
                .iter()
                .filter(|(k, _)| k.as_str() != "metadata")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            rule_from_map(&flat, metadata, BTreeMap::new(), &top, line)
        }
    }
}

/// The 1-based line where the query text starts: the line of the `query`
/// value, or the next one when the value is a multi-line string whose
/// opening delimiter ends its line (TOML drops that newline).
fn query_line(text: &str, lines: Option<&Lines>, fallback: usize) -> usize {
    let Some(l) = lines.and_then(|l| l.keys.get("query")) else {
        return fallback;
    };
    let start = text
        .lines()
        .nth(l.line.saturating_sub(1))
        .and_then(|raw| raw.find("query").map(|k| &raw[k..]))
        .and_then(|rest| rest.split_once('=').map(|(_, v)| v.trim()))
        .unwrap_or_default();
    if start == "'''" || start == "\"\"\"" {
        l.line + 1
    } else {
        l.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Result<Option<Rule>, RuleLoadError> {
        parse_toml(Path::new("t.toml"), text)
    }

    #[test]
    fn query_line_multiline() {
        let r = rule("a = 1\nquery = '''\nx\n'''\n").unwrap().unwrap();
        assert_eq!(r.line, 3);
        let r = rule("a = 1\nquery = '''x'''\n").unwrap().unwrap();
        assert_eq!(r.line, 2);
        let r = rule("[rule]\nquery = \"\"\"\nprocess where true\"\"\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.line, 3);
    }

    #[test]
    fn errors_name_their_line() {
        let text = "[metadata]\nmaturity = 3\n[rule]\nquery = 'x'\n";
        match rule(text) {
            Err(RuleLoadError::WrongType { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (2, "metadata.maturity"));
            }
            other => panic!("{other:?}"),
        }
        let text = "[rule]\nquery = 'x'\n[[rule.threat]]\nframework = 'M'\n[[rule.threat]]\n[rule.threat.tactic]\nid = 5\n";
        match rule(text) {
            Err(RuleLoadError::WrongType { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (7, "rule.threat[1].tactic.id"));
            }
            other => panic!("{other:?}"),
        }
        let text = "[rule]\nquery = 'x'\ntags = [\n  'a',\n  2,\n]\n";
        match rule(text) {
            Err(RuleLoadError::WrongType { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (5, "rule.tags[1]"));
            }
            other => panic!("{other:?}"),
        }
        // A missing query is reported at its table.
        match rule("[metadata]\nmaturity = 'x'\n\n[rule]\nname = 'n'\n") {
            Err(RuleLoadError::MissingField { line, field, .. }) => {
                assert_eq!((line, field.as_str()), (4, "rule.query"));
            }
            other => panic!("{other:?}"),
        }
        match rule("[rule]\nname = 'n'\nquery = 'x'\nname2 = \n") {
            Err(RuleLoadError::Toml { line, .. }) => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
    }
}
