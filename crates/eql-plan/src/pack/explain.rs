//! EXPLAIN: a pack plan as text.

use super::{Bucket, PackPlan, SetId};
use crate::ir::FieldId;
use std::fmt::{self, Write as _};

impl fmt::Display for PackPlan {
    /// EXPLAIN: routed buckets, fused matchers with their needles, the rules
    /// always evaluated, and each rule's lowered condition. (Long: one
    /// report, written section after section.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |id: FieldId| self.fields.path(id).dotted().to_owned();
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
        writeln!(f, "routing on {}:", name(self.category_field))?;
        let mut cats: Vec<(&String, &Bucket)> = self.buckets.iter().collect();
        cats.sort_by(|a, b| a.0.cmp(b.0));
        let other = String::from("(other)");
        cats.push((&other, &self.other));
        for (cat, b) in cats {
            writeln!(
                f,
                "  bucket {cat}: {} rules, {} distinct witness sets, {} always evaluated {:?}",
                b.rules.len(),
                b.set_rules.len(),
                b.always.len(),
                b.always.iter().map(|r| r.0).collect::<Vec<_>>()
            )?;
            for ix in &b.index {
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
                let mut exact: Vec<(&str, Vec<u32>)> =
                    ix.exact.iter().map(|(k, v)| (&**k, rules_of(v))).collect();
                exact.sort();
                let mut s = String::new();
                for (k, v) in exact.iter().take(8) {
                    let _ = write!(s, "{k:?}→{v:?} ");
                }
                if exact.len() > 8 {
                    let _ = write!(s, "… ({} values)", exact.len());
                }
                writeln!(
                    f,
                    "    matcher {}{}: exact[{}] {}",
                    name(ix.field),
                    if ix.ci { " (folded)" } else { "" },
                    exact.len(),
                    s.trim_end()
                )?;
                if ix.has_numbers() {
                    let mut numbers: Vec<(f64, Vec<u32>)> = ix
                        .numbers
                        .iter()
                        .map(|(k, v)| (f64::from_bits(*k), rules_of(v)))
                        .collect();
                    numbers.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let mut s = String::new();
                    for (k, v) in numbers.iter().take(8) {
                        let _ = write!(s, "{k}→{v:?} ");
                    }
                    if numbers.len() > 8 {
                        let _ = write!(s, "… ({} numbers)", numbers.len());
                    }
                    writeln!(f, "      numbers[{}] {}", numbers.len(), s.trim_end())?;
                }
                if let Some(c) = &ix.contains {
                    let mut s = String::new();
                    for (n, ss) in c.needles.iter().zip(&c.sets).take(8) {
                        let _ = write!(s, "{n:?}→{:?} ", rules_of(ss));
                    }
                    if c.needles.len() > 8 {
                        let _ = write!(s, "… ({} needles)", c.needles.len());
                    }
                    writeln!(
                        f,
                        "      aho-corasick contains[{}] {}",
                        c.needles.len(),
                        s.trim_end()
                    )?;
                }
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
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
            f.write_str(&s)?;
        }
        Ok(())
    }
}
