//! Rule packs: the shipped pack, TOML/JSONL/.eql loading, error kinds, and
//! the seed rule against the sample events.
#![cfg(feature = "rules")]

use std::path::PathBuf;

mod common;

use eql_engine::{CompileOptions, RuleLoadError, RuleSet, Technique, Threat, ThreatRef};

const SEED_QUERY: &str = r#"file where host.os.type == "windows" and event.type != "deletion" and file.extension : ("exe", "dll") and process.name : ("smss.exe", "autochk.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe", "winlogon.exe", "userinit.exe", "LogonUI.exe")"#;

const SEED_FILE: &str = "unusual_executable_file_creation_by_system_critical_process.toml";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn expected_threat() -> Vec<Threat> {
    vec![
        Threat {
            framework: "MITRE ATT&CK".into(),
            tactic: ThreatRef {
                id: "TA0005".into(),
                name: "Defense Evasion".into(),
                reference: "https://attack.mitre.org/tactics/TA0005/".into(),
            },
            techniques: vec![Technique {
                id: "T1211".into(),
                name: "Exploitation for Defense Evasion".into(),
                reference: "https://attack.mitre.org/techniques/T1211/".into(),
                subtechniques: Vec::new(),
            }],
        },
        Threat {
            framework: "MITRE ATT&CK".into(),
            tactic: ThreatRef {
                id: "TA0002".into(),
                name: "Execution".into(),
                reference: "https://attack.mitre.org/tactics/TA0002/".into(),
            },
            techniques: vec![Technique {
                id: "T1203".into(),
                name: "Exploitation for Client Execution".into(),
                reference: "https://attack.mitre.org/techniques/T1203/".into(),
                subtechniques: Vec::new(),
            }],
        },
    ]
}

#[test]
fn builtin_pack_has_the_seed_rule_with_exact_metadata() {
    let set = RuleSet::builtin();
    assert_eq!(set.len(), 1);
    assert!(
        set.skipped().is_empty(),
        "a shipped rule failed to load: {:?}",
        set.skipped()
    );
    let r = &set.rules()[0];
    assert_eq!(
        r.name,
        "Unusual Executable File Creation by a System Critical Process"
    );
    assert_eq!(
        r.rule_id.as_deref(),
        Some("e94262f2-c1e9-4d3f-a907-aeab16712e1a")
    );
    assert_eq!(r.rule_type.as_deref(), Some("eql"));
    assert_eq!(r.language.as_deref(), Some("eql"));
    assert_eq!(r.version, Some(311));
    assert_eq!(r.author, strings(&["Elastic"]));
    assert_eq!(r.license.as_deref(), Some("Elastic License v2"));
    assert_eq!(r.severity.as_deref(), Some("high"));
    assert_eq!(r.risk_score, Some(73));
    assert_eq!(r.interval.as_deref(), Some("5m"));
    assert_eq!(r.from.as_deref(), Some("now-9m"));
    assert_eq!(r.max_signals, Some(100));
    assert_eq!(
        r.index,
        strings(&[
            "winlogbeat-*",
            "logs-endpoint.events.file-*",
            "logs-windows.sysmon_operational-*",
            "endgame-*",
            "logs-m365_defender.event-*",
            "logs-sentinel_one_cloud_funnel.*",
        ])
    );
    assert_eq!(
        r.tags,
        strings(&[
            "Domain: Endpoint",
            "OS: Windows",
            "Use Case: Threat Detection",
            "Tactic: Defense Evasion",
            "Tactic: Execution",
            "Resources: Investigation Guide",
            "Data Source: Elastic Endgame",
            "Data Source: Elastic Defend",
            "Data Source: Sysmon",
            "Data Source: Microsoft Defender for Endpoint",
            "Data Source: SentinelOne",
        ])
    );
    assert_eq!(r.threat, expected_threat());
    assert_eq!(r.query, SEED_QUERY);
    assert_eq!(r.event_category_override, None);
    assert_eq!(r.tiebreaker_field, None);
    assert_eq!(r.maturity.as_deref(), Some("production"));
    let note = r.note.as_deref().unwrap_or_default();
    for needle in [
        "SELECT * FROM dns_cache",
        "FROM services",
        "authenticode",
        "False positive analysis",
        "Response and remediation",
        "48 hours",
    ] {
        assert!(note.contains(needle), "note lacks {needle:?}");
    }
    assert!(r.source.ends_with(SEED_FILE));
    // The query starts on the line after `query = '''`.
    let text =
        include_str!("../rules/unusual_executable_file_creation_by_system_critical_process.toml");
    let query_line = text.lines().nth(r.line - 1).unwrap_or_default();
    assert!(
        query_line.starts_with("file where"),
        "line {}: {query_line}",
        r.line
    );
}

#[test]
fn shipped_toml_round_trips() {
    let path = manifest_dir().join("rules").join(SEED_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let rule_t = doc["rule"].as_table().unwrap();
    let loaded = load(&path);
    assert_eq!(loaded.len(), 1);
    let r = &loaded.rules()[0];
    let s = |k: &str| rule_t[k].as_str().unwrap().to_string();
    let list = |k: &str| -> Vec<String> {
        rule_t[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let int = |k: &str| u32::try_from(rule_t[k].as_integer().unwrap()).unwrap();
    assert_eq!(r.name, s("name"));
    assert_eq!(r.rule_id, Some(s("rule_id")));
    assert_eq!(r.description, Some(s("description")));
    assert_eq!(r.severity, Some(s("severity")));
    assert_eq!(r.risk_score, Some(int("risk_score")));
    assert_eq!(r.version, Some(int("version")));
    assert_eq!(r.max_signals, Some(int("max_signals")));
    assert_eq!(r.index, list("index"));
    assert_eq!(r.tags, list("tags"));
    assert_eq!(r.author, list("author"));
    assert_eq!(r.license, Some(s("license")));
    assert_eq!(r.from, Some(s("from")));
    assert_eq!(r.interval, Some(s("interval")));
    assert_eq!(r.language, Some(s("language")));
    assert_eq!(r.rule_type, Some(s("type")));
    assert_eq!(r.note, Some(s("note")));
    assert_eq!(r.query, s("query"));
    assert_eq!(r.references, list("references"));
    assert!(r.false_positives.is_empty());
    assert_eq!(r.building_block_type, None);
    // The `[metadata]` keys without a field of their own are kept.
    let meta = doc["metadata"].as_table().unwrap();
    assert_eq!(
        r.extra["metadata"]["updated_date"].as_str(),
        meta["updated_date"].as_str()
    );
    assert_eq!(
        r.extra["metadata"]["integration"].as_array().map(Vec::len),
        meta["integration"].as_array().map(Vec::len)
    );
    assert!(!r.is_deprecated());
    let threats = rule_t["threat"].as_array().unwrap();
    assert_eq!(r.threat.len(), threats.len());
    for (got, want) in r.threat.iter().zip(threats) {
        let tactic = want["tactic"].as_table().unwrap();
        assert_eq!(got.framework, want["framework"].as_str().unwrap());
        assert_eq!(got.tactic.id, tactic["id"].as_str().unwrap());
        assert_eq!(got.tactic.name, tactic["name"].as_str().unwrap());
        assert_eq!(got.tactic.reference, tactic["reference"].as_str().unwrap());
        let techs = want["technique"].as_array().unwrap();
        assert_eq!(got.techniques.len(), techs.len());
        for (gt, wt) in got.techniques.iter().zip(techs) {
            assert_eq!(gt.id, wt["id"].as_str().unwrap());
            assert_eq!(gt.name, wt["name"].as_str().unwrap());
            assert_eq!(gt.reference, wt["reference"].as_str().unwrap());
        }
    }
    // Folder loading finds the same rule.
    let dir = load(&manifest_dir().join("rules"));
    assert_eq!(dir.rules(), loaded.rules());
    // And the builtin pack is identical apart from the source path.
    let mut builtin = RuleSet::builtin().rules()[0].clone();
    builtin.source.clone_from(&r.source);
    assert_eq!(&builtin, r);
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn detection_rules_corpus_loads() {
    let path = common::shared_file("corpus/detection-rules-eql.jsonl");
    let set = load(&path);
    assert_eq!(set.len(), 1081);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut n = 0;
    for (rule, line) in set
        .rules()
        .iter()
        .zip(text.lines().filter(|l| !l.trim().is_empty()))
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(rule.query, v["query"].as_str().unwrap());
        assert_eq!(rule.name, v["name"].as_str().unwrap());
        assert_eq!(rule.rule_id.as_deref(), v["rule_id"].as_str());
        assert_eq!(
            rule.event_category_override.as_deref(),
            v.get("event_category_override").and_then(|x| x.as_str())
        );
        assert_eq!(
            rule.timestamp_override.as_deref(),
            v.get("timestamp_override").and_then(|x| x.as_str())
        );
        n += 1;
    }
    assert_eq!(n, 1081);
    // The override is honoured in the per-rule compile options.
    let over = set
        .iter()
        .find(|r| r.event_category_override.is_some())
        .unwrap();
    let opts = over.compile_options(&CompileOptions::default());
    assert_eq!(
        Some(opts.category_field.as_str()),
        over.event_category_override.as_deref()
    );
}

#[test]
fn seed_rule_fires_on_true_positives_only() {
    let set = RuleSet::builtin();
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{}", errors[0]);
    assert_eq!(compiled.len(), 1);
    let path = manifest_dir().join("../../examples/data/sample-events.ndjson");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut tp, mut near) = (0, 0);
    let mut wrong = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let expect = event["labels"]["expect_alert"].as_bool().unwrap();
        let what = event["labels"]["sample"].as_str().unwrap_or_default();
        let got = compiled.rules()[0].is_match(&event);
        if expect {
            tp += 1;
        } else {
            near += 1;
        }
        if got != expect {
            wrong.push(format!(
                "line {}: {what}: expected {expect}, got {got}",
                i + 1
            ));
        }
    }
    assert_eq!((tp, near), (7, 13));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Loads `path` and expects no error.
fn load(path: &std::path::Path) -> RuleSet {
    let (set, errors) = RuleSet::from_path(path);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

/// Loads `path` and expects exactly one error.
fn load_error(path: &std::path::Path) -> RuleLoadError {
    let (_, mut errors) = RuleSet::from_path(path);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eql-rules-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn missing_query_is_a_missing_field_error() {
    let path = write_temp(
        "no_query.toml",
        "[metadata]\nmaturity = \"production\"\n[rule]\nname = \"x\"\nlanguage = \"eql\"\n",
    );
    match load_error(&path) {
        RuleLoadError::MissingField {
            path: p,
            field,
            line,
        } => {
            assert_eq!(p, path);
            assert_eq!(field, "rule.query");
            // The line of the `[rule]` table that lacks it.
            assert_eq!(line, 3);
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
}

#[test]
fn wrong_type_is_a_wrong_type_error() {
    let path = write_temp(
        "bad_score.toml",
        "[rule]\nname = \"x\"\nrisk_score = \"high\"\nquery = 'process where true'\n",
    );
    match load_error(&path) {
        RuleLoadError::WrongType {
            path: p,
            field,
            line,
            ..
        } => {
            assert_eq!(p, path);
            assert_eq!(field, "rule.risk_score");
            assert_eq!(line, 3);
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    let err = load_error(&path).to_string();
    assert!(err.contains("bad_score.toml:3:"), "{err}");
    assert!(err.contains("bad_score.toml"), "{err}");
    assert!(err.contains("risk_score"), "{err}");
}

#[test]
fn malformed_toml_is_a_toml_error() {
    let path = write_temp("broken.toml", "[rule\nname = \n");
    match load_error(&path) {
        RuleLoadError::Toml { path: p, line, .. } => {
            assert_eq!(p, path);
            assert_eq!(line, 1);
        }
        other => panic!("expected Toml, got {other:?}"),
    }
}

#[test]
fn jsonl_and_eql_files_load() {
    let jsonl = write_temp(
        "rules.jsonl",
        concat!(
            r#"{"query": "process where process.name == \"a.exe\"", "name": "A", "severity": "low", "risk_score": 21}"#,
            "\n\n",
            r#"{"query": "file where true", "rule_id": "r-2", "event_category_override": "event.type", "tiebreaker_field": "event.sequence"}"#,
            "\n",
        ),
    );
    let set = load(&jsonl);
    assert_eq!(set.len(), 2);
    assert_eq!(set.rules()[0].name, "A");
    assert_eq!(set.rules()[0].risk_score, Some(21));
    assert_eq!(set.rules()[0].line, 1);
    assert_eq!(set.rules()[1].name, "r-2");
    assert_eq!(set.rules()[1].line, 3);
    assert_eq!(
        set.rules()[1].event_category_override.as_deref(),
        Some("event.type")
    );
    assert_eq!(
        set.rules()[1].tiebreaker_field.as_deref(),
        Some("event.sequence")
    );

    // A bad line is reported; the lines around it still load.
    let bad = write_temp(
        "bad.jsonl",
        "{\"query\": \"x\"}\n[1, 2]\n{\"query\": \"y\", \"risk_score\": -1}\n{\"query\": \"z\"}\n",
    );
    let (set, errors) = RuleSet::from_path(&bad);
    assert_eq!(
        set.iter().map(|r| r.query.as_str()).collect::<Vec<_>>(),
        ["x", "z"]
    );
    match &errors[..] {
        [RuleLoadError::Json { line: 2, .. }, RuleLoadError::WrongType { line: 3, field, .. }] => {
            assert_eq!(field, "risk_score");
        }
        other => panic!("expected Json and WrongType, got {other:?}"),
    }
    let missing = write_temp("missing.jsonl", "{\"name\": \"q\"}\n");
    assert!(matches!(
        load_error(&missing),
        RuleLoadError::MissingField { line: 1, .. }
    ));

    let eql = write_temp("my_rule.eql", "process where process.name == \"cmd.exe\"\n");
    let set = load(&eql);
    assert_eq!(set.rules()[0].name, "my_rule");
    assert_eq!(
        set.rules()[0].query,
        "process where process.name == \"cmd.exe\"\n"
    );
}

#[test]
fn compile_keeps_good_rules_and_reports_bad_ones() {
    let jsonl = write_temp(
        "mixed.jsonl",
        concat!(
            r#"{"query": "process where process.name == \"a.exe\"", "name": "good"}"#,
            "\n",
            r#"{"query": "process where ((( and", "name": "bad"}"#,
            "\n",
        ),
    );
    let set = load(&jsonl);
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert_eq!(compiled.len(), 1);
    assert_eq!(compiled.rules()[0].rule.name, "good");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].rule, "bad");
    assert_eq!(errors[0].line, 2);
    assert!(errors[0].file.ends_with("mixed.jsonl"));
    assert!(!errors[0].rendered.is_empty());
    assert!(set.compile_strict(&CompileOptions::default()).is_err());
}

#[test]
fn non_eql_rules_are_skipped() {
    let path = write_temp(
        "kql.toml",
        "[rule]\nname = \"k\"\nlanguage = \"kuery\"\nquery = 'a:b'\n",
    );
    let set = load(&path);
    assert!(set.is_empty());
    assert_eq!(set.skipped(), &[path.clone()][..]);
}

/// A rules folder as found in the wild: good rules, a file that is not
/// TOML, a rule with a wrong-typed field, a rule in another language and
/// a nested folder. The broken files are reported with their real line and
/// the others load.
#[test]
fn a_folder_with_broken_files_loads_the_rest() {
    let dir = std::env::temp_dir().join(format!("eql-rules-wild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("windows")).unwrap();
    let good = |name: &str| {
        format!(
            "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"{name}\"\nlanguage = \"eql\"\nquery = '''\nprocess where process.name == \"{name}\"\n'''\n"
        )
    };
    std::fs::write(dir.join("a_good.toml"), good("a")).unwrap();
    std::fs::write(dir.join("windows/c_good.toml"), good("c")).unwrap();
    // An unterminated string on line 6.
    std::fs::write(
        dir.join("b_broken.toml"),
        "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"b\"\ndescription = \"no end\nquery = 'x'\n",
    )
    .unwrap();
    // `version` on line 7 is a string.
    std::fs::write(
        dir.join("d_wrong_type.toml"),
        "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"d\"\nquery = 'any where true'\nversion = \"3\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("e_kuery.toml"),
        "[rule]\nname = \"e\"\nlanguage = \"kuery\"\nquery = 'a:b'\n",
    )
    .unwrap();
    let (set, errors) = RuleSet::from_path(&dir);
    let names: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].path().ends_with("b_broken.toml"));
    assert_eq!(errors[0].line(), Some(6));
    assert!(matches!(errors[0], RuleLoadError::Toml { .. }));
    assert!(
        errors[0]
            .to_string()
            .contains("b_broken.toml:6: invalid TOML"),
        "{}",
        errors[0]
    );
    match &errors[1] {
        RuleLoadError::WrongType {
            path, line, field, ..
        } => {
            assert!(path.ends_with("d_wrong_type.toml"));
            assert_eq!((*line, field.as_str()), (7, "rule.version"));
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
    // Good rules know where their query starts.
    assert_eq!(set.rules()[0].line, 8);
    // A path that does not exist is one I/O error.
    let (none, errors) = RuleSet::from_path(dir.join("missing"));
    assert!(none.is_empty());
    assert!(matches!(&errors[..], [RuleLoadError::Io { .. }]));
}

#[test]
fn rule_keeps_references_maturity_deprecation_and_unknown_fields() {
    let path = write_temp(
        "deprecated.toml",
        r#"[metadata]
creation_date = "2020/01/01"
deprecation_date = "2024/05/01"
maturity = "deprecated"

[rule]
author = ["Elastic"]
building_block_type = "default"
false_positives = ["Admins running the tool on purpose."]
name = "Old rule"
references = ["https://example.invalid/a", "https://example.invalid/b"]
risk_score = 21
setup = "Enable the integration."
severity = "low"
type = "eql"
query = 'process where true'

[[rule.related_integrations]]
package = "endpoint"
version = "^8.2.0"

[transform]
[[transform.osquery]]
label = "Osquery - dns"
query = "SELECT * FROM dns_cache"
"#,
    );
    let set = load(&path);
    let r = &set.rules()[0];
    assert_eq!(
        r.references,
        strings(&["https://example.invalid/a", "https://example.invalid/b"])
    );
    assert_eq!(
        r.false_positives,
        strings(&["Admins running the tool on purpose."])
    );
    assert_eq!(r.building_block_type.as_deref(), Some("default"));
    assert_eq!(r.maturity.as_deref(), Some("deprecated"));
    assert_eq!(r.deprecation_date.as_deref(), Some("2024/05/01"));
    assert!(r.is_deprecated());
    // Unknown fields: of the rule table, the rest of [metadata], other tables.
    assert_eq!(r.extra["setup"], "Enable the integration.");
    assert_eq!(r.extra["related_integrations"][0]["package"], "endpoint");
    assert_eq!(r.extra["metadata"]["creation_date"], "2020/01/01");
    assert!(r.extra["metadata"].get("maturity").is_none());
    assert_eq!(
        r.extra["transform"]["osquery"][0]["query"],
        "SELECT * FROM dns_cache"
    );
    // Known fields are not repeated in `extra`.
    for known in ["name", "query", "references", "building_block_type", "type"] {
        assert!(!r.extra.contains_key(known), "{known}");
    }
    assert_eq!(r.extra.len(), 4, "{:?}", r.extra.keys());
}

#[test]
fn the_shipped_rules_compile_with_the_ecs_mapping_and_others_do_not() {
    let ecs = eql_engine::ecs_mapping().expect("the shipped ECS mapping parses");
    assert_eq!(
        ecs.get("process.name")
            .map(eql_engine::mapping::MappedField::type_name),
        Some("keyword")
    );
    let mut set = RuleSet::builtin();
    let mut user = RuleSet::new();
    user.push(eql_engine::Rule {
        name: "dynamic".into(),
        query: "process where ?not_in_ecs == 1".into(),
        ..eql_engine::Rule::default()
    });
    set.extend(user);
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{}", errors[0]);
    let mapped: Vec<bool> = compiled
        .iter()
        .map(|r| r.engine.options().mapping.is_some())
        .collect();
    assert_eq!(mapped, [true, false]);
    // With the ECS mapping an optional field it lacks is null; the user's
    // rule keeps dynamic typing and reads it.
    let ev = serde_json::json!({"event": {"category": "process"}, "not_in_ecs": 1});
    assert!(compiled.rules()[1].is_match(&ev));
    // Options with a mapping of their own win over the ECS one.
    let own = eql_engine::Mapping::from_json(&serde_json::json!({"properties": {
        "@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}}}}))
    .unwrap();
    let (_, errors) = RuleSet::builtin().compile(&CompileOptions::default().with_mapping(own));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].error.diagnostic.code, "EQL0307");
}
