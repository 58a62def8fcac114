//! The plan evaluator: a lowered [`Cond`] over per-event field slots.
//!
//! Each field the plan reads is resolved at most once per event into a slot
//! (its scalar values, arrays flattened), and folded to lower case at most
//! once, lazily, the first time a case-insensitive test needs it. Generic
//! leaves fall back to the reference interpreter on the same event, so the
//! result is the reference's by construction; the differential tests check
//! the compiled leaves.

mod slots;

use crate::eval::reference::{holds_value, num_cmp, Ctx, Env};
use crate::Event;
use eql_plan::{CmpOp, Cond, FieldPath, FieldTable, Test, TestOp, Value};
use std::cmp::Ordering;

pub(crate) use slots::{recycle, SlotBuf, Slots};

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
        Cond::Null { field, eq } => null_test(ctx.event.get(fields.path(*field)), *eq),
    }
}

/// [`Cond::Null`]: `field == null` (`eq`) or `field != null` on the
/// field's whole value, as the reference answers it: ES's `IsNull` and
/// `IsNotNull`, whether the value holds anything an `exists` query finds
/// ([`holds_value`]).
fn null_test(value: Option<Value<'_>>, eq: bool) -> bool {
    value.is_some_and(|v| holds_value(&v)) != eq
}

fn test<'e>(t: &Test, fields: &FieldTable, slots: &mut Slots<'e>, event: &'e dyn Event) -> bool {
    let i = slots.resolve(t.field, fields, event);
    let ci = matches!(&t.op, TestOp::In { ci: true, strs, .. } if !strs.is_empty())
        || matches!(&t.op, TestOp::Glob { ci: true, .. });
    if ci {
        slots.fold_slot(i);
    }
    let slots = &*slots;
    let scalars = slots.scalars(i).iter().map(|(_, v)| v);
    match &t.op {
        TestOp::In { strs, others, ci } => scalars.enumerate().any(|(k, v)| match v {
            Value::Str(s) => {
                if *ci {
                    slots.folded_at(i, k).is_some_and(|f| strs.contains(f))
                } else {
                    strs.contains(s)
                }
            }
            v => others.iter().any(|o| scalar_eq(v, o)),
        }),
        TestOp::Cmp { op, value } => scalars.into_iter().any(|v| {
            compare(v, value).is_some_and(|ord| match op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
            })
        }),
        TestOp::Glob { exact, globs, ci } => scalars.enumerate().any(|(k, v)| {
            let Value::Str(raw) = v else { return false };
            let s: &str = if *ci {
                match slots.folded_at(i, k) {
                    Some(f) => f,
                    None => return false,
                }
            } else {
                raw
            };
            exact.contains(s) || globs.iter().any(|g| g.is_match(s))
        }),
        TestOp::Regex { res, .. } => scalars.into_iter().any(|v| match v {
            Value::Str(s) => res.iter().any(|r| r.is_match(s)),
            _ => false,
        }),
        TestOp::Cidr { nets, .. } => scalars.into_iter().any(|v| {
            let Value::Str(s) = v else { return false };
            eql_plan::Cidr::address(s).is_some_and(|ip| nets.iter().any(|n| n.contains(ip)))
        }),
        TestOp::Typed(typed) => scalars.into_iter().any(|v| typed.test(v)),
    }
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
        Cond::Generic(_) | Cond::Null { .. } => true,
        Cond::And(cs) | Cond::Or(cs) => cs.iter().any(has_generic),
        Cond::Not(c) | Cond::Witnessed(_, c) => has_generic(c),
        Cond::Const(_) | Cond::Test(_) => false,
    }
}
