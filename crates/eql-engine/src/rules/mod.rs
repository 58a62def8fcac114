//! Rule packs: Elastic detection-rules TOML files, `.eql` files and JSONL
//! rule lists, plus the shipped pack ([`RuleSet::builtin`]).
//!
//! Loading never panics on input: malformed TOML/JSON, a missing `query` or
//! a field of the wrong type are reported as [`RuleLoadError`]s naming the
//! file and the line. A file (or JSONL line) that fails is reported and the
//! others still load, as compiling a [`RuleSet`] reports each rule that fails
//! as a [`RuleError`] and keeps the others.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{CompileOptions, CompiledQuery};

#[cfg(feature = "serde")]
mod alert;
mod compiled;
mod error;
mod index;
mod load;
mod rule;
#[cfg(feature = "serde")]
pub use alert::{alert_documents, write_alert_documents, AlertEvent, AlertOptions};
pub use compiled::{CompiledRule, CompiledRuleSet};
pub(crate) use error::render_at;
pub use error::{RuleError, RuleLoadError};
pub use index::{event_index, IndexPatterns, IndexRoute, IndexRouter};
use load::parse_toml;
pub use rule::{Rule, Technique, Threat, ThreatRef};

/// [`RuleSet::compile`] starts a thread per this many rules, up to the
/// available cores.
pub const RULES_PER_COMPILE_THREAD: usize = 64;

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
    ///
    /// A set of more than [`RULES_PER_COMPILE_THREAD`] rules compiles on
    /// scoped threads, up to the available cores (a thread per that many
    /// rules), which have all ended when this returns; where no thread can
    /// be started, the rules compile on the caller's. The result is the
    /// same in every case: rules and errors in the set's order.
    pub fn compile(&self, opts: &CompileOptions) -> (CompiledRuleSet, Vec<RuleError>) {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        self.compile_on(opts, cores)
    }

    /// [`RuleSet::compile`] on at most `threads` threads.
    fn compile_on(
        &self,
        opts: &CompileOptions,
        threads: usize,
    ) -> (CompiledRuleSet, Vec<RuleError>) {
        let n = self.rules.len();
        let threads = threads.min(n / RULES_PER_COMPILE_THREAD).max(1);
        // Rule `i` compiles on thread `i % threads`: the costly rules (long
        // lists) are spread out, whatever their order in the set.
        let share = |k: usize| {
            (k..n)
                .step_by(threads)
                .filter_map(|i| Some((i, self.compile_rule(i, self.rules.get(i)?, opts))))
                .collect::<Vec<_>>()
        };
        let mut done = eql_plan::run_shares(threads, share);
        done.sort_unstable_by_key(|d| d.0);
        let mut compiled = Vec::with_capacity(n);
        let mut errors = Vec::new();
        for (_, r) in done {
            match r {
                Ok(c) => compiled.push(c),
                Err(e) => errors.push(*e),
            }
        }
        (CompiledRuleSet::new(compiled), errors)
    }

    /// Compiles rule `i` of the set.
    fn compile_rule(
        &self,
        i: usize,
        rule: &Rule,
        opts: &CompileOptions,
    ) -> Result<CompiledRule, Box<RuleError>> {
        let mut rule_opts = rule.compile_options(opts);
        if rule_opts.mapping.is_none() && self.ecs.get(i).copied().unwrap_or(false) {
            rule_opts.mapping.clone_from(&ECS);
        }
        match CompiledQuery::compile(&rule.query, &rule_opts) {
            Ok(engine) => Ok(CompiledRule {
                rule: rule.clone(),
                engine,
            }),
            Err(error) => Err(Box::new(RuleError {
                file: rule.source.clone(),
                line: rule.line,
                rule: rule.name.clone(),
                rendered: render_at(&error, &rule.query, &rule.source, rule.line),
                error,
            })),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A set of `n` rules, every seventh of which fails to compile.
    fn rules(n: usize) -> RuleSet {
        let mut text = String::new();
        for i in 0..n {
            let query = if i % 7 == 3 {
                format!("process where process.name == ({i}")
            } else {
                format!("process where process.pid == {i}")
            };
            let line = serde_json::json!({"name": format!("r{i}"), "query": query});
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let (set, errors) = RuleSet::parse_jsonl("rules.jsonl", &text);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    fn summary(out: &(CompiledRuleSet, Vec<RuleError>)) -> (Vec<String>, Vec<String>) {
        (
            out.0
                .iter()
                .map(|r| format!("{} {}", r.rule.name, r.engine.query()))
                .collect(),
            out.1
                .iter()
                .map(|e| format!("{}:{} {}", e.rule, e.line, e.rendered))
                .collect(),
        )
    }

    #[test]
    fn compiling_on_threads_gives_the_sequential_result() {
        let opts = CompileOptions::default();
        for n in [0, 1, RULES_PER_COMPILE_THREAD * 3 + 5] {
            let set = rules(n);
            let one = summary(&set.compile_on(&opts, 1));
            assert_eq!(one.0.len() + one.1.len(), n);
            assert_eq!(one.1.len(), (0..n).filter(|i| i % 7 == 3).count());
            for threads in [2, 3, 8] {
                assert_eq!(
                    summary(&set.compile_on(&opts, threads)),
                    one,
                    "{n} rules on {threads} threads"
                );
            }
            assert_eq!(summary(&set.compile(&opts)), one);
        }
    }
}
