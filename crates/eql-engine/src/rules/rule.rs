//! A detection rule's metadata: the Elastic rule object's fields.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::CompileOptions;

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
