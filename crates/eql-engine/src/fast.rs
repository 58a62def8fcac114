//! The plan evaluator: a lowered [`Cond`] over per-event field slots.
//!
//! Each field the plan reads is resolved at most once per event into a slot
//! (its scalar values, arrays flattened), and folded to lower case at most
//! once, lazily, the first time a case-insensitive test needs it. Generic
//! leaves fall back to the reference interpreter on the same event, so the
//! result is the reference's by construction; the differential tests check
//! the compiled leaves.

use crate::eval::{num_cmp, Ctx, Env};
use crate::{Event, Projection};
use eql_plan::{fold, CmpOp, Cond, FieldId, FieldPath, FieldTable, Test, TestOp, Value};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cmp::Ordering;

/// One field's values for the current event.
#[derive(Default)]
struct Slot<'e> {
    resolved: bool,
    /// Scalars (strings, numbers, booleans); `null`s and objects dropped.
    scalars: SmallVec<[Value<'e>; 1]>,
    /// `fold()` of each string scalar, once computed.
    /// Borrowed from the event when the text is already lower case.
    folded: Option<SmallVec<[Option<Cow<'e, str>>; 1]>>,
}

/// Per-event field slots, reused across events by resetting.
pub(crate) struct Slots<'e> {
    slots: Vec<Slot<'e>>,
}

/// The empty allocation of a [`Slots`], kept between events (in
/// [`crate::Hits`]) so that a pack allocates no slots per event.
#[derive(Default)]
pub(crate) struct SlotBuf(Vec<Slot<'static>>);

impl Clone for SlotBuf {
    /// A clone starts with no allocation of its own.
    fn clone(&self) -> Self {
        SlotBuf::default()
    }
}

impl std::fmt::Debug for SlotBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBuf(capacity {})", self.0.capacity())
    }
}

/// Empties `v` and hands its allocation to slots of another lifetime: the
/// in-place `collect` of an empty vector keeps its buffer.
fn recycle<'b>(mut v: Vec<Slot<'_>>) -> Vec<Slot<'b>> {
    v.clear();
    v.into_iter().map(|_| Slot::default()).collect()
}

fn flatten<'e>(v: Value<'e>, out: &mut SmallVec<[Value<'e>; 1]>) {
    match v {
        Value::Null | Value::Object(_) => {}
        Value::Array(items) => {
            for x in items {
                flatten(x, out);
            }
        }
        x => out.push(x),
    }
}

impl<'e> Slots<'e> {
    pub(crate) fn new(n: usize) -> Self {
        Slots::with_buf(SlotBuf::default(), n)
    }

    /// `n` empty slots in the allocation of `buf`.
    pub(crate) fn with_buf(buf: SlotBuf, n: usize) -> Self {
        let mut slots = recycle(buf.0);
        slots.resize_with(n, Slot::default);
        Slots { slots }
    }

    /// Empties the slots and returns their allocation for the next event.
    pub(crate) fn into_buf(self) -> SlotBuf {
        SlotBuf(recycle(self.slots))
    }

    /// Resolves the fields `ids` at once through [`Event::resolve_all`]
    /// (`projection` lists their paths in the same order), skipping those
    /// already resolved. Returns false, with nothing resolved, when the event
    /// does not support it: the fields stay lazily resolved.
    pub(crate) fn fill(
        &mut self,
        event: &'e dyn Event,
        projection: &Projection,
        ids: &[FieldId],
    ) -> bool {
        let slots = &mut self.slots;
        let ok = event.resolve_all(projection, &mut |i, v| {
            let slot = ids.get(i).and_then(|id| slots.get_mut(id.0 as usize));
            if let Some(slot) = slot.filter(|s| !s.resolved) {
                flatten(v, &mut slot.scalars);
            }
        });
        if ok {
            for id in ids {
                if let Some(s) = self.slots.get_mut(id.0 as usize) {
                    s.resolved = true;
                }
            }
        }
        ok
    }

    /// Adds one item to slot `i` (raw-bytes resolution).
    pub(crate) fn push_item(&mut self, i: usize, v: Value<'e>) {
        if let Some(slot) = self.slots.get_mut(i) {
            flatten(v, &mut slot.scalars);
        }
    }

    /// Marks every slot resolved: fields with no item are missing.
    pub(crate) fn mark_all_resolved(&mut self) {
        for s in &mut self.slots {
            s.resolved = true;
        }
    }

    fn resolve(&mut self, id: FieldId, fields: &FieldTable, event: &'e dyn Event) -> usize {
        let i = id.0 as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let slot = &mut self.slots[i];
        if !slot.resolved {
            slot.resolved = true;
            if let Some(v) = event.get(fields.path(id)) {
                flatten(v, &mut slot.scalars);
            }
        }
        i
    }

    fn fold_slot(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if slot.folded.is_none() {
            slot.folded = Some(
                slot.scalars
                    .iter()
                    .map(|v| match v {
                        Value::Str(Cow::Borrowed(b)) => Some(fold(b)),
                        Value::Str(Cow::Owned(o)) => Some(Cow::Owned(fold(o).into_owned())),
                        _ => None,
                    })
                    .collect(),
            );
        }
    }

    /// The string values of a field, raw or folded, for the candidate index.
    ///
    /// ASCII text is folded into a reused buffer, on the stack when short
    /// (`fold` of ASCII is `to_ascii_lowercase`), so the index allocates
    /// nothing for it; other text is folded once into the slot.
    pub(crate) fn strings(
        &mut self,
        id: FieldId,
        fields: &FieldTable,
        event: &'e dyn Event,
        folded: bool,
        mut f: impl FnMut(&str),
    ) {
        let i = self.resolve(id, fields, event);
        if !folded {
            for v in &self.slots[i].scalars {
                if let Value::Str(s) = v {
                    f(s);
                }
            }
            return;
        }
        let ascii = self.slots[i].scalars.iter().all(|v| match v {
            Value::Str(s) => s.is_ascii(),
            _ => true,
        });
        if ascii {
            let mut buf: SmallVec<[u8; FOLD_ON_STACK]> = SmallVec::new();
            for v in &self.slots[i].scalars {
                let Value::Str(s) = v else { continue };
                if !s.bytes().any(|b| b.is_ascii_uppercase()) {
                    f(s);
                    continue;
                }
                buf.clear();
                buf.extend_from_slice(s.as_bytes());
                buf.make_ascii_lowercase();
                if let Ok(t) = std::str::from_utf8(&buf) {
                    f(t);
                }
            }
            return;
        }
        self.fold_slot(i);
        if let Some(fs) = &self.slots[i].folded {
            for s in fs.iter().flatten() {
                f(s);
            }
        }
    }
}

/// ASCII text up to this many bytes is folded on the stack; longer text in
/// one heap buffer per call.
const FOLD_ON_STACK: usize = 512;

/// Evaluates `cond` for an event. `ctx` is the reference context for generic
/// leaves (the same event).
pub(crate) fn eval<'e>(
    cond: &Cond,
    fields: &FieldTable,
    slots: &mut Slots<'e>,
    event: &'e dyn Event,
    ctx: &Ctx<'_>,
) -> bool {
    match cond {
        Cond::Const(b) => *b,
        Cond::And(cs) => cs.iter().all(|c| eval(c, fields, slots, event, ctx)),
        Cond::Or(cs) => cs.iter().any(|c| eval(c, fields, slots, event, ctx)),
        Cond::Not(c) => !eval(c, fields, slots, event, ctx),
        Cond::Witnessed(_, c) => eval(c, fields, slots, event, ctx),
        Cond::Test(t) => test(t, fields, slots, event),
        Cond::Generic(e) => {
            if ctx.py() {
                ctx.eval(e, &Env::new()).is_some_and(|v| ctx.truthy(&v))
            } else {
                ctx.leaf_any(e, &Env::new())
            }
        }
    }
}

fn test<'e>(t: &Test, fields: &FieldTable, slots: &mut Slots<'e>, event: &'e dyn Event) -> bool {
    let i = slots.resolve(t.field, fields, event);
    let ci = matches!(&t.op, TestOp::In { ci: true, strs, .. } if !strs.is_empty())
        || matches!(&t.op, TestOp::Glob { ci: true, .. });
    if ci {
        slots.fold_slot(i);
    }
    let slot = &slots.slots[i];
    match &t.op {
        TestOp::In { strs, others, ci } => slot.scalars.iter().enumerate().any(|(k, v)| match v {
            Value::Str(s) => {
                if *ci {
                    folded_at(slot, k).is_some_and(|f| strs.contains(f))
                } else {
                    strs.contains(s)
                }
            }
            v => others.iter().any(|o| scalar_eq(v, o)),
        }),
        TestOp::Cmp { op, value } => slot.scalars.iter().any(|v| {
            compare(v, value).is_some_and(|ord| match op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
            })
        }),
        TestOp::Glob { exact, globs, ci } => slot.scalars.iter().enumerate().any(|(k, v)| {
            let Value::Str(raw) = v else { return false };
            let s: &str = if *ci {
                match folded_at(slot, k) {
                    Some(f) => f,
                    None => return false,
                }
            } else {
                raw
            };
            exact.contains(s) || globs.iter().any(|g| g.is_match(s))
        }),
        TestOp::Regex { res, .. } => slot.scalars.iter().any(|v| match v {
            Value::Str(s) => res.iter().any(|r| r.is_match(s)),
            _ => false,
        }),
    }
}

fn folded_at<'s>(slot: &'s Slot<'_>, k: usize) -> Option<&'s str> {
    slot.folded
        .as_ref()
        .and_then(|f| f.get(k))
        .and_then(|x| x.as_deref())
}

/// ES equality of two non-string scalars (strings go through the set).
fn scalar_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            num_cmp(a, b) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

/// ES order comparison (strings by code point, no folding).
fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => num_cmp(a, b),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// An event with no fields: for constant folding, and for a raw-bytes match
/// whose slots are all resolved already (nothing else to read).
pub(crate) struct NoFields;

impl Event for NoFields {
    fn get(&self, _: &FieldPath) -> Option<Value<'_>> {
        None
    }
}

/// True when `c` has a generic leaf (one that reads the event itself).
pub(crate) fn has_generic(c: &eql_plan::Cond) -> bool {
    use eql_plan::Cond;
    match c {
        Cond::Generic(_) => true,
        Cond::And(cs) | Cond::Or(cs) => cs.iter().any(has_generic),
        Cond::Not(c) | Cond::Witnessed(_, c) => has_generic(c),
        Cond::Const(_) | Cond::Test(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_buffer_keeps_its_allocation_across_events() {
        let text = String::from("borrowed from one event");
        let mut slots = Slots::with_buf(SlotBuf::default(), 16);
        slots.push_item(3, Value::Str(Cow::Borrowed(&text)));
        let buf = slots.into_buf();
        let capacity = buf.0.capacity();
        assert!(capacity >= 16, "capacity {capacity}");
        assert!(buf.0.is_empty());
        // The next event gets the same allocation, with every slot empty.
        let next = Slots::with_buf(buf, 16);
        assert_eq!(next.slots.capacity(), capacity);
        assert!(next
            .slots
            .iter()
            .all(|s| s.scalars.is_empty() && !s.resolved));
    }
}
