//! A per-buffer memo of the candidate index's answer for string values.
//!
//! The costly part of the candidate index is the Aho-Corasick scan of a
//! field with `contains` needles: a wide pack's automaton for
//! `process.command_line` spans megabytes, and each byte of a value is a
//! dependent load from it, so a scan costs about 10 ns per byte once the
//! tables are out of the cache. Field values repeat heavily in event
//! streams (the same executables, command lines, registry paths), so
//! [`HitMemo`] keeps, for recently seen values, the witness sets the index
//! reported. A hit replays them for the cost of one hash and one
//! comparison of the value; a miss computes them as before and keeps them.
//!
//! Invariant: the sets replayed for `(group, field, v)` are exactly those
//! that `FieldIndex::hits(v, ..)` of that group's field reported when they
//! were stored. `hits` depends on `v` alone (its folded form is derived from
//! it), and an entry is only used when its group, field and bytes are
//! `v`'s, so the answer is the one a fresh scan gives.
//!
//! Memory is bounded: a direct-mapped table of [`MEMO_SLOTS`] entries per
//! [`super::PackMatches`], values longer than [`MEMO_MAX_LEN`] bytes never
//! stored. A new value overwrites the entry of its slot, reusing its
//! allocations, so a warm memo allocates nothing.

use eql_plan::SetId;
use smallvec::SmallVec;
use std::hash::{BuildHasher, Hasher};

/// Entries of the table (a power of two).
pub(super) const MEMO_SLOTS: usize = 4096;

/// The longest value stored, in bytes.
pub(super) const MEMO_MAX_LEN: usize = 256;

/// Which index a value was read for: the group ([`super::group::Group`]'s
/// memo id), the bucket and the field's position in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct MemoField {
    pub(super) group: u64,
    pub(super) bucket: u32,
    pub(super) index: u32,
}

#[derive(Clone, Debug, Default)]
struct Entry {
    hash: u64,
    /// The field of the value stored; `None` until one is.
    field: Option<MemoField>,
    value: String,
    sets: SmallVec<[SetId; 4]>,
}

/// The memo (see the module docs).
#[derive(Clone, Default)]
pub(super) struct HitMemo {
    /// Empty until first used, then [`MEMO_SLOTS`] long.
    entries: Vec<Entry>,
    hasher: ahash::RandomState,
}

/// A summary: the table's size and how many entries hold a value, not
/// thousands of entries.
impl std::fmt::Debug for HitMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used = self.entries.iter().filter(|e| e.field.is_some()).count();
        f.debug_struct("HitMemo")
            .field("slots", &self.entries.len())
            .field("used", &used)
            .finish_non_exhaustive()
    }
}

impl HitMemo {
    /// Calls `f` for the sets `compute` reports for `v` of `field`: from the
    /// memo when it holds them, else by running `compute` and keeping its
    /// answer.
    pub(super) fn hits(
        &mut self,
        field: MemoField,
        v: &str,
        compute: impl FnOnce(&mut dyn FnMut(SetId)),
        f: &mut impl FnMut(SetId),
    ) {
        if v.len() > MEMO_MAX_LEN {
            compute(f);
            return;
        }
        if self.entries.is_empty() {
            self.entries.resize_with(MEMO_SLOTS, Entry::default);
        }
        let mut h = self.hasher.build_hasher();
        h.write_u64(field.group);
        h.write_u32(field.bucket);
        h.write_u32(field.index);
        h.write(v.as_bytes());
        let hash = h.finish();
        let Some(e) = self.entries.get_mut(hash as usize & (MEMO_SLOTS - 1)) else {
            compute(f);
            return;
        };
        if e.hash != hash || e.field != Some(field) || e.value != v {
            e.sets.clear();
            compute(&mut |s| e.sets.push(s));
            e.hash = hash;
            e.field = Some(field);
            e.value.clear();
            e.value.push_str(v);
        }
        e.sets.iter().copied().for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(index: u32) -> MemoField {
        MemoField {
            group: 7,
            bucket: 1,
            index,
        }
    }

    fn sets_of(
        memo: &mut HitMemo,
        f: MemoField,
        v: &str,
        answer: &[u32],
        calls: &mut u32,
    ) -> Vec<u32> {
        let mut got = Vec::new();
        memo.hits(
            f,
            v,
            |out| {
                *calls += 1;
                for &s in answer {
                    out(SetId(s));
                }
            },
            &mut |s| got.push(s.0),
        );
        got
    }

    #[test]
    fn a_repeated_value_is_answered_from_the_memo() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        assert_eq!(
            sets_of(&mut memo, field(0), "cmd.exe /c", &[3, 5], &mut calls),
            [3, 5]
        );
        assert_eq!(
            sets_of(&mut memo, field(0), "cmd.exe /c", &[9], &mut calls),
            [3, 5]
        );
        assert_eq!(calls, 1);
    }

    #[test]
    fn another_field_value_or_case_is_computed_afresh() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        sets_of(&mut memo, field(0), "a.exe", &[1], &mut calls);
        assert_eq!(sets_of(&mut memo, field(1), "a.exe", &[2], &mut calls), [2]);
        assert_eq!(sets_of(&mut memo, field(0), "A.exe", &[3], &mut calls), [3]);
        assert_eq!(sets_of(&mut memo, field(0), "a.ex", &[4], &mut calls), [4]);
        let other_group = MemoField {
            group: 8,
            ..field(0)
        };
        assert_eq!(
            sets_of(&mut memo, other_group, "a.exe", &[5], &mut calls),
            [5]
        );
        assert_eq!(calls, 5);
    }

    #[test]
    fn its_debug_form_is_a_summary() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        sets_of(&mut memo, field(0), "a", &[1], &mut calls);
        sets_of(&mut memo, field(0), "b", &[2], &mut calls);
        let text = format!("{memo:?}");
        assert_eq!(
            text,
            format!("HitMemo {{ slots: {MEMO_SLOTS}, used: 2, .. }}")
        );
    }

    #[test]
    fn an_empty_entry_answers_nothing_even_for_the_empty_value() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        let zero = MemoField::default();
        assert_eq!(sets_of(&mut memo, zero, "", &[4], &mut calls), [4]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_long_value_is_never_stored() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        let long = "x".repeat(MEMO_MAX_LEN + 1);
        sets_of(&mut memo, field(0), &long, &[1], &mut calls);
        assert_eq!(sets_of(&mut memo, field(0), &long, &[2], &mut calls), [2]);
        assert_eq!(calls, 2);
        assert!(memo.entries.iter().all(|e| e.field.is_none()));
    }

    #[test]
    fn the_table_stays_bounded_over_many_distinct_values() {
        let mut memo = HitMemo::default();
        let mut calls = 0;
        for i in 0..3 * MEMO_SLOTS {
            let v = format!("value {i}");
            assert_eq!(
                sets_of(&mut memo, field(0), &v, &[i as u32], &mut calls),
                [i as u32]
            );
        }
        assert_eq!(memo.entries.len(), MEMO_SLOTS);
        // Whatever was evicted, every answer is still the value's own.
        for i in 0..3 * MEMO_SLOTS {
            let v = format!("value {i}");
            assert_eq!(
                sets_of(&mut memo, field(0), &v, &[i as u32], &mut calls),
                [i as u32]
            );
        }
    }
}
