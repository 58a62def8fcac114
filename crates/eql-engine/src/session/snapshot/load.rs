//! Reading a snapshot's state back: [`Load`], the context every state
//! machine restores its part through, which checks limits and decodes
//! values, keys, captures, results and held hits.

use super::shared::HitKindSnap;
use super::vals::{atom_of, decode};
use super::{CapsSnap, HitSnap, ResSnap, SnapshotError, Vals};
use crate::session::keys::{Key, KeyAtom};
use crate::session::pipes::Res;
use crate::session::{Hit, HitKind, SessionLimits, Value};
/// What restoring one piece of state needs: the limits it must respect and
/// where errors point.
pub(crate) struct Load<'a> {
    pub(crate) limits: &'a SessionLimits,
    /// Deepest value nesting accepted.
    pub(super) max_depth: usize,
    /// Events pushed before the snapshot: every arrival number is below.
    pub(crate) arrival: u64,
    /// The rule being restored.
    pub(crate) rule: Option<usize>,
}

impl Load<'_> {
    /// An [`SnapshotError::Invalid`] about the current rule.
    pub(crate) fn invalid(&self, what: &'static str) -> SnapshotError {
        SnapshotError::Invalid {
            rule: self.rule,
            what,
        }
    }

    /// `Ok` when `ok`, else [`Load::invalid`].
    pub(crate) fn check(&self, ok: bool, what: &'static str) -> Result<(), SnapshotError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(what))
        }
    }

    /// `Ok` when `found` is within `max`, else [`SnapshotError::OverLimit`].
    pub(crate) fn within(
        &self,
        what: &'static str,
        limit: &'static str,
        found: usize,
        max: usize,
    ) -> Result<(), SnapshotError> {
        if found <= max {
            Ok(())
        } else {
            Err(SnapshotError::OverLimit {
                rule: self.rule,
                what,
                limit,
                found,
                max,
            })
        }
    }

    /// Values, each possibly absent.
    pub(crate) fn options(&self, v: &Vals) -> Result<Vec<Option<Value<'static>>>, SnapshotError> {
        decode(&v.0, self.max_depth).ok_or_else(|| self.invalid("malformed values"))
    }

    /// Values, all present.
    pub(crate) fn values(&self, v: &Vals) -> Result<Vec<Value<'static>>, SnapshotError> {
        self.options(v)?
            .into_iter()
            .map(|x| x.ok_or_else(|| self.invalid("an absent value where one is needed")))
            .collect()
    }

    /// Key atoms.
    pub(crate) fn atoms(&self, v: &Vals) -> Result<Vec<KeyAtom>, SnapshotError> {
        self.values(v)?
            .into_iter()
            .map(|x| atom_of(x).ok_or_else(|| self.invalid("an object in a key")))
            .collect()
    }

    /// A join key.
    pub(crate) fn key(&self, v: &Vals) -> Result<Key, SnapshotError> {
        Ok(self.atoms(v)?.into_iter().collect())
    }

    /// A hit's pipe captures, each of one of `fields` captured fields.
    pub(crate) fn caps(
        &self,
        c: &CapsSnap,
        fields: usize,
    ) -> Result<Vec<(u16, Option<Value<'static>>)>, SnapshotError> {
        let values = self.options(&c.values)?;
        self.check(values.len() == c.at.len(), "captures without their index")?;
        self.check(
            c.at.iter().all(|&i| usize::from(i) < fields),
            "a capture of a field the pipes do not read",
        )?;
        Ok(c.at.iter().copied().zip(values).collect())
    }

    /// A result of a rule whose pipes capture `fields` fields.
    pub(crate) fn res<H>(&self, r: ResSnap<H>, fields: usize) -> Result<Res<H>, SnapshotError> {
        let caps = self.options(&r.caps)?;
        self.check(caps.len() <= fields, "more captures than the pipes read")?;
        self.check(
            r.missing.windows(2).all(|w| w[0] < w[1]),
            "missing-step positions out of order",
        )?;
        Ok(Res {
            events: r.events.into_iter().collect(),
            caps,
            count: r.count,
            percent: r.percent.map(f64::from_bits),
            agg_key: self.values(&r.key)?,
            missing: r.missing,
        })
    }

    /// A held hit of rule `rule`, validated against its plan.
    pub(crate) fn hit(
        &self,
        h: &HitSnap,
        plans: &[crate::session::rule::RulePlan],
    ) -> Result<Hit, SnapshotError> {
        let plan = plans
            .get(h.rule as usize)
            .ok_or_else(|| self.invalid("a held hit of a rule the plan does not have"))?;
        let kind = match h.kind {
            HitKindSnap::Touch => HitKind::Touch,
            HitKindSnap::Until => HitKind::Until,
            HitKindSnap::Step(i) => HitKind::Step(i),
        };
        self.check(
            plan.takes(kind),
            "a held hit of a step the rule does not have",
        )?;
        Ok(Hit {
            rule: h.rule,
            kind,
            ts: h.ts,
            key: self.key(&h.key)?,
            caps: self.caps(&h.caps, plan.pipes.field_count())?,
        })
    }
}
