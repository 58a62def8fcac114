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
//! Memory is bounded: a table of [`MEMO_SLOTS`] entries per
//! [`super::PackMatches`], values longer than [`MEMO_MAX_LEN`] bytes never
//! stored. The table is [`MEMO_WAYS`]-way set-associative: a value's hash
//! picks a set, and a set keeps its most recently used values. Most values
//! that miss are seen once (a file path, an address), and storing each of
//! them would push out a value that repeats. So a full set takes a new value
//! only on its second recent sighting: a small table of hash tags
//! ([`SEEN_SLOTS`] of them) remembers the values that missed. A new value
//! overwrites the least recently used entry of its set, reusing its
//! allocations, so a warm memo allocates nothing.
//!
//! Over the 100k reference events the corpus scan looks up 746 660 values,
//! 32 471 of them distinct, 26 622 seen only once. A direct-mapped table of
//! the same size computed 96 772 answers; this one computes 40 916.

use eql_plan::SetId;
use smallvec::SmallVec;
use std::hash::{BuildHasher, Hasher};

/// Entries of the table (a power of two, a multiple of [`MEMO_WAYS`]).
pub(super) const MEMO_SLOTS: usize = 4096;

/// Entries per set.
pub(super) const MEMO_WAYS: usize = 4;

/// Tags of the recently missed values (a power of two).
pub(super) const SEEN_SLOTS: usize = 4096;

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
    /// The field of the value stored; `None` until one is.
    field: Option<MemoField>,
    value: String,
    sets: SmallVec<[SetId; 4]>,
}

/// One way of a set, as the lookup scans it: the stored value's hash
/// (`0` for an empty way; a stored hash is never `0`) and when it was last
/// used.
#[derive(Clone, Copy, Debug, Default)]
struct Way {
    hash: u64,
    used: u64,
}

/// The memo (see the module docs).
#[derive(Clone, Default)]
pub(super) struct HitMemo {
    /// Empty until first used, then [`MEMO_SLOTS`] long: set `s` is
    /// `entries[s * MEMO_WAYS..][..MEMO_WAYS]`.
    entries: Vec<Entry>,
    /// Per set, its ways (beside `entries`, so a lookup reads one small
    /// record per set before any value).
    ways: Vec<[Way; MEMO_WAYS]>,
    /// Tags of values that missed a full set and were not stored
    /// (`0`: none).
    seen: Vec<u16>,
    /// The lookup clock, for [`Way::used`].
    clock: u64,
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
    /// answer when the memo admits the value.
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
            self.ways = vec![[Way::default(); MEMO_WAYS]; MEMO_SLOTS / MEMO_WAYS];
            self.seen = vec![0; SEEN_SLOTS];
        }
        let mut h = self.hasher.build_hasher();
        h.write_u64(field.group);
        h.write_u32(field.bucket);
        h.write_u32(field.index);
        h.write(v.as_bytes());
        let hash = h.finish().max(1);
        self.clock += 1;
        let set = (hash as usize) & (MEMO_SLOTS / MEMO_WAYS - 1);
        let Some(ways) = self.ways.get_mut(set) else {
            compute(f);
            return;
        };
        let base = set * MEMO_WAYS;
        // A stored value: its hash, field and bytes all agree.
        for (w, way) in ways.iter_mut().enumerate() {
            if way.hash != hash {
                continue;
            }
            if let Some(e) = self.entries.get(base + w) {
                if e.field == Some(field) && e.value == v {
                    way.used = self.clock;
                    e.sets.iter().copied().for_each(f);
                    return;
                }
            }
        }
        // The way to fill: an empty one, else the least recently used,
        // which a value gets only on its second recent miss.
        let empty = ways.iter().position(|w| w.hash == 0);
        let victim = empty.unwrap_or_else(|| {
            ways.iter()
                .enumerate()
                .min_by_key(|(_, w)| w.used)
                .map_or(0, |(w, _)| w)
        });
        if empty.is_none() {
            let at = (hash >> 32) as usize & (SEEN_SLOTS - 1);
            let tag = ((hash >> 16) as u16).max(1);
            if let Some(t) = self.seen.get_mut(at) {
                if *t != tag {
                    *t = tag;
                    compute(f);
                    return;
                }
            }
        }
        let (Some(way), Some(e)) = (ways.get_mut(victim), self.entries.get_mut(base + victim))
        else {
            compute(f);
            return;
        };
        e.sets.clear();
        compute(&mut |s| e.sets.push(s));
        e.field = Some(field);
        e.value.clear();
        e.value.push_str(v);
        *way = Way {
            hash,
            used: self.clock,
        };
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

    /// A memo whose hashes are the same on every run.
    fn seeded() -> HitMemo {
        HitMemo {
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
            ..HitMemo::default()
        }
    }

    #[test]
    fn values_that_repeat_outlive_a_flood_of_values_seen_once() {
        // 128 values that repeat, each round among 1 024 values never seen
        // again: one new value per set per round, which would push the
        // repeating ones out of a direct-mapped table that stored every
        // miss.
        let mut memo = seeded();
        let (mut hot_calls, mut other_calls) = (Vec::new(), 0);
        for round in 0..10 {
            let mut calls = 0;
            for k in 0..128u32 {
                let v = format!("C:\\Windows\\System32\\tool{k}.exe");
                assert_eq!(sets_of(&mut memo, field(0), &v, &[k], &mut calls), [k]);
                for j in 0..8u32 {
                    let once = format!("C:\\Temp\\{round}-{k}-{j}.tmp");
                    sets_of(&mut memo, field(0), &once, &[j], &mut other_calls);
                }
            }
            hot_calls.push(calls);
        }
        // Each repeating value is computed in the first round, and again in
        // the second when its set was full of values seen once by the time
        // it came; then never again.
        assert_eq!(hot_calls.first(), Some(&128));
        assert!(hot_calls.iter().skip(2).all(|&c| c == 0), "{hot_calls:?}");
        assert_eq!(other_calls, 10 * 128 * 8);
    }

    #[test]
    fn a_full_set_takes_a_new_value_on_its_second_miss() {
        let mut memo = seeded();
        let mut calls = 0;
        // Every set full.
        for i in 0..4 * MEMO_SLOTS {
            sets_of(
                &mut memo,
                field(0),
                &format!("filler {i}"),
                &[0],
                &mut calls,
            );
        }
        assert!(memo.ways.iter().flatten().all(|w| w.hash != 0));
        calls = 0;
        for _ in 0..3 {
            assert_eq!(
                sets_of(&mut memo, field(1), "new.exe", &[7], &mut calls),
                [7]
            );
        }
        // Computed on the first and second lookups, stored on the second.
        assert_eq!(calls, 2);
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
