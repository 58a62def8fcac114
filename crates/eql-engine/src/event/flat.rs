//! An event read straight into the values of a pack's fields, with no tree
//! in between ([`crate::event::quick::read_flat`]), and what a pack
//! precomputes to read it.
//!
//! A [`FlatPlan`] holds the pack's fields, each once, and, for each
//! projection the pack resolves events through (the category fields, each
//! bucket's fields, the captured fields), where each of those fields goes in
//! it. A [`FlatEvent`] answers [`Event::resolve_all`] for those projections
//! from the values read, in one pass over them, and [`Event::get`] for any
//! field: a pack field from its value, any other field by parsing the text
//! (which the pack never needs, but which keeps every answer exact).

use crate::event::json::Tree;
use crate::event::project::Projection;
use crate::event::quick::Node;
use crate::event::resolve::Resolver;
use crate::Event;
use eql_plan::{FieldPath, Value};
use std::cell::OnceCell;
use std::collections::HashMap;

/// Where the fields of one projection are among a plan's fields.
#[derive(Clone, Debug)]
struct Targets {
    /// The projection's [`Projection::id`].
    id: u32,
    /// For plan field `f`: the projection's paths `paths[starts[f]..starts[f + 1]]`.
    starts: Vec<u32>,
    paths: Vec<u32>,
    /// The projection's [`Resolver::whole_from`].
    whole_from: usize,
}

/// A pack's fields, each once, read by [`crate::event::quick::read_flat`],
/// and the projections it answers.
#[derive(Clone, Debug)]
pub(crate) struct FlatPlan {
    resolver: Resolver,
    /// Each field's index in `resolver`.
    index: HashMap<FieldPath, u32>,
    projections: Vec<Targets>,
}

impl FlatPlan {
    /// The plan of `fields` (repeats ignored) answering `projections`,
    /// whose paths must all be among `fields`. `None` when the flat reader
    /// cannot serve these fields ([`Resolver::direct_ok`]).
    pub(crate) fn new<'p>(
        fields: impl IntoIterator<Item = &'p FieldPath>,
        projections: &[&Projection],
    ) -> Option<FlatPlan> {
        let mut index: HashMap<FieldPath, u32> = HashMap::new();
        let mut paths: Vec<FieldPath> = Vec::new();
        for f in fields {
            if !index.contains_key(f) {
                index.insert(f.clone(), u32::try_from(paths.len()).ok()?);
                paths.push(f.clone());
            }
        }
        let resolver = Resolver::new(paths);
        if !resolver.direct_ok() {
            return None;
        }
        let n = resolver.paths().len();
        let mut targeted = Vec::new();
        for p in projections {
            let r = p.resolver();
            let mut per: Vec<Vec<u32>> = vec![Vec::new(); n];
            for (i, path) in r.paths().iter().enumerate() {
                let f = *index.get(path)?;
                per.get_mut(f as usize)?.push(u32::try_from(i).ok()?);
            }
            let mut starts = Vec::with_capacity(n + 1);
            let mut at = Vec::new();
            for t in per {
                starts.push(u32::try_from(at.len()).ok()?);
                at.extend(t);
            }
            starts.push(u32::try_from(at.len()).ok()?);
            targeted.push(Targets {
                id: p.id(),
                starts,
                paths: at,
                whole_from: r.whole_from(),
            });
        }
        Some(FlatPlan {
            resolver,
            index,
            projections: targeted,
        })
    }

    /// The fields, for [`crate::event::quick::read_flat`].
    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }
}

/// An event as [`crate::event::quick::read_flat`] read it through a
/// [`FlatPlan`]'s resolver.
pub(crate) struct FlatEvent<'a> {
    /// (field, its value whole), one per field found.
    found: &'a [(u32, Node<'a>)],
    plan: &'a FlatPlan,
    /// The event's text, parsed only for a field outside the plan.
    text: &'a str,
    dom: OnceCell<Option<serde_json::Value>>,
}

impl<'a> FlatEvent<'a> {
    pub(crate) fn new(found: &'a [(u32, Node<'a>)], plan: &'a FlatPlan, text: &'a str) -> Self {
        FlatEvent {
            found,
            plan,
            text,
            dom: OnceCell::new(),
        }
    }
}

impl Event for FlatEvent<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        match self.plan.index.get(path) {
            Some(&f) => self.found.iter().find(|x| x.0 == f).map(|x| x.1.to_value()),
            None => self
                .dom
                .get_or_init(|| serde_json::from_str(self.text).ok())
                .as_ref()
                .and_then(|d| Event::get(d, path)),
        }
    }

    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        let id = projection.id();
        let Some(t) = self.plan.projections.iter().find(|t| t.id == id) else {
            return false;
        };
        let r = projection.resolver();
        debug_assert_eq!(r.whole_from(), t.whole_from);
        for (f, v) in self.found {
            let (Some(&from), Some(&to)) =
                (t.starts.get(*f as usize), t.starts.get(*f as usize + 1))
            else {
                continue;
            };
            for &p in t.paths.get(from as usize..to as usize).unwrap_or(&[]) {
                r.report_value(p as usize, v, sink);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::quick::read_flat;
    use bumpalo::Bump;
    use serde_json::json;

    fn paths(ps: &[&str]) -> Vec<FieldPath> {
        ps.iter().map(|p| FieldPath::parse_dotted(p)).collect()
    }

    /// Each projection a plan answers gives, through the flat event, what
    /// the DOM gives; a field outside the plan is read from the text.
    #[test]
    fn answers_its_projections_and_any_field_as_the_dom_does() {
        let fields = paths(&["a.b", "a.c", "d", "e.f.g", "h"]);
        let items = Projection::new(&paths(&["d", "a.b", "h"]));
        let values = Projection::items_then_values(&paths(&["a.c"]), &paths(&["a.b", "e.f.g"]));
        let other = Projection::new(&paths(&["a.b"]));
        let plan = FlatPlan::new(&fields, &[&items, &values]);
        let Some(plan) = plan else {
            panic!("plain fields: a flat plan");
        };
        let dom = json!({"a": {"b": [1, null, {"x": 2}, "s"], "c": {"k": [true]}}, "d": null,
                         "e": {"f": {"g": "G"}}, "h": 2.5, "z": {"y": 1}});
        let text = dom.to_string();
        let bump = Bump::new();
        let mut found = Vec::new();
        assert!(read_flat(
            &text,
            &bump,
            &mut String::new(),
            plan.resolver(),
            &mut crate::event::resolve::KeyHints::default(),
            &mut found
        )
        .is_some());
        let ev = FlatEvent::new(&found, &plan, &text);
        for p in [&items, &values] {
            let (mut got, mut want) = (Vec::new(), Vec::new());
            assert!(ev.resolve_all(p, &mut |i, v| got.push((i, v.into_owned()))));
            assert!(dom.resolve_all(p, &mut |i, v| want.push((i, v.into_owned()))));
            got.sort_by_key(|g| g.0);
            want.sort_by_key(|w| w.0);
            assert_eq!(got, want);
        }
        // A projection the plan was not made for: field by field.
        assert!(!ev.resolve_all(&other, &mut |_, _| ()));
        for p in paths(&["a.b", "a.c", "d", "e.f.g", "h", "z.y", "z", "a.b.x", "q"]) {
            assert_eq!(ev.get(&p), Event::get(&dom, &p), "{p}");
        }
    }

    #[test]
    fn fields_that_only_the_tree_serves_give_no_plan() {
        let p = Projection::new(&paths(&["a"]));
        assert!(FlatPlan::new(&paths(&["a", "a.b"]), &[&p]).is_none());
        // A projection path outside the fields.
        assert!(FlatPlan::new(&paths(&["b"]), &[&p]).is_none());
    }
}
