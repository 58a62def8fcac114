//! Deterministic ids: the rule's in Kibana, an alert's from its sources.

use serde_json::Value as Json;

use super::AlertEvent;
use crate::rules::Rule;

/// The rule's id in Kibana (`kibana.alert.rule.uuid`): its `id` when the
/// rule object has one (an exported rule), else its `rule_id`, else a hash
/// of its name.
pub(super) fn rule_uuid(rule: &Rule) -> String {
    if let Some(Json::String(id)) = rule.extra.get("id") {
        return id.clone();
    }
    rule.rule_id
        .clone()
        .unwrap_or_else(|| hex(fnv1a128(&[rule.name.as_bytes()])))
}

/// An alert's id: the hash of its source documents' ids and indices and
/// the rule's id; a building block's also hashes its position.
pub(super) fn alert_id(rule_uuid: &str, events: &[AlertEvent<'_>], block: Option<usize>) -> String {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(events.len() * 2 + 2);
    for e in events {
        parts.push(e.id.as_bytes());
        parts.push(e.index.as_bytes());
    }
    parts.push(rule_uuid.as_bytes());
    let pos = block.map(|i| i.to_string());
    if let Some(p) = &pos {
        parts.push(p.as_bytes());
    }
    hex(fnv1a128(&parts))
}

/// FNV-1a, 128 bits, over the parts with a 0xff separator after each (no
/// UTF-8 text holds 0xff, so distinct part lists hash distinct byte strings).
fn fnv1a128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

fn hex(h: u128) -> String {
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn ids_depend_on_every_input() {
        let ev = json!({});
        let one = [AlertEvent::new(&ev, "a")];
        let other = [AlertEvent::new(&ev, "b")];
        assert_ne!(alert_id("r", &one, None), alert_id("r", &other, None));
        assert_ne!(alert_id("r", &one, None), alert_id("s", &one, None));
        assert_ne!(alert_id("r", &one, None), alert_id("r", &one, Some(0)));
        assert_eq!(alert_id("r", &one, None), alert_id("r", &one, None));
        assert_eq!(alert_id("r", &one, None).len(), 32);
    }
}
