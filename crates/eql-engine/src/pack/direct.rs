//! A raw-bytes match without a tree: one pass over the bytes reads the
//! fields of every group into their slots.

use crate::eval::plan::{FreshSlots, SlotBuf, Slots};
use crate::event::input::from_serde;
use crate::event::project::{LazyProjected, Projection};
use crate::{Event, EventError};
use eql_plan::{Cond, FieldPath, FieldTable, PackPlan, PathSegment, Value};
use smallvec::SmallVec;
use std::borrow::Cow;

use super::{Group, Pack, PackMatches};

/// A raw-bytes match without a tree: one pass over the bytes reads the
/// fields of every group into their slots. The fields read are the paths of
/// keys only (no index) that no other such path goes on from, which is what
/// [`Projection::parse_direct`] serves; every group's category field is one
/// of them. The other fields, and the generic leaves' reads, go to the
/// event ([`Caught`]).
#[derive(Clone, Debug)]
pub(super) struct Direct {
    /// The paths read.
    pub(super) read: Projection,
    /// Per path of `read`: (group, field id) of each group that reads it.
    pub(super) to: Vec<SmallVec<[(u32, u32); 1]>>,
    /// Per path of `read`: a generic leaf reads it, so its whole value is
    /// kept for the leaf.
    pub(super) whole: Vec<bool>,
    /// Per path of `read`: the path.
    pub(super) paths: Vec<FieldPath>,
    /// Per path of `read`: its index among the captured paths, if any.
    pub(super) capture: Vec<Option<u32>>,
    /// Some captured path is not read by the pass (it has an index, or
    /// ends where another path goes on).
    pub(super) capture_rest: bool,
}

impl Pack {
    /// Straight from the bytes into every group's slots, when the document
    /// allows it (no dotted or repeated keys on a wanted path); false when
    /// it does not (nothing is matched then). The generic leaves read the
    /// whole values kept for them; the fields not read straight from the
    /// bytes come from the event, parsed only if one of them is read.
    pub(super) fn matches_direct(
        &self,
        direct: &Direct,
        text: &str,
        out: &mut PackMatches,
    ) -> Result<bool, EventError> {
        let n = self.groups.len();
        if out.slot_bufs.len() < n {
            out.slot_bufs.resize_with(n, SlotBuf::default);
        }
        let (simple, slots, cats, caught) = {
            let mut sink = DirectSlots {
                direct,
                groups: &self.groups,
                slots: self
                    .groups
                    .iter()
                    .zip(&mut out.slot_bufs)
                    .map(|(g, buf)| Slots::with_fresh(std::mem::take(buf), &g.fresh))
                    .collect(),
                cats: smallvec::smallvec![SmallVec::new(); n],
                caught: SmallVec::new(),
                captured: std::mem::take(&mut out.captured),
            };
            sink.captured.clear();
            let simple = direct.read.parse_direct(text, &mut sink);
            out.captured = sink.captured;
            (simple, sink.slots, sink.cats, sink.caught)
        };
        let simple = match simple {
            Ok(simple) => simple,
            Err(e) => {
                out.give_back(slots);
                return Err(from_serde(text, &e));
            }
        };
        if !simple {
            out.give_back(slots);
            return Ok(false);
        }
        let event = Caught {
            direct,
            values: caught,
            lazy: LazyProjected::new(text, &self.projection),
        };
        if direct.capture_rest {
            // Captured paths the pass does not read: from the event.
            for (k, p) in self.captures.iter().enumerate() {
                let Ok(k) = u32::try_from(k) else { continue };
                if direct.capture.contains(&Some(k)) {
                    continue;
                }
                if let Some(v) = event.get(p) {
                    out.captured.push((k, v.into_owned()));
                }
            }
        }
        // The pass reports them in document order.
        out.captured.sort_unstable_by_key(|c| c.0);
        // The slots and categories borrow the text; from here they also
        // borrow `event`, which reads the same text.
        let mut slots: SmallVec<[Slots<'_>; 2]> = slots.into_iter().map(shorter_slots).collect();
        out.rules.clear();
        for ((g, s), c) in self.groups.iter().zip(&mut slots).zip(cats) {
            s.end_pass();
            let c: SmallVec<[Cow<'_, str>; 2]> = c.into_iter().map(shorter_cow).collect();
            g.run(&self.engines, &event, s, c, false, out);
        }
        if n > 1 {
            out.rules.sort_unstable();
        }
        out.give_back(slots);
        if let Some(needs) = &self.capture_needs {
            needs.keep_wanted(out);
        }
        Ok(true)
    }
}

impl Direct {
    /// The raw-bytes reading of `groups` (their `direct_ids` set), or
    /// `None` when some group cannot use it: its category field is not a
    /// path of keys read straight, or a field's `null_value` reads
    /// explicit nulls (which bulk and raw-bytes resolution leave out).
    pub(super) fn new(groups: &mut [Group], captures: &[FieldPath]) -> Option<Direct> {
        if groups.iter().any(|g| g.reads_nulls) {
            return None;
        }
        let keys_only = |p: &FieldPath| {
            p.segments()
                .iter()
                .all(|s| matches!(s, PathSegment::Key(_)))
        };
        let mut paths: Vec<FieldPath> = Vec::new();
        for p in groups.iter().flat_map(|g| g.plan.fields()).chain(captures) {
            if keys_only(p) && !paths.contains(p) {
                paths.push(p.clone());
            }
        }
        // A path that ends where another goes on is read from the event.
        let ends_inside = |p: &FieldPath| {
            paths.iter().any(|q| {
                q.segments().len() > p.segments().len() && q.segments().starts_with(p.segments())
            })
        };
        let paths: Vec<FieldPath> = paths.iter().filter(|p| !ends_inside(p)).cloned().collect();
        let mut to: Vec<SmallVec<[(u32, u32); 1]>> = vec![SmallVec::new(); paths.len()];
        let mut whole = vec![false; paths.len()];
        for (gi, g) in groups.iter_mut().enumerate() {
            let generic = generic_fields(&g.plan);
            g.direct_ids.clear();
            for (id, p) in g.plan.fields().iter().enumerate() {
                let Some(k) = paths.iter().position(|q| q == p) else {
                    continue;
                };
                let id = u32::try_from(id).ok()?;
                g.direct_ids.push(id);
                if let Some(t) = to.get_mut(k) {
                    t.push((u32::try_from(gi).ok()?, id));
                }
                if generic.get(id as usize).copied().unwrap_or(false) {
                    if let Some(w) = whole.get_mut(k) {
                        *w = true;
                    }
                }
            }
            if !g.direct_ids.contains(&g.plan.category_field.0) {
                return None;
            }
            g.fresh = FreshSlots::new(g.plan.fields.len(), &g.direct_ids);
        }
        let capture: Vec<Option<u32>> = paths
            .iter()
            .map(|p| {
                let k = captures.iter().position(|c| c == p)?;
                u32::try_from(k).ok()
            })
            .collect();
        let capture_rest = capture.iter().flatten().count() < captures.len();
        let read = Projection::new(&paths);
        read.direct().then_some(Direct {
            read,
            to,
            whole,
            paths,
            capture,
            capture_rest,
        })
    }
}

/// The same slots, borrowing for less long.
pub(super) fn shorter_slots<'a, 'b: 'a>(s: Slots<'b>) -> Slots<'a> {
    s
}

/// The same string, borrowing for less long.
pub(super) fn shorter_cow<'a, 'b: 'a>(s: Cow<'b, str>) -> Cow<'a, str> {
    s
}

/// Per field of `plan`: a generic leaf reads it.
pub(super) fn generic_fields(plan: &PackPlan) -> Vec<bool> {
    pub(super) fn walk(c: &Cond, fields: &FieldTable, out: &mut [bool]) {
        match c {
            Cond::Generic(e) => e.walk(&mut |x| {
                if let eql_syntax::ExprKind::Field(f) = &x.kind {
                    if let Some(id) = fields.get(&FieldPath::new(f.path.clone())) {
                        if let Some(o) = out.get_mut(id.0 as usize) {
                            *o = true;
                        }
                    }
                }
                true
            }),
            Cond::Null { field, .. } => {
                if let Some(o) = out.get_mut(field.0 as usize) {
                    *o = true;
                }
            }
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| walk(c, fields, out)),
            Cond::Not(c) | Cond::Witnessed(_, c) => walk(c, fields, out),
            Cond::Const(_) | Cond::Test(_) => {}
        }
    }
    let mut out = vec![false; plan.fields.len()];
    for r in &plan.rules {
        walk(&r.cond, &plan.fields, &mut out);
    }
    out
}

/// Where a raw-bytes match puts what the one pass reads.
pub(super) struct DirectSlots<'d, 't> {
    pub(super) direct: &'d Direct,
    pub(super) groups: &'d [Group],
    /// Per group.
    pub(super) slots: SmallVec<[Slots<'t>; 2]>,
    /// Per group: the category values, as `Group::matches` reads them.
    pub(super) cats: SmallVec<[SmallVec<[Cow<'t, str>; 2]>; 2]>,
    /// (path of `direct.read`, whole value) of the paths generic leaves read.
    pub(super) caught: SmallVec<[(u32, Value<'t>); 4]>,
    /// (captured path, value) of the captured paths read.
    pub(super) captured: Vec<(u32, Value<'static>)>,
}

impl<'t> DirectSlots<'_, 't> {
    /// One item of field `id` of group `g`.
    pub(super) fn put(&mut self, g: u32, id: u32, item: Value<'t>) {
        let (Some(group), Some(slots)) =
            (self.groups.get(g as usize), self.slots.get_mut(g as usize))
        else {
            return;
        };
        if id == group.plan.category_field.0 {
            if let (Value::Str(s), Some(c)) = (&item, self.cats.get_mut(g as usize)) {
                c.push(s.clone());
            }
        }
        slots.push_item(id as usize, item, &group.plan.fields);
    }
}

impl<'t> crate::event::project::DirectSink<'t> for DirectSlots<'_, 't> {
    fn item(&mut self, path: usize, item: Value<'t>) {
        let Some(to) = self.direct.to.get(path) else {
            return;
        };
        let Some((&(g, id), others)) = to.split_last() else {
            return;
        };
        for &(g, id) in others {
            self.put(g, id, item.clone());
        }
        self.put(g, id, item);
    }

    fn found(&mut self, path: usize, value: &Value<'t>) {
        if let Some(&Some(k)) = self.direct.capture.get(path) {
            self.captured.push((k, value.clone().into_owned()));
        }
        if self.direct.whole.get(path).copied().unwrap_or(false) {
            if let Ok(p) = u32::try_from(path) {
                self.caught.push((p, value.clone()));
            }
        }
    }
}

/// The event a raw-bytes match evaluates generic leaves and the fields not
/// read straight from the bytes on: the whole values kept during the pass
/// for the generic leaves' paths (exactly `walk`'s, since the document had
/// no array, dotted key or repeated key on them), anything else from the
/// projected event, parsed on first use.
pub(super) struct Caught<'d, 't> {
    pub(super) direct: &'d Direct,
    pub(super) values: SmallVec<[(u32, Value<'t>); 4]>,
    pub(super) lazy: LazyProjected<'t, 'd>,
}

impl Event for Caught<'_, '_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        let kept = self
            .direct
            .paths
            .iter()
            .zip(&self.direct.whole)
            .position(|(p, &w)| w && p.dotted() == path.dotted() && p == path);
        match kept {
            Some(k) => self
                .values
                .iter()
                .find(|(p, _)| *p as usize == k)
                .map(|(_, v)| v.clone()),
            None => self.lazy.get(path),
        }
    }

    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        self.lazy.resolve_all(projection, sink)
    }
}
