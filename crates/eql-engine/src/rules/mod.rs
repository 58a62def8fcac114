//! Rule packs: Elastic detection-rules TOML files, `.eql` files and JSONL
//! rule lists, plus the shipped pack ([`RuleSet::builtin`]).
//!
//! Loading never panics on input: malformed TOML/JSON, a missing `query` or
//! a field of the wrong type are reported as [`RuleLoadError`]s naming the
//! file and the line. A file (or JSONL line) that fails is reported and the
//! others still load, as compiling a [`RuleSet`] reports each rule that fails
//! as a [`RuleError`] and keeps the others.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use crate::{
    CompileError, CompileOptions, CompiledQuery, Event, EventError, Pack, PackMatches, SessionPlan,
};

#[cfg(feature = "serde")]
mod alert;
mod index;
mod load;
#[cfg(feature = "serde")]
pub use alert::{alert_documents, write_alert_documents, AlertEvent, AlertOptions};
pub use index::{event_index, IndexPatterns, IndexRoute, IndexRouter};
use load::parse_toml;

/// A reference to an ATT&CK tactic, technique or sub-technique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Technique {
    /// Identifier, e.g. `T1211`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Reference URL.
    pub reference: String,
    /// Sub-techniques (`[[rule.threat.technique.subtechnique]]`).
    #[cfg_attr(
        feature = "serde",
        serde(rename = "subtechnique", skip_serializing_if = "Vec::is_empty")
    )]
    pub subtechniques: Vec<ThreatRef>,
}

/// One `[[rule.threat]]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Threat {
    /// Framework name, e.g. `MITRE ATT&CK`.
    pub framework: String,
    /// The tactic.
    pub tactic: ThreatRef,
    /// Techniques under the tactic.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "technique", skip_serializing_if = "Vec::is_empty")
    )]
    pub techniques: Vec<Technique>,
}

/// A detection rule and its metadata.
///
/// With the `serde` feature a rule serializes as Elastic's rule object does
/// (`type`, `threat[].technique[].subtechnique[]`, unset fields left out),
/// with the [`Rule::extra`] fields beside the others and `query`, `source`
/// and `line`; a JSON rule object deserializes into it, unknown fields going
/// to [`Rule::extra`].
///
/// ```
/// # #[cfg(feature = "serde")] {
/// let (set, _) = eql_engine::RuleSet::parse_jsonl("r.jsonl", r#"{"query": "process where true", "type": "eql", "setup": "x"}"#);
/// let json = serde_json::to_value(&set.rules()[0]).unwrap();
/// assert_eq!((json["type"].as_str(), json["setup"].as_str()), (Some("eql"), Some("x")));
/// let back: eql_engine::Rule = serde_json::from_value(json).unwrap();
/// assert_eq!(&back, &set.rules()[0]);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Rule {
    /// Rule name (file stem for `.eql` files when nothing else is known).
    pub name: String,
    /// Stable rule identifier.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub rule_id: Option<String>,
    /// Description.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub description: Option<String>,
    /// Severity (`low`, `medium`, `high`, `critical`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub severity: Option<String>,
    /// Risk score, 0..=100.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub risk_score: Option<u32>,
    /// Index patterns.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub index: Vec<String>,
    /// Tags.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub tags: Vec<String>,
    /// Rule version.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub version: Option<u32>,
    /// Authors.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub author: Vec<String>,
    /// Licence.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub license: Option<String>,
    /// Look-back start, e.g. `now-9m`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub from: Option<String>,
    /// Schedule interval, e.g. `5m`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub interval: Option<String>,
    /// Maximum alerts per run.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub max_signals: Option<u32>,
    /// ATT&CK mapping.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub threat: Vec<Threat>,
    /// Query language (`eql`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub language: Option<String>,
    /// Rule type (`eql`).
    #[cfg_attr(
        feature = "serde",
        serde(rename = "type", skip_serializing_if = "Option::is_none")
    )]
    pub rule_type: Option<String>,
    /// Field matched by the `X where` category instead of `event.category`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub event_category_override: Option<String>,
    /// Field used as the timestamp instead of `@timestamp`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub timestamp_override: Option<String>,
    /// Tiebreaker field for sequences.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub tiebreaker_field: Option<String>,
    /// Investigation guide (markdown).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub note: Option<String>,
    /// Reference URLs.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub references: Vec<String>,
    /// Known benign causes of alerts.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub false_positives: Vec<String>,
    /// `default` for a building-block rule (its alerts are hidden from the
    /// default alert views and feed other rules).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub building_block_type: Option<String>,
    /// `[metadata] maturity`: `production`, `development`, `deprecated`, ...
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub maturity: Option<String>,
    /// `[metadata] deprecation_date`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub deprecation_date: Option<String>,
    /// Every other field of the rule object (`setup`, `related_integrations`,
    /// `risk_score_mapping`, ...), by name; in TOML, the rest of `[metadata]`
    /// is under `metadata` and other top-level tables (`[transform]`) under
    /// their names.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub extra: BTreeMap<String, Json>,
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

    /// True when the rule is marked deprecated (`maturity = "deprecated"`
    /// or a `deprecation_date`).
    ///
    /// ```
    /// let mut rule = eql_engine::Rule::default();
    /// assert!(!rule.is_deprecated());
    /// rule.maturity = Some("deprecated".into());
    /// assert!(rule.is_deprecated());
    /// ```
    pub fn is_deprecated(&self) -> bool {
        self.maturity
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("deprecated"))
            || self.deprecation_date.is_some()
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

/// Why a rule file (or one line of a JSONL file) could not be loaded.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleLoadError {
    /// Reading the file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The TOML is malformed.
    #[error("{}:{line}: invalid TOML: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// Parser message.
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
        /// 1-based line of the table (or JSONL object) that lacks it.
        line: usize,
        /// Field name.
        field: String,
    },
    /// A field has the wrong type.
    #[error("{}:{line}: field `{field}` must be {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
        /// Dotted field path, with array positions (`rule.threat[1].tactic.id`).
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

impl RuleLoadError {
    /// The file (or directory) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            RuleLoadError::Io { path, .. }
            | RuleLoadError::Toml { path, .. }
            | RuleLoadError::Json { path, .. }
            | RuleLoadError::MissingField { path, .. }
            | RuleLoadError::WrongType { path, .. }
            | RuleLoadError::Unsupported { path } => path,
        }
    }

    /// The 1-based line the error is on, when it is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            RuleLoadError::Toml { line, .. }
            | RuleLoadError::Json { line, .. }
            | RuleLoadError::MissingField { line, .. }
            | RuleLoadError::WrongType { line, .. } => Some(*line),
            RuleLoadError::Io { .. } | RuleLoadError::Unsupported { .. } => None,
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        RuleLoadError::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// A rule that failed to compile.
#[derive(Clone, Debug)]
#[non_exhaustive]
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

/// The ECS mapping of the fields the shipped rules read (`ecs/mapping.json`).
const ECS_MAPPING: &str = include_str!("../../ecs/mapping.json");

/// The Elasticsearch mapping of the Elastic Common Schema fields that the
/// shipped rules read, from ECS 9.4.0 (Apache-2.0; `crates/eql-engine/ecs/`
/// says how it is generated). [`RuleSet::builtin`] compiles with it.
///
/// ```
/// let ecs = eql_engine::ecs_mapping().unwrap();
/// assert_eq!(ecs.get("@timestamp").unwrap().type_name(), "date");
/// assert_eq!(ecs.get("process.name.text").unwrap().source(), "process.name");
/// ```
pub fn ecs_mapping() -> Result<crate::Mapping, crate::MappingError> {
    crate::Mapping::from_slice(ECS_MAPPING.as_bytes())
}

static ECS: std::sync::LazyLock<Option<std::sync::Arc<crate::Mapping>>> =
    std::sync::LazyLock::new(|| ecs_mapping().ok().map(std::sync::Arc::new));

/// A list of rules, not yet compiled.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    skipped: Vec<PathBuf>,
    /// Per rule (missing: false): compile with the ECS mapping when the
    /// options bring no mapping (the shipped rules).
    ecs: Vec<bool>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shipped pack (`crates/eql-engine/rules/*.toml`).
    ///
    /// Its rules compile with the ECS mapping ([`ecs_mapping`]) unless the
    /// options given to [`RuleSet::compile`] bring a mapping of their own:
    /// their fields are typed as an ECS index types them.
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
        set.ecs = vec![true; set.rules.len()];
        set
    }

    /// Loads a `.toml` rule, a `.eql` query, a `.jsonl`/`.ndjson` rule list, or
    /// every such file under a directory (recursively, in path order).
    ///
    /// Returns the rules that loaded and one error per file (per line of a
    /// JSONL file) that did not: a malformed file never stops the others.
    /// Rules whose `language` is set to something other than `eql` are
    /// skipped (see [`RuleSet::skipped`]).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("eql-doc-rules-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("good.eql"), "process where true").unwrap();
    /// std::fs::write(dir.join("bad.toml"), "[rule\n").unwrap();
    /// let (set, errors) = eql_engine::RuleSet::from_path(&dir);
    /// assert_eq!(set.len(), 1);
    /// assert_eq!(errors.len(), 1);
    /// assert!(errors[0].path().ends_with("bad.toml"));
    /// assert_eq!(errors[0].line(), Some(1));
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> (Self, Vec<RuleLoadError>) {
        let mut set = RuleSet::new();
        let mut errors = Vec::new();
        set.load_path(path.as_ref(), &mut errors);
        (set, errors)
    }

    /// Parses one Elastic detection-rules TOML document. `path` names it in errors.
    /// Returns `Ok(None)` for a non-EQL rule.
    pub fn parse_toml(path: impl AsRef<Path>, text: &str) -> Result<Option<Rule>, RuleLoadError> {
        parse_toml(path.as_ref(), text)
    }

    /// Parses JSONL text (one rule object per line). `path` names it in
    /// errors; a line that fails is reported and the others still load.
    pub fn parse_jsonl(path: impl AsRef<Path>, text: &str) -> (Self, Vec<RuleLoadError>) {
        let mut set = RuleSet::new();
        let mut errors = Vec::new();
        set.load_jsonl(path.as_ref(), text, &mut errors);
        (set, errors)
    }

    fn load_path(&mut self, path: &Path, errors: &mut Vec<RuleLoadError>) {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return errors.push(RuleLoadError::io(path, e)),
        };
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_files(path, &mut files, errors);
            files.sort();
            for file in files {
                self.load_file(&file, errors);
            }
        } else {
            self.load_file(path, errors);
        }
    }

    fn load_file(&mut self, path: &Path, errors: &mut Vec<RuleLoadError>) {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("toml" | "eql" | "jsonl" | "ndjson")) {
            return errors.push(RuleLoadError::Unsupported {
                path: path.to_path_buf(),
            });
        }
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return errors.push(RuleLoadError::io(path, e)),
        };
        match ext.as_deref() {
            Some("toml") => match parse_toml(path, &text) {
                Ok(Some(rule)) => self.rules.push(rule),
                Ok(None) => self.skipped.push(path.to_path_buf()),
                Err(e) => errors.push(e),
            },
            Some("eql") => {
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
            _ => self.load_jsonl(path, &text, errors),
        }
    }

    fn load_jsonl(&mut self, path: &Path, text: &str, errors: &mut Vec<RuleLoadError>) {
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            match load::parse_json_line(path, i + 1, raw) {
                Ok(Some(rule)) => self.rules.push(rule),
                Ok(None) => self.skipped.push(path.to_path_buf()),
                Err(e) => errors.push(e),
            }
        }
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
    pub fn extend(&mut self, mut other: RuleSet) {
        self.ecs.resize(self.rules.len(), false);
        other.ecs.resize(other.rules.len(), false);
        self.ecs.extend(other.ecs);
        self.rules.extend(other.rules);
        self.skipped.extend(other.skipped);
    }

    /// Compiles every rule. Rules that fail are reported and left out; the
    /// rest are returned. Each rule's `event_category_override` and
    /// `timestamp_override` are applied to `opts`; the shipped rules take the
    /// ECS mapping when `opts` has none.
    pub fn compile(&self, opts: &CompileOptions) -> (CompiledRuleSet, Vec<RuleError>) {
        let mut compiled = Vec::with_capacity(self.rules.len());
        let mut errors = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let mut rule_opts = rule.compile_options(opts);
            if rule_opts.mapping.is_none() && self.ecs.get(i).copied().unwrap_or(false) {
                rule_opts.mapping.clone_from(&ECS);
            }
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

/// A compiled set from compiled rules (a subset of another set, say: see
/// [`CompiledRuleSet::subset`]).
impl FromIterator<CompiledRule> for CompiledRuleSet {
    fn from_iter<I: IntoIterator<Item = CompiledRule>>(rules: I) -> Self {
        CompiledRuleSet::new(rules.into_iter().collect())
    }
}

/// The rule files under `dir`; an unreadable directory is reported and skipped.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<RuleLoadError>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(RuleLoadError::io(dir, e)),
    };
    for entry in entries {
        let (path, kind) = match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
            Ok(x) => x,
            Err(e) => {
                errors.push(RuleLoadError::io(dir, e));
                continue;
            }
        };
        if kind.is_dir() {
            collect_files(&path, out, errors);
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["toml", "eql", "jsonl", "ndjson"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x))
        }) {
            out.push(path);
        }
    }
}
