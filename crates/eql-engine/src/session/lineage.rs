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
use super::{EvalCx, LineageOptions};
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{EventQuery, Expr, ExprKind, LineageKind, Query};
use std::collections::HashSet;

struct Node<'e> {
    kind: LineageKind,
    query: &'e EventQuery,
    expr: &'e Expr,
    children: Vec<usize>,
    sources: HashSet<KeyAtom>,
    members: HashSet<KeyAtom>,
    dead: Vec<KeyAtom>,
}

/// The lineage relations of one rule and their state.
pub(crate) struct Lineage<'e> {
    nodes: Vec<Node<'e>>,
    roots: Vec<usize>,
    pid: FieldPath,
    ppid: FieldPath,
    subtype: FieldPath,
    name: FieldPath,
    creates: Vec<KeyAtom>,
    terminates: Vec<KeyAtom>,
    process: String,
}

/// Adds the lineage relations of `e` to `nodes`: each under the relation
/// whose query holds it (`parent`), or to `roots`.
fn collect<'e>(
    e: &'e Expr,
    parent: Option<usize>,
    nodes: &mut Vec<Node<'e>>,
    roots: &mut Vec<usize>,
) {
    e.walk(&mut |x| {
        let ExprKind::Lineage { kind, query } = &x.kind else {
            return true;
        };
        let id = nodes.len();
        nodes.push(Node {
            kind: *kind,
            query,
            expr: x,
            children: Vec::new(),
            sources: HashSet::new(),
            members: HashSet::new(),
            dead: Vec::new(),
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

impl<'e> Lineage<'e> {
    /// `None` when the query uses no lineage.
    pub(crate) fn new(q: &'e Query, opts: &LineageOptions) -> Option<Self> {
        let mut nodes = Vec::new();
        let mut roots = Vec::new();
        for s in q.body.step_queries() {
            collect(&s.condition, None, &mut nodes, &mut roots);
        }
        if nodes.is_empty() {
            return None;
        }
        let conv = |vs: &[Value<'static>]| {
            vs.iter()
                .map(|v| KeyAtom::from_value(v, true, false))
                .collect()
        };
        Some(Lineage {
            nodes,
            roots,
            pid: FieldPath::parse_dotted(&opts.pid_field),
            ppid: FieldPath::parse_dotted(&opts.ppid_field),
            subtype: FieldPath::parse_dotted(&opts.subtype_field),
            name: FieldPath::parse_dotted("process_name"),
            creates: conv(&opts.create_values),
            terminates: conv(&opts.terminate_values),
            process: opts.process_category.clone(),
        })
    }

    /// Updates every relation with one event (before the rule reads them).
    pub(crate) fn observe(&mut self, engine: &CompiledQuery, event: &dyn Event) {
        let is_process =
            eql_plan::category_matches(Some(&self.process), event.get(&engine.category).as_ref());
        let roots = self.roots.clone();
        for r in roots {
            self.observe_node(r, engine, event, is_process);
        }
    }

    fn observe_node(
        &mut self,
        i: usize,
        engine: &CompiledQuery,
        event: &dyn Event,
        is_process: bool,
    ) {
        if is_process {
            self.update(i, event);
        }
        let children = self
            .nodes
            .get(i)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        for c in children {
            self.observe_node(c, engine, event, is_process);
        }
        let Some(query) = self.nodes.get(i).map(|n| n.query) else {
            return;
        };
        let matched = {
            let wrapped = LineageEvent {
                inner: event,
                lineage: self,
            };
            EvalCx {
                engine,
                event: &wrapped,
                category: None,
                answers: None,
            }
            .step_matches(query)
        };
        if !matched {
            return;
        }
        let pid = event.get(&self.pid);
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

    fn update(&mut self, i: usize, event: &dyn Event) {
        let pid = atom(event.get(&self.pid));
        let ppid = atom(event.get(&self.ppid));
        let sub = atom(event.get(&self.subtype));
        let creates = self.creates.contains(&sub);
        let terminates = self.terminates.contains(&sub);
        let system = creates
            && pid == KeyAtom::Int(4)
            && matches!(event.get(&self.name), Some(Value::Str(s)) if s == "System");
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
        match n.kind {
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

    fn lookup(&self, e: &Expr, event: &dyn Event) -> Option<bool> {
        let n = self.nodes.iter().find(|n| std::ptr::eq(n.expr, e))?;
        let pid = atom(event.get(&self.pid));
        Some(match n.kind {
            LineageKind::Event => n.sources.contains(&pid),
            _ => n.members.contains(&pid),
        })
    }
}

/// An event seen together with the lineage state of its rule.
pub(crate) struct LineageEvent<'a, 'e> {
    pub(crate) inner: &'a dyn Event,
    pub(crate) lineage: &'a Lineage<'e>,
}

impl Event for LineageEvent<'_, '_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        self.inner.get(path)
    }

    fn lineage(&self, relation: &Expr) -> Option<bool> {
        self.lineage.lookup(relation, self.inner)
    }
}
