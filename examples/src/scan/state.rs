//! `scan --state`: the stateful rules' sessions saved at the end of a run
//! and restored at the start of the next, so a sequence that spans two
//! inputs (yesterday's file and today's) is found as in one input.
//!
//! The file is JSON: `{"format": "eql-scan-state", "version": 1, "rules":
//! [{"rule": KEY, "snapshot": ...}]}`, one entry per stateful rule with
//! state, keyed by the rule's `rule_id` (else its name) and its position
//! among the rules of that key. Each snapshot is the library's
//! [`eql_engine::SessionSnapshot`], whose handles are the events' input,
//! line and text.

use super::stateful::{session_setup, Carry, Handle, LineRef};
use eql_engine::{CompiledRuleSet, Session, SessionSnapshot, StreamOrder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::sync::Arc;

const FORMAT: &str = "eql-scan-state";
const VERSION: u32 = 1;

impl Serialize for Handle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A scan that keeps its stream open holds its lines themselves
        // (`Scanner::scan_path` reads them again only when the stream ends
        // with the input).
        let LineRef::Bytes(bytes) = &self.bytes else {
            return Err(serde::ser::Error::custom(format!(
                "line {} of {} is held by its place in the input, not saved",
                self.line, self.input
            )));
        };
        // The bytes passed the UTF-8 check when they were read.
        (&*self.input, self.line, String::from_utf8_lossy(bytes)).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (input, line, text) = <(String, u64, String)>::deserialize(d)?;
        Ok(Handle {
            input: Arc::from(input),
            line,
            bytes: LineRef::Bytes(Arc::from(text.into_bytes())),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    rules: Vec<RuleEntry>,
}

#[derive(Serialize, Deserialize)]
struct RuleEntry {
    rule: String,
    snapshot: SessionSnapshot<Handle>,
}

/// Each rule's key in a state file: its `rule_id` (else its name), then
/// `#N` for the N-th rule of that key (from 0).
fn keys(compiled: &CompiledRuleSet) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    compiled
        .iter()
        .map(|r| {
            let base = r
                .rule
                .rule_id
                .clone()
                .unwrap_or_else(|| r.rule.name.clone());
            let n = seen.entry(base.clone()).or_insert(0);
            let key = format!("{base}#{n}");
            *n += 1;
            key
        })
        .collect()
}

/// Reads a state file for `compiled`: every snapshot is restored once to
/// check it (the version, the rule's query and options, the state's
/// consistency and limits), so a bad file fails here, before any event is
/// read. A rule that is no longer in the set is an error too: its partial
/// sequences would be lost.
pub(crate) fn load(
    bytes: &[u8],
    compiled: &CompiledRuleSet,
    order: Option<StreamOrder>,
) -> Result<Carry, String> {
    let file: StateFile =
        serde_json::from_slice(bytes).map_err(|e| format!("not a scan state file: {e}"))?;
    if file.format != FORMAT {
        return Err(format!("not a scan state file (format {:?})", file.format));
    }
    if file.version != VERSION {
        return Err(format!(
            "state file version {}, this scan reads version {VERSION}",
            file.version
        ));
    }
    let by_key: HashMap<String, usize> = keys(compiled)
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    let mut carry = Carry::new();
    for entry in file.rules {
        let Some(&i) = by_key.get(&entry.rule) else {
            return Err(format!(
                "rule {} has state but is not among the rules",
                entry.rule
            ));
        };
        let Some(rule) = compiled.rules().get(i) else {
            return Err(format!(
                "rule {} has state but is not among the rules",
                entry.rule
            ));
        };
        let (plan, opts) = session_setup(rule, order);
        Session::restore(plan, opts, entry.snapshot.clone())
            .map_err(|e| format!("rule {}: {e}", entry.rule))?;
        carry.insert(i, entry.snapshot);
    }
    Ok(carry)
}

/// The state file of `carry`, as JSON.
pub(crate) fn save(carry: &Carry, compiled: &CompiledRuleSet) -> Result<Vec<u8>, String> {
    let keys = keys(compiled);
    let mut rules: Vec<(usize, &SessionSnapshot<Handle>)> =
        carry.iter().map(|(&i, s)| (i, s)).collect();
    rules.sort_by_key(|r| r.0);
    let file = StateFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        rules: rules
            .into_iter()
            .filter_map(|(i, s)| {
                Some(RuleEntry {
                    rule: keys.get(i)?.clone(),
                    snapshot: s.clone(),
                })
            })
            .collect(),
    };
    serde_json::to_vec(&file).map_err(|e| format!("writing the state: {e}"))
}
