//! Rule packs: Elastic detection-rules TOML files, `.eql` files and JSONL
//! rule lists, plus the shipped pack ([`RuleSet::builtin`]).
//!
//! Loading never panics on input: malformed TOML/JSON, a missing `query` or
//! a field of the wrong type are reported as [`RuleLoadError`]s naming the
//! file (and line, where known). Compiling a [`RuleSet`] reports each rule
//! that fails as a [`RuleError`] and keeps the others.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::{
    CompileError, CompileOptions, CompiledQuery, Event, EventError, Pack, PackMatches, SessionPlan,
};
use std::sync::Arc;

/// A reference to an ATT&CK tactic, technique or sub-technique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreatRef {
    /// Identifier, e.g. `TA0005` or `T1211`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Reference URL.
    pub reference: String,
}

/// A technique with its optional sub-techniques.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Technique {
    /// Identifier, e.g. `T1211`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Reference URL.
    pub reference: String,
    /// Sub-techniques (`[[rule.threat.technique.subtechnique]]`).
    pub subtechniques: Vec<ThreatRef>,
}

/// One `[[rule.threat]]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Threat {
    /// Framework name, e.g. `MITRE ATT&CK`.
    pub framework: String,
    /// The tactic.
    pub tactic: ThreatRef,
    /// Techniques under the tactic.
    pub techniques: Vec<Technique>,
}

/// A detection rule and its metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    /// Rule name (file stem for `.eql` files when nothing else is known).
    pub name: String,
    /// Stable rule identifier.
    pub rule_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Severity (`low`, `medium`, `high`, `critical`).
    pub severity: Option<String>,
    /// Risk score, 0..=100.
    pub risk_score: Option<u32>,
    /// Index patterns.
    pub index: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Rule version.
    pub version: Option<u32>,
    /// Authors.
    pub author: Vec<String>,
    /// Licence.
    pub license: Option<String>,
    /// Look-back start, e.g. `now-9m`.
    pub from: Option<String>,
    /// Schedule interval, e.g. `5m`.
    pub interval: Option<String>,
    /// Maximum alerts per run.
    pub max_signals: Option<u32>,
    /// ATT&CK mapping.
    pub threat: Vec<Threat>,
    /// Query language (`eql`).
    pub language: Option<String>,
    /// Rule type (`eql`).
    pub rule_type: Option<String>,
    /// Field matched by the `X where` category instead of `event.category`.
    pub event_category_override: Option<String>,
    /// Field used as the timestamp instead of `@timestamp`.
    pub timestamp_override: Option<String>,
    /// Tiebreaker field for sequences.
    pub tiebreaker_field: Option<String>,
    /// Investigation guide (markdown).
    pub note: Option<String>,
    /// `[metadata] maturity`.
    pub maturity: Option<String>,
    /// The EQL query, verbatim.
    pub query: String,
    /// File the rule came from.
    pub source: PathBuf,
    /// 1-based line where the query starts in `source`.
    pub line: usize,
}

impl Rule {
    /// `source:line`, used as the origin of diagnostics.
    pub fn origin(&self) -> String {
        format!("{}:{}", self.source.display(), self.line)
    }

    /// Compile options for this rule: `base` with the rule's
    /// `event_category_override`, `timestamp_override` and `tiebreaker_field`
    /// applied.
    pub fn compile_options(&self, base: &CompileOptions) -> CompileOptions {
        let mut opts = base.clone();
        if let Some(field) = &self.event_category_override {
            opts.category_field.clone_from(field);
        }
        if let Some(field) = &self.timestamp_override {
            opts.timestamp_field.clone_from(field);
        }
        if let Some(field) = &self.tiebreaker_field {
            opts.tiebreaker_field = Some(field.clone());
        }
        opts
    }
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleLoadError {
    /// Reading the file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed.
    #[error("{}: invalid TOML: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// Parser message (with position).
        message: String,
    },
    /// A JSONL line is malformed or not an object.
    #[error("{}:{line}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Parser message.
        message: String,
    },
    /// A required field (`query`) is missing.
    #[error("{}:{line}: missing required field `{field}`", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// 1-based line (1 for whole-file TOML).
        line: usize,
        /// Field name.
        field: String,
    },
    /// A field has the wrong type.
    #[error("{}:{line}: field `{field}` must be {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line (1 for whole-file TOML).
        line: usize,
        /// Field name.
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The file extension is not `.toml`, `.eql`, `.jsonl` or `.ndjson`.
    #[error("{}: unsupported rule file (expected .toml, .eql, .jsonl or .ndjson)", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
    },
}

/// A rule that failed to compile.
#[derive(Clone, Debug)]
pub struct RuleError {
    /// File the rule came from.
    pub file: PathBuf,
    /// 1-based line where the query starts.
    pub line: usize,
    /// Rule name.
    pub rule: String,
    /// The diagnostic rendered against the query text.
    pub rendered: String,
    /// The underlying error.
    pub error: CompileError,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: rule `{}` failed to compile:\n{}",
            self.file.display(),
            self.line,
            self.rule,
            self.rendered
        )
    }
}

impl std::error::Error for RuleError {}

/// The shipped rules, embedded at build time.
const BUILTIN: &[(&str, &str)] = &[(
    "rules/unusual_executable_file_creation_by_system_critical_process.toml",
    include_str!("../../rules/unusual_executable_file_creation_by_system_critical_process.toml"),
)];

/// A list of rules, not yet compiled.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    skipped: Vec<PathBuf>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shipped pack (`crates/eql-engine/rules/*.toml`).
    ///
    /// A shipped file that failed to load would be listed in
    /// [`RuleSet::skipped`] rather than panic; the tests check that none does.
    pub fn builtin() -> Self {
        let mut set = RuleSet::new();
        for (path, text) in BUILTIN {
            match parse_toml(Path::new(path), text) {
                Ok(Some(rule)) => set.rules.push(rule),
                Ok(None) | Err(_) => set.skipped.push(PathBuf::from(path)),
            }
        }
        set
    }

    /// Loads a `.toml` rule, a `.eql` query, a `.jsonl`/`.ndjson` rule list, or
    /// every such file under a directory (recursively, in path order).
    ///
    /// Rules whose `language` is set to something other than `eql` are
    /// skipped (see [`RuleSet::skipped`]).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RuleLoadError> {
        let mut set = RuleSet::new();
        set.load_path(path.as_ref())?;
        Ok(set)
    }

    /// Alias of [`RuleSet::from_path`].
    pub fn from_dir(path: impl AsRef<Path>) -> Result<Self, RuleLoadError> {
        Self::from_path(path)
    }

    /// Parses one Elastic detection-rules TOML document. `path` names it in errors.
    /// Returns `Ok(None)` for a non-EQL rule.
    pub fn parse_toml(path: impl AsRef<Path>, text: &str) -> Result<Option<Rule>, RuleLoadError> {
        parse_toml(path.as_ref(), text)
    }

    /// Parses JSONL text (one rule object per line). `path` names it in errors.
    pub fn parse_jsonl(path: impl AsRef<Path>, text: &str) -> Result<Self, RuleLoadError> {
        let mut set = RuleSet::new();
        set.load_jsonl(path.as_ref(), text)?;
        Ok(set)
    }

    /// Adds the rules from `path` (see [`RuleSet::from_path`]).
    pub fn load_path(&mut self, path: &Path) -> Result<(), RuleLoadError> {
        let meta = fs::metadata(path).map_err(|source| RuleLoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_files(path, &mut files)?;
            files.sort();
            for file in files {
                self.load_file(&file)?;
            }
            Ok(())
        } else {
            self.load_file(path)
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<(), RuleLoadError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let read = || {
            fs::read_to_string(path).map_err(|source| RuleLoadError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        match ext.as_deref() {
            Some("toml") => {
                let text = read()?;
                match parse_toml(path, &text)? {
                    Some(rule) => self.rules.push(rule),
                    None => self.skipped.push(path.to_path_buf()),
                }
            }
            Some("eql") => {
                let text = read()?;
                let name = path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
                self.rules.push(Rule {
                    name,
                    language: Some("eql".into()),
                    query: text,
                    source: path.to_path_buf(),
                    line: 1,
                    ..Rule::default()
                });
            }
            Some("jsonl" | "ndjson") => {
                let text = read()?;
                self.load_jsonl(path, &text)?;
            }
            _ => {
                return Err(RuleLoadError::Unsupported {
                    path: path.to_path_buf(),
                })
            }
        }
        Ok(())
    }

    fn load_jsonl(&mut self, path: &Path, text: &str) -> Result<(), RuleLoadError> {
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
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
                prefix: "",
            };
            match rule_from_map(&map, None, &ctx, line)? {
                Some(mut rule) => {
                    if rule.name.is_empty() {
                        rule.name = rule
                            .rule_id
                            .clone()
                            .unwrap_or_else(|| format!("{}:{line}", path.display()));
                    }
                    self.rules.push(rule);
                }
                None => self.skipped.push(path.to_path_buf()),
            }
        }
        Ok(())
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Files (or JSONL files, once per rule) skipped because their language is not EQL.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Iterates over the rules.
    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    /// Adds one rule.
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Appends all rules (and skipped files) of `other`.
    pub fn extend(&mut self, other: RuleSet) {
        self.rules.extend(other.rules);
        self.skipped.extend(other.skipped);
    }

    /// Compiles every rule. Rules that fail are reported and left out; the
    /// rest are returned. Each rule's `event_category_override` and
    /// `timestamp_override` are applied to `opts`.
    pub fn compile(&self, opts: &CompileOptions) -> (CompiledRuleSet, Vec<RuleError>) {
        let mut compiled = Vec::with_capacity(self.rules.len());
        let mut errors = Vec::new();
        for rule in &self.rules {
            let rule_opts = rule.compile_options(opts);
            match CompiledQuery::compile(&rule.query, &rule_opts) {
                Ok(engine) => compiled.push(CompiledRule {
                    rule: rule.clone(),
                    engine,
                }),
                Err(error) => errors.push(RuleError {
                    file: rule.source.clone(),
                    line: rule.line,
                    rule: rule.name.clone(),
                    rendered: render_at(&error, &rule.query, &rule.source, rule.line),
                    error,
                }),
            }
        }
        (CompiledRuleSet::new(compiled), errors)
    }

    /// Like [`RuleSet::compile`], but any failing rule makes the whole set fail.
    pub fn compile_strict(&self, opts: &CompileOptions) -> Result<CompiledRuleSet, Vec<RuleError>> {
        let (set, errors) = self.compile(opts);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }
}

impl<'a> IntoIterator for &'a RuleSet {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;
    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// A rule with its compiled query.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// The rule's metadata.
    pub rule: Rule,
    /// The compiled query.
    pub engine: CompiledQuery,
}

impl CompiledRule {
    /// True when the event matches this rule's (single-event) query.
    pub fn is_match(&self, event: &dyn Event) -> bool {
        self.engine.is_match(event)
    }
}

/// Compiled rules, ready to test events: the routed [`Pack`] of the
/// single-event rules ([`CompiledRuleSet::matches`]) and the plan every
/// [`crate::Session`] over them shares (every rule, stateful ones
/// included), both built once, here.
///
/// ```
/// use eql_engine::{CompileOptions, Matches, PackMatches, RuleSet, Session, SessionOptions};
/// let (rules, errors) = RuleSet::builtin().compile(&CompileOptions::default());
/// assert!(errors.is_empty());
/// // Single-event rules, event by event:
/// let mut hits = PackMatches::new();
/// rules.matches(&serde_json::json!({"event": {"category": "process"}}), &mut hits);
/// // Every rule, sequences included, over a stream:
/// let mut session = Session::new(&rules, SessionOptions::default());
/// let mut out = Matches::new();
/// session.push(1u64, &serde_json::json!({"event": {"category": "process"}}), &mut out);
/// session.finish(&mut out);
/// ```
#[derive(Clone, Debug)]
pub struct CompiledRuleSet {
    rules: Vec<CompiledRule>,
    pack: Pack,
    plan: Arc<SessionPlan>,
}

impl Default for CompiledRuleSet {
    fn default() -> Self {
        CompiledRuleSet::new(Vec::new())
    }
}

impl CompiledRuleSet {
    fn new(rules: Vec<CompiledRule>) -> Self {
        let pack = Pack::new(rules.iter().map(|r| &r.engine));
        let plan = Arc::new(SessionPlan::new(rules.iter().map(|r| r.engine.clone())));
        CompiledRuleSet { rules, pack, plan }
    }

    /// The plan sessions over these rules run ([`crate::Session::new`]
    /// takes the rule set itself).
    pub(crate) fn plan(&self) -> &Arc<SessionPlan> {
        &self.plan
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Iterates over the compiled rules.
    pub fn iter(&self) -> std::slice::Iter<'_, CompiledRule> {
        self.rules.iter()
    }

    /// The single-event rules that match `event` go into `out`: their
    /// indexes in [`CompiledRuleSet::rules`], ascending, through the routed
    /// pack (category routing, the candidate index, then exact evaluation
    /// of the candidates only). Sequences, samples and joins need state
    /// across events, and pipes and process lineage need the stream: run
    /// them in a [`crate::Session`] (`Session::new(&rule_set, options)`).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, PackMatches, Rule, RuleSet};
    /// let mut set = RuleSet::new();
    /// for q in [r#"process where process.name : "cmd.exe""#, "sequence [process where true] [file where true]", "file where true"] {
    ///     set.push(Rule { query: q.into(), ..Rule::default() });
    /// }
    /// let (rules, _) = set.compile(&CompileOptions::default());
    /// let mut hits = PackMatches::new();
    /// let event = serde_json::json!({"event": {"category": ["process", "file"]}, "process": {"name": "CMD.exe"}});
    /// rules.matches(&event, &mut hits);
    /// assert_eq!(hits.rules(), &[0, 2]);
    /// ```
    pub fn matches(&self, event: &dyn Event, out: &mut PackMatches) {
        self.pack.matches(event, out);
        out.map_rules(self.pack.origin());
    }

    /// [`CompiledRuleSet::matches`] straight from one event's bytes (a
    /// JSON object), with no DOM, checked as [`crate::parse_event`] checks
    /// them against the rules' [`CompileOptions::event_limits`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, EventErrorKind, PackMatches, RuleSet};
    /// let (rules, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// let mut hits = PackMatches::new();
    /// rules.matches_json(br#"{"event": {"category": "process"}}"#, &mut hits).unwrap();
    /// let err = rules.matches_json(b"[1]", &mut hits).unwrap_err();
    /// assert!(matches!(err.kind, EventErrorKind::NotAnObject { .. }));
    /// ```
    pub fn matches_json(&self, bytes: &[u8], out: &mut PackMatches) -> Result<(), EventError> {
        self.pack.matches_json(bytes, out)?;
        out.map_rules(self.pack.origin());
        Ok(())
    }
}

/// Renders a diagnostic so that its line numbers are those of the rule file:
/// the query text is preceded by `line - 1` empty lines and spans are shifted.
fn render_at(error: &CompileError, query: &str, file: &Path, line: usize) -> String {
    let pad = line.saturating_sub(1);
    let Ok(shift) = u32::try_from(pad) else {
        return error
            .diagnostic
            .render(query, Some(&file.display().to_string()));
    };
    let shifted = |mut span: crate::Span| {
        span.start = span.start.saturating_add(shift);
        span.end = span.end.saturating_add(shift);
        span
    };
    let mut diag = error.diagnostic.clone();
    diag.span = shifted(diag.span);
    for (span, _) in &mut diag.labels {
        *span = shifted(*span);
    }
    let mut source = "\n".repeat(pad);
    source.push_str(query);
    diag.render(&source, Some(&file.display().to_string()))
}

impl<'a> IntoIterator for &'a CompiledRuleSet {
    type Item = &'a CompiledRule;
    type IntoIter = std::slice::Iter<'a, CompiledRule>;
    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleLoadError> {
    let io = |source| RuleLoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect_files(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["toml", "eql", "jsonl", "ndjson"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x))
        }) {
            out.push(path);
        }
    }
    Ok(())
}

/// Where a field is read from, for error messages.
struct Ctx<'a> {
    path: &'a Path,
    line: usize,
    prefix: &'a str,
}

impl Ctx<'_> {
    fn field(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn wrong(&self, key: &str, expected: &'static str) -> RuleLoadError {
        RuleLoadError::WrongType {
            path: self.path.to_path_buf(),
            line: self.line,
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
                .map(|v| match v {
                    Json::String(s) => Ok(s.clone()),
                    _ => Err(self.wrong(key, "an array of strings")),
                })
                .collect(),
            Some(_) => Err(self.wrong(key, "an array of strings")),
        }
    }

    fn tables<'m>(
        &self,
        map: &'m Map<String, Json>,
        key: &str,
    ) -> Result<Vec<&'m Map<String, Json>>, RuleLoadError> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_object()
                        .ok_or_else(|| self.wrong(key, "an array of tables"))
                })
                .collect(),
            // A single inline table is accepted as a one-element array.
            Some(Json::Object(m)) => Ok(vec![m]),
            Some(_) => Err(self.wrong(key, "an array of tables")),
        }
    }

    fn with_prefix<'p>(&'p self, prefix: &'p str) -> Ctx<'p> {
        Ctx {
            path: self.path,
            line: self.line,
            prefix,
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
    let threat_prefix = ctx.field("threat");
    let tctx = ctx.with_prefix(&threat_prefix);
    for t in ctx.tables(map, "threat")? {
        let tactic = match t.get("tactic") {
            None | Some(Json::Null) => ThreatRef::default(),
            Some(Json::Object(m)) => {
                let p = tctx.field("tactic");
                threat_ref(&tctx.with_prefix(&p), m)?
            }
            Some(_) => return Err(tctx.wrong("tactic", "a table")),
        };
        let tech_prefix = tctx.field("technique");
        let techctx = tctx.with_prefix(&tech_prefix);
        let mut techniques = Vec::new();
        for tech in tctx.tables(t, "technique")? {
            let base = threat_ref(&techctx, tech)?;
            let sub_prefix = techctx.field("subtechnique");
            let subctx = techctx.with_prefix(&sub_prefix);
            let subtechniques = techctx
                .tables(tech, "subtechnique")?
                .into_iter()
                .map(|s| threat_ref(&subctx, s))
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

/// Builds a rule from a flat rule object (`[rule]` table or a JSONL object).
/// `metadata` is the optional `[metadata]` table. Returns `None` for non-EQL rules.
fn rule_from_map(
    map: &Map<String, Json>,
    metadata: Option<&Map<String, Json>>,
    ctx: &Ctx<'_>,
    line: usize,
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
    let maturity = match metadata {
        Some(m) => ctx.with_prefix("metadata").opt_str(m, "maturity")?,
        None => ctx.opt_str(map, "maturity")?,
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
        maturity,
        query,
        source: ctx.path.to_path_buf(),
        line,
    }))
}

/// 1-based line where the `query` value starts in TOML text (best effort).
fn query_line(text: &str) -> usize {
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim_start();
        if let Some(rest) = t.strip_prefix("query") {
            let rest = rest.trim_start();
            if let Some(value) = rest.strip_prefix('=') {
                let value = value.trim();
                // A multi-line string whose first line is empty starts on the next line.
                if value == "'''" || value == "\"\"\"" {
                    return i + 2;
                }
                return i + 1;
            }
        }
    }
    1
}

fn parse_toml(path: &Path, text: &str) -> Result<Option<Rule>, RuleLoadError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| RuleLoadError::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let json = serde_json::to_value(&table).map_err(|e| RuleLoadError::Toml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let Json::Object(root) = json else {
        return Err(RuleLoadError::Toml {
            path: path.to_path_buf(),
            message: "expected a table".into(),
        });
    };
    let line = query_line(text);
    let top = Ctx {
        path,
        line: 1,
        prefix: "",
    };
    let metadata = match root.get("metadata") {
        None => None,
        Some(Json::Object(m)) => Some(m),
        Some(_) => return Err(top.wrong("metadata", "a table")),
    };
    match root.get("rule") {
        Some(Json::Object(rule)) => {
            let ctx = Ctx {
                path,
                line: 1,
                prefix: "rule",
            };
            rule_from_map(rule, metadata, &ctx, line)
        }
        Some(_) => Err(top.wrong("rule", "a table")),
        // A flat file: the rule fields at top level.
        None => rule_from_map(&root, metadata, &top, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_line_multiline() {
        assert_eq!(query_line("a = 1\nquery = '''\nx\n'''\n"), 3);
        assert_eq!(query_line("a = 1\nquery = '''x'''\n"), 2);
    }
}
