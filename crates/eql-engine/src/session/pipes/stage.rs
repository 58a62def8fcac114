//! What each pipe stage does with a result that comes in (`Stage::take`)
//! and, for the blocking ones, at the end of the input (`Stage::flush`).

use super::{PipeSpec, Res, Stage, StageSpec};
use crate::session::keys::{Key, KeyAtom, KeyMap, KeySet};
use crate::session::Counters;
use crate::CompiledQuery;
use eql_plan::Value;
use std::cmp::Ordering;

/// What a stage reads of a result, evaluated before the stage's state is
/// borrowed: its key (`unique`, `unique_count`, `count`), its sort values
/// (`sort`), or whether it passes (`filter`).
pub(super) struct Probe {
    key: Option<Key>,
    sort_vals: Option<Vec<Option<Value<'static>>>>,
    pass: Option<bool>,
}

impl Probe {
    #[inline]
    pub(super) fn of<H>(
        spec: &PipeSpec,
        stage: &StageSpec,
        engine: &CompiledQuery,
        res: &Res<H>,
    ) -> Self {
        let (mut key, mut sort_vals, mut pass) = (None, None, None);
        match stage {
            StageSpec::Unique(keys) | StageSpec::UniqueCount(keys) | StageSpec::Count(keys) => {
                key = Some(spec.key(engine, keys, res));
            }
            StageSpec::Sort(keys) => sort_vals = Some(spec.values(engine, keys, res)),
            StageSpec::Filter(e) => pass = Some(engine.ctx(&spec.view(res)).matches(e)),
            StageSpec::Head(_) | StageSpec::Tail(_) => {}
        }
        Probe {
            key,
            sort_vals,
            pass,
        }
    }
}

impl<H> Stage<H> {
    /// Takes `res` into this stage (built from `spec`): the result to pass
    /// on to the next stage, or `None` when the stage keeps or drops it.
    #[inline]
    pub(super) fn take(
        &mut self,
        spec: &StageSpec,
        probe: Probe,
        res: Res<H>,
        max_keys: usize,
        c: &mut Counters,
    ) -> Option<Res<H>> {
        let Probe {
            key,
            sort_vals,
            pass,
        } = probe;
        match (self, spec) {
            (Stage::Head { seen }, &StageSpec::Head(n)) => {
                if *seen >= n {
                    return None;
                }
                *seen += 1;
            }
            (Stage::Tail { buf }, &StageSpec::Tail(n)) => {
                if n > 0 {
                    buf.push_back(res);
                    if buf.len() > n {
                        buf.pop_front();
                    }
                }
                return None;
            }
            (Stage::Filter, _) => {
                if pass != Some(true) {
                    return None;
                }
            }
            (Stage::Unique { seen }, _) => {
                if !first_seen(seen, key.unwrap_or_default(), max_keys, c) {
                    return None;
                }
            }
            (Stage::UniqueCount { index, entries }, _) => {
                count_result(index, entries, key.unwrap_or_default(), res);
                return None;
            }
            (Stage::Count { index, entries }, StageSpec::Count(keys)) => {
                count_key(index, entries, key.unwrap_or_default(), keys.is_empty());
                return None;
            }
            (Stage::Sort { buf }, _) => {
                buf.push((sort_vals.unwrap_or_default(), res));
                return None;
            }
            // The state is built from the spec, stage by stage.
            _ => return None,
        }
        Some(res)
    }

    /// End of input: what a blocking stage holds, in its output order, for
    /// the next stages; `None` for a streaming stage.
    pub(super) fn flush(&mut self) -> Option<Vec<Res<H>>> {
        Some(match self {
            Stage::Tail { buf } => buf.drain(..).collect(),
            Stage::Sort { buf } => sorted(std::mem::take(buf)),
            Stage::UniqueCount { entries, index } => {
                index.clear();
                let total: u64 = entries.iter().map(|e| e.1).sum();
                entries
                    .drain(..)
                    .map(|(mut r, n)| {
                        r.count = Some(n);
                        r.percent = Some(n as f64 / total.max(1) as f64);
                        r
                    })
                    .collect()
            }
            Stage::Count { entries, index } => {
                index.clear();
                counts(std::mem::take(entries))
            }
            _ => return None,
        })
    }
}

/// `unique`: true the first time `key` is seen.
#[inline]
fn first_seen(seen: &mut KeySet, key: Key, max_keys: usize, c: &mut Counters) -> bool {
    if seen.contains(&key) {
        return false;
    }
    if seen.len() >= max_keys {
        // Bounded memory over exactness: past the cap the
        // set starts again (counted per forgotten key).
        c.evicted_keys += seen.len() as u64;
        seen.clear();
    }
    seen.insert(key);
    true
}

/// `unique_count`: keeps the first result of `key` and adds up its count.
#[inline]
fn count_result<H>(
    index: &mut KeyMap<usize>,
    entries: &mut Vec<(Res<H>, u64)>,
    key: Key,
    mut res: Res<H>,
) {
    let add = res.count.unwrap_or(1);
    if let Some(&i) = index.get(&key) {
        if let Some(e) = entries.get_mut(i) {
            e.1 += add;
        }
    } else {
        index.insert(key, entries.len());
        res.count = None;
        entries.push((res, add));
    }
}

/// `count`: counts `key` (shown as `totals` when the pipe has no key).
#[inline]
fn count_key(
    index: &mut KeyMap<usize>,
    entries: &mut Vec<(Vec<Value<'static>>, u64)>,
    key: Key,
    totals: bool,
) {
    if let Some(&i) = index.get(&key) {
        if let Some(e) = entries.get_mut(i) {
            e.1 += 1;
        }
    } else {
        index.insert(key.clone(), entries.len());
        let shown = if totals {
            vec![Value::Str("totals".into())]
        } else {
            key.iter().map(KeyAtom::to_value).collect()
        };
        entries.push((shown, 1));
    }
}

/// `sort`'s output: the results by their sort values (an absent value
/// sorts as the empty value of its column's type), stably.
fn sorted<H>(mut items: Vec<(Vec<Option<Value<'static>>>, Res<H>)>) -> Vec<Res<H>> {
    let width = items.first().map_or(0, |x| x.0.len());
    let empties: Vec<Value<'static>> = (0..width)
        .map(|i| {
            items
                .iter()
                .find_map(|(vals, _)| vals.get(i).and_then(|v| v.as_ref()).map(empty_like))
                .unwrap_or(Value::Null)
        })
        .collect();
    let norm = |vals: &[Option<Value<'static>>], i: usize| -> Value<'static> {
        match vals.get(i) {
            Some(Some(v)) => v.clone(),
            _ => empties.get(i).cloned().unwrap_or(Value::Null),
        }
    };
    items.sort_by(|a, b| {
        for i in 0..width {
            let o = cmp_values(&norm(&a.0, i), &norm(&b.0, i));
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    items.into_iter().map(|x| x.1).collect()
}

/// `count`'s output: one result per key, by count, then by key.
fn counts<H>(mut entries: Vec<(Vec<Value<'static>>, u64)>) -> Vec<Res<H>> {
    let total: u64 = entries.iter().map(|e| e.1).sum();
    entries.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| cmp_values(&Value::Array(a.0.clone()), &Value::Array(b.0.clone())))
    });
    entries
        .into_iter()
        .map(|(key, n)| {
            let mut r = Res::empty();
            r.agg_key = key;
            r.count = Some(n);
            r.percent = Some(n as f64 / total.max(1) as f64);
            r
        })
        .collect()
}

/// Python sort order: numbers, then strings, ...; within a type the natural order.
#[allow(clippy::many_single_char_names)]
fn cmp_values(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    fn rank(v: &Value<'_>) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            crate::eval::reference::num_cmp(a, b).unwrap_or(Ordering::Equal)
        }
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = cmp_values(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn empty_like(v: &Value<'_>) -> Value<'static> {
    match v {
        Value::Bool(_) => Value::Bool(false),
        Value::Int(_) => Value::Int(0),
        Value::Float(_) => Value::Float(0.0),
        Value::Str(_) => Value::Str(String::new().into()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(Vec::new()),
        Value::Null => Value::Null,
    }
}
