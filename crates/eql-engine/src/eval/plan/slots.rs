//! The per-event field slots of the plan evaluator: each field read at most
//! once per event, its scalars kept in arenas reused from event to event.

use crate::{Event, Projection};
use eql_plan::mapping::FieldKind;
use eql_plan::{fold, FieldId, FieldTable, Value};
use smallvec::SmallVec;
use std::borrow::Cow;

/// One field's place in the arenas of [`Slots`] for the current event.
///
/// `Copy`, with no drop glue: resetting the slots between events is a fill
/// of plain words, whatever the number of fields, and only the values the
/// event actually had are dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Slot {
    resolved: bool,
    /// `fold()` of each string scalar is at `folded[fstart..][..len]`.
    has_folded: bool,
    /// The scalars are `values[start..][..len]`.
    start: u32,
    len: u32,
    fstart: u32,
}

/// Per-event field slots: each field's scalars (strings, numbers, booleans;
/// `null`s and objects dropped, arrays flattened) in one arena, and their
/// folded forms, computed lazily, in another.
///
/// Invariant: a slot's items arrive in one *segment* (one bulk fill, one
/// raw-bytes parse, or one lazy read). Each slot's run is recorded as its
/// items arrive; a segment whose items came interleaved is grouped by slot
/// when it ends ([`Slots::close`]). Once a segment is closed, the items of
/// each of its fields are contiguous, in arrival order.
pub(crate) struct Slots<'e> {
    table: Vec<Slot>,
    /// (slot, scalar), grouped by slot once each segment is closed.
    values: Vec<(u32, Value<'e>)>,
    folded: Vec<Option<Cow<'e, str>>>,
    /// Start of the open segment in `values`.
    open: usize,
    /// The open segment's items are not grouped by slot.
    interleaved: bool,
    /// The index's ASCII folding buffer.
    scratch: String,
    /// Values a fill reported whole (captured fields), borrowed from the
    /// event until [`Slots::drain_whole`] moves them out.
    whole: Vec<(u32, Value<'e>)>,
    /// A fill read the whole values ([`Slots::holds_whole`]).
    whole_read: bool,
    /// The slots changed since the table was clean, when `dirty` is not
    /// set: [`Slots::into_buf`] resets only these.
    touched: Vec<u32>,
    /// Some change was not recorded in `touched`: the next user resets the
    /// whole table.
    dirty: bool,
}

/// The empty allocations of a [`Slots`], kept between events (in
/// [`crate::PackMatches`]) so that a pack allocates nothing per event once warm.
#[derive(Default)]
pub(crate) struct SlotBuf {
    table: Vec<Slot>,
    values: Vec<(u32, Value<'static>)>,
    folded: Vec<Option<Cow<'static, str>>>,
    scratch: String,
    whole: Vec<(u32, Value<'static>)>,
    touched: Vec<u32>,
    /// Every slot of `table` is `Slot::default()`: a pack that reads as many
    /// fields reuses it as it is (a wide pack's table is thousands of slots).
    clean: bool,
}

impl Clone for SlotBuf {
    /// A clone starts with no allocation of its own.
    fn clone(&self) -> Self {
        SlotBuf::default()
    }
}

impl std::fmt::Debug for SlotBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SlotBuf(capacity {} slots, {} values)",
            self.table.capacity(),
            self.values.capacity()
        )
    }
}

/// Empties `v` and hands its allocation to items of another lifetime: the
/// in-place `collect` of an empty vector keeps its buffer.
pub(crate) fn recycle<A, B>(mut v: Vec<A>) -> Vec<B> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Where the items of the open segment go: the arena, and the slot table
/// whose runs are kept up to date as items arrive grouped.
pub(super) struct Segment<'a, 'e> {
    table: &'a mut [Slot],
    values: &'a mut Vec<(u32, Value<'e>)>,
    /// Start of the segment in `values`.
    open: usize,
    /// Set when a slot's items came in two runs (the segment then needs
    /// grouping when it closes).
    interleaved: &'a mut bool,
}

impl<'e> Segment<'_, 'e> {
    /// Adds the scalars of `v` (an array flattened; `null`s and objects
    /// dropped) to slot `slot`, normalized by `kind` when the field has one.
    fn flatten(&mut self, slot: u32, v: Value<'e>, kind: Option<&FieldKind>) {
        match v {
            Value::Array(items) => {
                for x in items {
                    self.flatten(slot, x, kind);
                }
            }
            x if kind.is_some() => {
                if let Some(y) = kind.and_then(|k| k.normalize(x)) {
                    self.flatten(slot, y, None);
                }
            }
            Value::Null | Value::Object(_) => {}
            x => {
                let at = self.values.len();
                if let Some(s) = self.table.get_mut(slot as usize) {
                    let (start, len) = (s.start as usize, s.len as usize);
                    if len > 0 && start >= self.open {
                        if start + len == at {
                            s.len += 1;
                        } else {
                            *self.interleaved = true;
                        }
                    } else {
                        s.start = as_u32(at);
                        s.len = 1;
                    }
                }
                self.values.push((slot, x));
            }
        }
    }
}

/// The items of slot `i`: its run in `values`.
pub(super) fn run_of<'v, 'e>(
    table: &[Slot],
    values: &'v [(u32, Value<'e>)],
    i: usize,
) -> &'v [(u32, Value<'e>)] {
    let Some(s) = table.get(i) else {
        return &[];
    };
    let start = s.start as usize;
    values.get(start..start + s.len as usize).unwrap_or(&[])
}

/// The folded form of the `k`-th scalar of slot `i`, once the slot is
/// folded ([`Slots::fold_slot`]).
fn folded_of<'f>(
    table: &[Slot],
    folded: &'f [Option<Cow<'_, str>>],
    i: usize,
    k: usize,
) -> Option<&'f str> {
    let s = table.get(i).filter(|s| s.has_folded)?;
    folded.get(s.fstart as usize + k)?.as_deref()
}

pub(super) fn as_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'e> Slots<'e> {
    pub(crate) fn new(n: usize) -> Self {
        Slots::with_buf(SlotBuf::default(), n)
    }

    /// `n` empty slots in the allocations of `buf`.
    pub(crate) fn with_buf(mut buf: SlotBuf, n: usize) -> Self {
        let mut table = std::mem::take(&mut buf.table);
        if !(buf.clean && table.len() == n) {
            table.clear();
            table.resize(n, Slot::default());
        }
        Slots::from_table(buf, table)
    }

    fn from_table(buf: SlotBuf, table: Vec<Slot>) -> Self {
        Slots {
            table,
            values: recycle(buf.values),
            folded: recycle(buf.folded),
            open: 0,
            interleaved: false,
            scratch: buf.scratch,
            whole: recycle(buf.whole),
            whole_read: false,
            touched: {
                let mut t = buf.touched;
                t.clear();
                t
            },
            dirty: false,
        }
    }

    /// Empties the slots and returns their allocations for the next event.
    pub(crate) fn into_buf(mut self) -> SlotBuf {
        let clean = !self.dirty;
        if clean {
            for &i in &self.touched {
                if let Some(s) = self.table.get_mut(i as usize) {
                    *s = Slot::default();
                }
            }
        }
        SlotBuf {
            clean,
            touched: self.touched,
            table: self.table,
            values: recycle(self.values),
            folded: recycle(self.folded),
            scratch: self.scratch,
            whole: recycle(self.whole),
        }
    }

    /// The open segment, to add items to.
    fn segment(&mut self) -> Segment<'_, 'e> {
        Segment {
            table: &mut self.table,
            values: &mut self.values,
            open: self.open,
            interleaved: &mut self.interleaved,
        }
    }

    /// Closes the open segment. Each slot's run is kept as its items arrive
    /// grouped by field (a bulk fill reports each path's items together);
    /// when an event interleaved them (an array of objects read from raw
    /// bytes), a stable sort by slot groups them and the runs are recorded
    /// again.
    fn close(&mut self) {
        let open = self.open.min(self.values.len());
        self.open = self.values.len();
        if std::mem::take(&mut self.interleaved) {
            if let Some(seg) = self.values.get_mut(open..) {
                seg.sort_by_key(|(k, _)| *k);
            }
            self.record_runs(open);
        }
    }

    /// Records the run of each slot among `values[open..]` (grouped).
    fn record_runs(&mut self, open: usize) {
        let mut at = open;
        while let Some(&(k, _)) = self.values.get(at) {
            let len = self
                .values
                .get(at..)
                .unwrap_or(&[])
                .iter()
                .take_while(|(x, _)| *x == k)
                .count();
            if let Some(slot) = self.table.get_mut(k as usize) {
                slot.start = as_u32(at);
                slot.len = as_u32(len);
            }
            at += len.max(1);
        }
    }

    /// The scalars of slot `i`.
    pub(super) fn scalars(&self, i: usize) -> &[(u32, Value<'e>)] {
        run_of(&self.table, &self.values, i)
    }

    /// The folded form of the `k`-th scalar of slot `i` (a string), once
    /// [`Slots::fold_slot`] has run.
    pub(super) fn folded_at(&self, i: usize, k: usize) -> Option<&str> {
        folded_of(&self.table, &self.folded, i, k)
    }

    /// Resolves the fields `ids` at once through [`Event::resolve_all`]
    /// (`projection` lists their paths in the same order), skipping those
    /// already resolved. Returns false, with nothing resolved, when the event
    /// does not support it: the fields stay lazily resolved. The paths the
    /// projection lists after those of `ids` (values it reports whole) are
    /// kept, borrowed, by their index among them, when `whole` is set
    /// ([`Slots::drain_whole`]).
    pub(crate) fn fill(
        &mut self,
        event: &'e dyn Event,
        projection: &Projection,
        ids: &[FieldId],
        fields: &FieldTable,
        whole: bool,
    ) -> bool {
        if whole {
            self.whole.clear();
        }
        let mut seg = Segment {
            table: &mut self.table,
            values: &mut self.values,
            open: self.open,
            interleaved: &mut self.interleaved,
        };
        let extra = &mut self.whole;
        let ok = event.resolve_all(projection, &mut |i, v| {
            let Some(&id) = ids.get(i) else {
                if let (true, Some(k)) = (whole, i.checked_sub(ids.len())) {
                    extra.push((as_u32(k), v));
                }
                return;
            };
            if seg.table.get(id.0 as usize).is_some_and(|s| !s.resolved) {
                seg.flatten(id.0, v, fields.kind(id));
            }
        });
        // A fill of more than a sixteenth of the table: resetting it all
        // for the next event costs less than a write per slot.
        if ids.len() > self.table.len() / 16 {
            self.dirty = true;
        } else {
            self.touched.extend(ids.iter().map(|id| id.0));
        }
        self.whole_read |= whole && ok;
        self.close();
        if ok {
            for id in ids {
                if let Some(s) = self.table.get_mut(id.0 as usize) {
                    s.resolved = true;
                }
            }
        }
        ok
    }

    /// The slots that hold items, each once (each slot's items are one
    /// run of the arena).
    pub(crate) fn filled(&self, out: &mut SmallVec<[u32; 64]>) {
        let mut last = None;
        for &(k, _) in &self.values {
            if last != Some(k) {
                last = Some(k);
                out.push(k);
            }
        }
    }

    /// True when a fill read the whole values and they were not taken
    /// yet ([`Slots::drain_whole`]).
    pub(crate) fn holds_whole(&self) -> bool {
        self.whole_read
    }

    /// Moves the values a fill reported whole (their index among the
    /// projection's whole paths, value), still borrowed from the event,
    /// onto `out`, in the order the fill reported them.
    pub(crate) fn drain_whole(&mut self, out: &mut Vec<(u32, Value<'e>)>) {
        self.whole_read = false;
        out.append(&mut self.whole);
    }

    /// Adds one item to slot `i` (raw-bytes resolution) of a plan reading
    /// `fields`; the segment ends with [`Slots::mark_all_resolved`].
    pub(crate) fn push_item(&mut self, i: usize, v: Value<'e>, fields: &FieldTable) {
        self.dirty = true;
        if i < self.table.len() {
            let kind = fields.kind(FieldId(as_u32(i)));
            self.segment().flatten(as_u32(i), v, kind);
        }
    }

    /// Marks every slot resolved: fields with no item are missing.
    pub(crate) fn mark_all_resolved(&mut self) {
        self.dirty = true;
        self.close();
        for s in &mut self.table {
            s.resolved = true;
        }
    }

    /// Slot of field `id`, read from `event` the first time (the common,
    /// already-resolved case is inline; the read is not).
    #[inline]
    pub(super) fn resolve(
        &mut self,
        id: FieldId,
        fields: &FieldTable,
        event: &'e dyn Event,
    ) -> usize {
        let i = id.0 as usize;
        if !self.table.get(i).is_some_and(|s| s.resolved) {
            self.read(id, fields, event);
        }
        i
    }

    /// Reads field `id` from `event` into its slot, then closes the segment.
    #[inline(never)]
    fn read(&mut self, id: FieldId, fields: &FieldTable, event: &'e dyn Event) {
        let i = id.0 as usize;
        self.touched.push(id.0);
        if i >= self.table.len() {
            self.table.resize(i + 1, Slot::default());
        }
        if let Some(s) = self.table.get_mut(i) {
            s.resolved = true;
        }
        if let Some(v) = event.get(fields.path(id)) {
            self.segment().flatten(id.0, v, fields.kind(id));
        }
        self.close();
    }

    pub(super) fn fold_slot(&mut self, i: usize) {
        let Some(&slot) = self.table.get(i) else {
            return;
        };
        self.touched.push(as_u32(i));
        if slot.has_folded {
            return;
        }
        let fstart = self.folded.len();
        for (_, v) in run_of(&self.table, &self.values, i) {
            self.folded.push(match v {
                Value::Str(Cow::Borrowed(b)) => Some(fold(b)),
                Value::Str(Cow::Owned(o)) => Some(Cow::Owned(fold(o).into_owned())),
                _ => None,
            });
        }
        if let Some(s) = self.table.get_mut(i) {
            s.has_folded = true;
            s.fstart = as_u32(fstart);
        }
    }

    /// The scalar values of a field (strings raw), for the numeric atoms of
    /// the candidate index.
    pub(crate) fn scalars_of(
        &mut self,
        id: FieldId,
        fields: &FieldTable,
        event: &'e dyn Event,
        mut f: impl FnMut(&Value<'e>),
    ) {
        let i = self.resolve(id, fields, event);
        for (_, v) in self.scalars(i) {
            f(v);
        }
    }

    /// The string values of a field for the candidate index: each as it
    /// is, with its folded form when `wants_folded` says so of a value that
    /// is (`true`) or is not ASCII.
    ///
    /// ASCII text is folded into a buffer reused from event to event
    /// (`fold` of ASCII is `to_ascii_lowercase`), so the index allocates
    /// nothing for it once warm; other text is folded once into the slot.
    pub(crate) fn strings(
        &mut self,
        id: FieldId,
        fields: &FieldTable,
        event: &'e dyn Event,
        wants_folded: impl Fn(bool) -> bool,
        mut f: impl FnMut(&str, Option<&str>),
    ) {
        let i = self.resolve(id, fields, event);
        let unicode = wants_folded(false)
            && self.scalars(i).iter().any(|(_, v)| match v {
                Value::Str(s) => !s.is_ascii(),
                _ => false,
            });
        if unicode {
            self.fold_slot(i);
        }
        let (values, buf) = (run_of(&self.table, &self.values, i), &mut self.scratch);
        for (k, (_, v)) in values.iter().enumerate() {
            let Value::Str(s) = v else { continue };
            let ascii = s.is_ascii();
            if !wants_folded(ascii) {
                f(s, None);
            } else if !ascii {
                f(s, folded_of(&self.table, &self.folded, i, k));
            } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
                buf.clear();
                buf.push_str(s);
                buf.make_ascii_lowercase();
                f(s, Some(buf));
            } else {
                f(s, Some(s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eql_plan::FieldPath;
    use std::borrow::Cow;

    #[test]
    fn the_slot_buffer_keeps_its_allocation_across_events() {
        let text = String::from("borrowed from one event");
        let mut slots = Slots::with_buf(SlotBuf::default(), 16);
        slots.push_item(3, Value::Str(Cow::Borrowed(&text)), &FieldTable::default());
        slots.mark_all_resolved();
        assert_eq!(slots.scalars(3).len(), 1);
        let buf = slots.into_buf();
        let (capacity, values) = (buf.table.capacity(), buf.values.capacity());
        assert!(
            capacity >= 16 && values >= 1,
            "capacity {capacity}, {values}"
        );
        assert!(buf.values.is_empty());
        // The next event gets the same allocations, with every slot empty.
        let next = Slots::with_buf(buf, 16);
        assert_eq!(next.table.capacity(), capacity);
        assert_eq!(next.values.capacity(), values);
        assert!(next.table.iter().all(|s| s.len == 0 && !s.resolved));
        assert!((0..16).all(|i| next.scalars(i).is_empty()));
    }

    #[test]
    fn a_reused_table_forgets_every_slot_the_last_event_read() {
        let mut fields = FieldTable::default();
        for p in ["a", "b", "c", "d"] {
            fields.intern(&FieldPath::parse_dotted(p));
        }
        let first = serde_json::json!({"a": "x", "c": ["y", "Z"], "d": 1});
        let mut slots = Slots::with_buf(SlotBuf::default(), 4);
        for id in [0, 2, 3] {
            slots.resolve(FieldId(id), &fields, &first);
        }
        slots.fold_slot(2);
        let buf = slots.into_buf();
        assert!(buf.clean, "only lazy reads: the touched slots were reset");
        let second = serde_json::json!({"b": "w"});
        let mut slots = Slots::with_buf(buf, 4);
        assert!(slots.table.iter().all(|s| *s == Slot::default()));
        for id in 0..4 {
            let i = slots.resolve(FieldId(id), &fields, &second);
            let want = usize::from(id == 1);
            assert_eq!(slots.scalars(i).len(), want, "field {id}");
        }
        // A table of another width is reset whole.
        let buf = slots.into_buf();
        let slots = Slots::with_buf(buf, 2);
        assert_eq!(slots.table.len(), 2);
        assert!(slots.table.iter().all(|s| *s == Slot::default()));
    }

    /// A bulk fill of few of the table's fields is reset slot by slot, of
    /// many by resetting the whole table: either way the next event finds
    /// every slot unread.
    #[test]
    fn a_reused_table_forgets_a_bulk_fill_narrow_or_wide() {
        let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
        let mut fields = FieldTable::default();
        let paths: Vec<FieldPath> = names.iter().map(|n| FieldPath::parse_dotted(n)).collect();
        for p in &paths {
            fields.intern(p);
        }
        let event = serde_json::json!({"f0": "a", "f1": ["b", "C"], "f7": 3, "f39": true});
        for wide in [1usize, 2, 40] {
            let ids: Vec<FieldId> = (0..wide as u32).map(FieldId).collect();
            let projection = crate::Projection::new(&paths[..wide]);
            let mut slots = Slots::with_buf(SlotBuf::default(), 40);
            assert!(slots.fill(&event, &projection, &ids, &fields, false));
            assert_eq!(slots.dirty, wide > 40 / 16, "{wide} fields");
            let mut slots = Slots::with_buf(slots.into_buf(), 40);
            assert!(
                slots.table.iter().all(|s| *s == Slot::default()),
                "{wide} fields"
            );
            let empty = serde_json::json!({});
            for id in 0..40 {
                let i = slots.resolve(FieldId(id), &fields, &empty);
                assert!(slots.scalars(i).is_empty(), "field {id} after {wide}");
            }
        }
    }

    #[test]
    fn interleaved_items_are_grouped_per_field_in_order() {
        // As an array of objects reports them: a.b, a.c, a.b, a.c, ...
        let mut slots = Slots::new(3);
        for k in 0..4 {
            slots.push_item(2, Value::Int(k), &FieldTable::default());
            slots.push_item(
                0,
                Value::Array(vec![Value::Int(10 + k), Value::Null]),
                &FieldTable::default(),
            );
        }
        slots.mark_all_resolved();
        let ints = |slots: &Slots<'_>, i| -> Vec<i64> {
            slots
                .scalars(i)
                .iter()
                .filter_map(|(_, v)| match v {
                    Value::Int(n) => Some(*n),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(ints(&slots, 2), [0, 1, 2, 3]);
        assert_eq!(ints(&slots, 0), [10, 11, 12, 13]);
        assert!(ints(&slots, 1).is_empty());
        // A lazy read afterwards gets its own run, and folds lazily.
        let ev = serde_json::json!({"x": ["p", "Q", 7]});
        let mut table = FieldTable::default();
        for p in ["a", "b", "c", "x"] {
            table.intern(&FieldPath::parse_dotted(p));
        }
        let mut got = Vec::new();
        slots.strings(
            FieldId(3),
            &table,
            &ev,
            |_| true,
            |_, s| {
                got.extend(s.map(str::to_owned));
            },
        );
        assert_eq!(got, ["p", "q"]);
        slots.fold_slot(3);
        assert_eq!(slots.folded_at(3, 1), Some("q"));
        assert_eq!(slots.folded_at(3, 2), None);
        assert_eq!(ints(&slots, 3), [7]);
        assert_eq!(ints(&slots, 2), [0, 1, 2, 3]);
    }
}
