//! Python process lineage: `descendant of [q]`, `child of [q]`, `event of [q]`.
//!
//! As in the Python engine, each relation keeps sets of process ids: the ids
//! of events matching `q` (sources), and for `descendant`/`child` the ids of
//! processes created under them. Process events update the sets (creation
//! under a tracked parent adds the child; termination removes the id at the
//! next process event; a `System` (pid 4) creation resets everything). For one
//! event the relations are updated outermost first and checked innermost
//! first, then the rule's condition reads the sets through
//! [`crate::Event::lineage`].

use super::keys::KeyAtom;
use super::snapshot::{Load, Vals};
use super::SnapshotError;
use super::{EvalCx, LineageOptions};
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{EventQuery, Expr, ExprKind, LineageKind, Query, Span};
use std::collections::HashSet;

/// One relation as compiled. The relation node is known by its span, which
/// is unique among a query's relations (two relations are disjoint or one
/// holds the other inside its brackets).
#[derive(Clone, Debug)]
struct NodeSpec {
    kind: LineageKind,
    query: EventQuery,
    span: Span,
    children: Vec<usize>,
}

/// The lineage relations of one rule (part of a [`super::SessionPlan`]).
#[derive(Clone, Debug)]
pub(crate) struct LineageSpec {
    nodes: Vec<NodeSpec>,
    roots: Vec<usize>,
}

/// The fields and values a session reads lineage from ([`LineageOptions`]).
#[derive(Clone, Debug)]
pub(crate) struct LineageFields {
    pid: FieldPath,
    ppid: FieldPath,
    subtype: FieldPath,
    name: FieldPath,
    creates: Vec<KeyAtom>,
    terminates: Vec<KeyAtom>,
    process: String,
}

impl LineageFields {
    pub(crate) fn new(opts: &LineageOptions) -> Self {
        let conv = |vs: &[Value<'static>]| {
            vs.iter()
                .map(|v| KeyAtom::from_value(v, true, false))
                .collect()
        };
        LineageFields {
            pid: FieldPath::parse_dotted(&opts.pid_field),
            ppid: FieldPath::parse_dotted(&opts.ppid_field),
            subtype: FieldPath::parse_dotted(&opts.subtype_field),
            name: FieldPath::parse_dotted("process_name"),
            creates: conv(&opts.create_values),
            terminates: conv(&opts.terminate_values),
            process: opts.process_category.clone(),
        }
    }

    /// The fields and values, as text (a snapshot's fingerprint of them).
    pub(crate) fn print(&self) -> String {
        let atoms = |a: &[KeyAtom]| format!("{:?}", Vals::of_atoms(a));
        format!(
            "{} {} {} {} {} {} {}",
            self.pid,
            self.ppid,
            self.subtype,
            self.name,
            atoms(&self.creates),
            atoms(&self.terminates),
            self.process
        )
    }

    /// Every field read from an event (besides the relations' conditions).
    pub(crate) fn paths(&self) -> [&FieldPath; 4] {
        [&self.pid, &self.ppid, &self.subtype, &self.name]
    }
}

/// The state of one relation.
#[derive(Default)]
struct Node {
    sources: HashSet<KeyAtom>,
    members: HashSet<KeyAtom>,
    dead: Vec<KeyAtom>,
}

/// The state of one rule's lineage relations, by [`LineageSpec`] node.
pub(crate) struct Lineage {
    nodes: Vec<Node>,
}

/// Adds the lineage relations of `e` to `nodes`: each under the relation
/// whose query holds it (`parent`), or to `roots`.
fn collect(e: &Expr, parent: Option<usize>, nodes: &mut Vec<NodeSpec>, roots: &mut Vec<usize>) {
    e.walk(&mut |x| {
        let ExprKind::Lineage { kind, query } = &x.kind else {
            return true;
        };
        let id = nodes.len();
        nodes.push(NodeSpec {
            kind: *kind,
            query: (**query).clone(),
            span: x.span,
            children: Vec::new(),
        });
        match parent.and_then(|p| nodes.get_mut(p)) {
            Some(p) => p.children.push(id),
            None => roots.push(id),
        }
        collect(&query.condition, Some(id), nodes, roots);
        false
    });
}

fn atom(v: Option<Value<'_>>) -> KeyAtom {
    v.map_or(KeyAtom::Null, |v| KeyAtom::from_value(&v, true, false))
}

impl LineageSpec {
    /// `None` when the query uses no lineage.
    pub(crate) fn new(q: &Query) -> Option<Self> {
        let mut nodes = Vec::new();
        let mut roots = Vec::new();
        for s in q.body.step_queries() {
            collect(&s.condition, None, &mut nodes, &mut roots);
        }
        if nodes.is_empty() {
            return None;
        }
        Some(LineageSpec { nodes, roots })
    }
}

impl Lineage {
    pub(crate) fn new(spec: &LineageSpec) -> Self {
        Lineage {
            nodes: spec.nodes.iter().map(|_| Node::default()).collect(),
        }
    }

    /// Updates every relation with one event (before the rule reads them).
    pub(crate) fn observe(
        &mut self,
        spec: &LineageSpec,
        fields: &LineageFields,
        engine: &CompiledQuery,
        event: &dyn Event,
    ) {
        let is_process =
            eql_plan::category_matches(Some(&fields.process), event.get(&engine.category).as_ref());
        for &r in &spec.roots {
            self.observe_node(r, spec, fields, engine, event, is_process);
        }
    }

    fn observe_node(
        &mut self,
        i: usize,
        spec: &LineageSpec,
        fields: &LineageFields,
        engine: &CompiledQuery,
        event: &dyn Event,
        is_process: bool,
    ) {
        let Some(node) = spec.nodes.get(i) else {
            return;
        };
        if is_process {
            self.update(i, node.kind, fields, event);
        }
        for &c in &node.children {
            self.observe_node(c, spec, fields, engine, event, is_process);
        }
        let matched = {
            let wrapped = LineageEvent {
                inner: event,
                spec,
                state: self,
                fields,
            };
            EvalCx {
                engine,
                event: &wrapped,
                category: None,
                answers: None,
            }
            .step_matches(&node.query)
        };
        if !matched {
            return;
        }
        let pid = event.get(&fields.pid);
        let truthy = match &pid {
            None | Some(Value::Null | Value::Bool(false) | Value::Int(0)) => false,
            Some(Value::Float(f)) => *f != 0.0,
            Some(Value::Str(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if truthy {
            let a = atom(pid);
            if let Some(n) = self.nodes.get_mut(i) {
                n.sources.insert(a);
            }
        }
    }

    fn update(&mut self, i: usize, kind: LineageKind, f: &LineageFields, event: &dyn Event) {
        let pid = atom(event.get(&f.pid));
        let ppid = atom(event.get(&f.ppid));
        let sub = atom(event.get(&f.subtype));
        let creates = f.creates.contains(&sub);
        let terminates = f.terminates.contains(&sub);
        let system = creates
            && pid == KeyAtom::Int(4)
            && matches!(event.get(&f.name), Some(Value::Str(s)) if s == "System");
        let Some(n) = self.nodes.get_mut(i) else {
            return;
        };
        for d in std::mem::take(&mut n.dead) {
            n.members.remove(&d);
            n.sources.remove(&d);
        }
        if system {
            n.members.clear();
            n.sources.clear();
        }
        match kind {
            LineageKind::Descendant => {
                if creates && (n.members.contains(&ppid) || n.sources.contains(&ppid)) {
                    n.members.insert(pid);
                } else if terminates {
                    n.dead.push(pid);
                }
            }
            LineageKind::Child => {
                if creates && n.sources.contains(&ppid) {
                    n.members.insert(pid);
                } else if terminates {
                    n.dead.push(pid);
                }
            }
            LineageKind::Event => {
                if !system && terminates {
                    n.dead.push(pid);
                }
            }
        }
    }
}

/// One relation's state in a snapshot (sets sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct NodeSnap {
    sources: Vals,
    members: Vals,
    dead: Vals,
}

fn sorted(set: &HashSet<KeyAtom>) -> Vals {
    let mut atoms: Vec<&KeyAtom> = set.iter().collect();
    atoms.sort_unstable();
    Vals::of_atoms(atoms)
}

impl Lineage {
    pub(crate) fn save(&self) -> Vec<NodeSnap> {
        self.nodes
            .iter()
            .map(|n| NodeSnap {
                sources: sorted(&n.sources),
                members: sorted(&n.members),
                dead: Vals::of_atoms(&n.dead),
            })
            .collect()
    }

    /// Restores `snap` into this fresh state (built from `spec`).
    pub(crate) fn load(
        &mut self,
        spec: &LineageSpec,
        snap: Vec<NodeSnap>,
        cx: &Load<'_>,
    ) -> Result<(), SnapshotError> {
        cx.check(
            snap.len() == spec.nodes.len(),
            "lineage states and relations disagree",
        )?;
        let mut nodes = Vec::with_capacity(snap.len());
        for n in snap {
            nodes.push(Node {
                sources: cx.atoms(&n.sources)?.into_iter().collect(),
                members: cx.atoms(&n.members)?.into_iter().collect(),
                dead: cx.atoms(&n.dead)?,
            });
        }
        self.nodes = nodes;
        Ok(())
    }
}

/// An event seen together with the lineage state of its rule.
pub(crate) struct LineageEvent<'a> {
    pub(crate) inner: &'a dyn Event,
    pub(crate) spec: &'a LineageSpec,
    pub(crate) state: &'a Lineage,
    pub(crate) fields: &'a LineageFields,
}

impl Event for LineageEvent<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        self.inner.get(path)
    }

    fn lineage(&self, relation: &Expr) -> Option<bool> {
        let i = self
            .spec
            .nodes
            .iter()
            .position(|n| n.span == relation.span)?;
        let (kind, n) = (self.spec.nodes.get(i)?.kind, self.state.nodes.get(i)?);
        let pid = atom(self.inner.get(&self.fields.pid));
        Some(match kind {
            LineageKind::Event => n.sources.contains(&pid),
            _ => n.members.contains(&pid),
        })
    }
}
