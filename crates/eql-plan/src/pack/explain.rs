//! EXPLAIN: a pack plan as text.

use super::{Bucket, FieldIndex, PackPlan, RulePlan, SetId};
use crate::ir::FieldId;
use std::fmt::{self, Write as _};

impl fmt::Display for PackPlan {
    /// EXPLAIN: routed buckets, fused matchers with their needles, the rules
    /// always evaluated, and each rule's lowered condition.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pack: {} rules, {} fields",
            self.rules.len(),
            self.fields.len()
        )?;
        writeln!(
            f,
            "fields: {}",
            self.fields
                .paths()
                .iter()
                .map(crate::FieldPath::dotted)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(f, "routing on {}:", self.name(self.category_field))?;
        let mut cats: Vec<(&String, &Bucket)> = self.buckets.iter().collect();
        cats.sort_by(|a, b| a.0.cmp(b.0));
        let other = String::from("(other)");
        cats.push((&other, &self.other));
        for (cat, b) in cats {
            self.write_bucket(f, cat, b)?;
        }
        for (i, r) in self.rules.iter().enumerate() {
            self.write_rule(f, i, r)?;
        }
        Ok(())
    }
}

impl PackPlan {
    fn name(&self, id: FieldId) -> String {
        self.fields.path(id).dotted().to_owned()
    }

    /// A category's bucket: its counts, then each fused matcher.
    fn write_bucket(&self, f: &mut fmt::Formatter<'_>, cat: &str, b: &Bucket) -> fmt::Result {
        writeln!(
            f,
            "  bucket {cat}: {} rules, {} distinct witness sets, {} always evaluated {:?}",
            b.rules.len(),
            b.set_rules.len(),
            b.always.len(),
            b.always.iter().map(|r| r.0).collect::<Vec<_>>()
        )?;
        for ix in &b.index {
            self.write_matcher(f, b, ix)?;
        }
        Ok(())
    }

    /// One field's matcher: its exact values, numbers and contains needles,
    /// each with the rules it selects (the first eight).
    fn write_matcher(
        &self,
        f: &mut fmt::Formatter<'_>,
        b: &Bucket,
        ix: &FieldIndex,
    ) -> fmt::Result {
        let rules_of = |ss: &[SetId]| -> Vec<u32> {
            let mut rs: Vec<u32> = ss
                .iter()
                .flat_map(|s| b.set_rules.get(s.0 as usize).into_iter().flatten())
                .map(|r| r.0)
                .collect();
            rs.sort_unstable();
            rs.dedup();
            rs
        };
        for (map, folded) in [(&ix.exact, false), (&ix.exact_folded, true)] {
            if map.is_empty() && (folded || !ix.exact_folded.is_empty()) {
                continue;
            }
            let mut exact: Vec<(&str, Vec<u32>)> =
                map.iter().map(|(k, v)| (&**k, rules_of(v))).collect();
            exact.sort();
            writeln!(
                f,
                "    matcher {}{}: exact[{}] {}",
                self.name(ix.field),
                if folded { " (folded)" } else { "" },
                exact.len(),
                preview(
                    exact.iter().map(|(k, v)| format!("{k:?}→{v:?}")),
                    exact.len(),
                    "values"
                )
            )?;
        }
        if ix.has_numbers() {
            let mut numbers: Vec<(f64, Vec<u32>)> = ix
                .numbers
                .iter()
                .map(|(k, v)| (f64::from_bits(*k), rules_of(v)))
                .collect();
            numbers.sort_by(|a, b| a.0.total_cmp(&b.0));
            writeln!(
                f,
                "      numbers[{}] {}",
                numbers.len(),
                preview(
                    numbers.iter().map(|(k, v)| format!("{k}→{v:?}")),
                    numbers.len(),
                    "numbers"
                )
            )?;
        }
        if let Some(c) = &ix.contains {
            let needles = c.needles.iter().zip(&c.folded).zip(&c.sets);
            writeln!(
                f,
                "      aho-corasick contains[{}] {}",
                c.needles.len(),
                preview(
                    needles.map(|((n, &folded), ss)| {
                        let mode = if folded { "~" } else { "" };
                        format!("{mode}{n:?}→{:?}", rules_of(ss))
                    }),
                    c.needles.len(),
                    "needles"
                )
            )?;
        }
        Ok(())
    }

    /// Rule `i`: its category, its witness sets and its lowered condition.
    fn write_rule(&self, f: &mut fmt::Formatter<'_>, i: usize, r: &RulePlan) -> fmt::Result {
        writeln!(
            f,
            "rule {i} ({}): witness {}",
            r.category.as_deref().unwrap_or("any"),
            if r.witnesses.is_empty() {
                "none (always evaluated)".to_owned()
            } else {
                r.witnesses
                    .iter()
                    .map(|w| format!("{} atoms", w.len()))
                    .collect::<Vec<_>>()
                    .join(" and ")
            }
        )?;
        let mut s = String::new();
        r.cond.explain(&self.fields, 1, &mut s);
        f.write_str(&s)
    }
}

/// The first eight of `len` entries, then `… (len noun)` when there are
/// more.
fn preview(entries: impl Iterator<Item = String>, len: usize, noun: &str) -> String {
    let mut s = String::new();
    for e in entries.take(8) {
        s.push_str(&e);
        s.push(' ');
    }
    if len > 8 {
        let _ = write!(s, "… ({len} {noun})");
    }
    s.trim_end().to_owned()
}
