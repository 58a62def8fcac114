//! The pieces of a snapshot that several state machines write: results on
//! their way through the pipes, pipe captures, held hits, and one rule's
//! state.

use super::Vals;
use crate::session::pipes::Res;
use crate::session::{Hit, HitKind, Value};
/// A result on its way through a rule's pipes ([`Res`]).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct ResSnap<H> {
    pub(super) events: Vec<H>,
    pub(super) caps: Vals,
    pub(super) count: Option<u64>,
    /// The bits of the share.
    pub(super) percent: Option<u64>,
    pub(super) key: Vals,
    pub(super) missing: Vec<u16>,
}

impl<H: Clone> ResSnap<H> {
    pub(crate) fn of(r: &Res<H>) -> Self {
        ResSnap {
            events: r.events.to_vec(),
            caps: Vals::of_options(&r.caps),
            count: r.count,
            percent: r.percent.map(f64::to_bits),
            key: Vals::of_values(&r.agg_key),
            missing: r.missing.clone(),
        }
    }
}

/// A hit's pipe captures: (capture index, value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct CapsSnap {
    pub(super) at: Vec<u16>,
    pub(super) values: Vals,
}

impl CapsSnap {
    pub(crate) fn of(caps: &[(u16, Option<Value<'static>>)]) -> Self {
        CapsSnap {
            at: caps.iter().map(|c| c.0).collect(),
            values: Vals::of_options(caps.iter().map(|c| &c.1)),
        }
    }
}

/// What a hit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum HitKindSnap {
    Touch,
    Until,
    Step(u16),
}

/// A hit held in the reorder buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct HitSnap {
    pub(super) rule: u32,
    pub(super) kind: HitKindSnap,
    pub(super) ts: i64,
    pub(super) key: Vals,
    pub(super) caps: CapsSnap,
}

impl HitSnap {
    pub(crate) fn of(h: &Hit) -> Self {
        HitSnap {
            rule: h.rule,
            kind: match h.kind {
                HitKind::Touch => HitKindSnap::Touch,
                HitKind::Until => HitKindSnap::Until,
                HitKind::Step(i) => HitKindSnap::Step(i),
            },
            ts: h.ts,
            key: Vals::of_atoms(&h.key),
            caps: CapsSnap::of(&h.caps),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct RuleSnap<H> {
    pub(crate) body: BodySnap<H>,
    pub(crate) pipes: Vec<crate::session::pipes::StageSnap<H>>,
    pub(crate) lineage: Option<Vec<crate::session::lineage::NodeSnap>>,
}

/// The state of a rule's body.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum BodySnap<H> {
    Event,
    Seq(crate::session::sequence::SeqSnap<H>),
    Sample(crate::session::sample::SampleSnap<H>),
    Join(crate::session::join::JoinSnap<H>),
}
