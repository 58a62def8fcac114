//! Field resolution: what each field of the query reads once bound (an
//! alias's target, a multi-field's parent, a `text` field's exact subfield,
//! a `constant_keyword`'s value, `null` for a missing optional field), and
//! the kind it is read with.

use super::{err, Binder, Place};
use crate::mapping::kind::java_double;
use crate::mapping::{Class, FieldKind, MappedField, Usability};
use eql_syntax::{Diagnostic, Expr, ExprKind, FieldRef, Literal, PathSegment, Span};

impl<'m> Binder<'m> {
    /// A field the query reads implicitly must be mapped.
    pub(super) fn implicit(&mut self, name: &str, span: Span) -> Result<(), Diagnostic> {
        if self.mapping.get(name).is_none() {
            return Err(err("EQL0307", format!("Unknown column [{name}]"), span));
        }
        Ok(())
    }

    /// The expression field `f` becomes: the document field that holds its
    /// value, or the constant it stands for in a condition.
    pub(super) fn field(
        &mut self,
        f: &FieldRef,
        span: Span,
        place: Place,
    ) -> Result<Expr, Diagnostic> {
        if f.path.iter().any(|s| matches!(s, PathSegment::Index(_))) {
            return Ok(Expr {
                kind: ExprKind::Field(f.clone()),
                span,
            });
        }
        let name = f.dotted();
        let Some(mf) = self.mapping.get(&name) else {
            return self.unmapped(f, &name, span, place);
        };
        if let Usability::No(why) = mf.usable() {
            return Err(err("EQL0308", why, span));
        }
        let typed = self.compared_through(mf, &name, span)?;
        if let (Place::Filter, Some(c)) = (place, mf.constant()) {
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::String(c.to_owned())),
                span,
            });
        }
        let Some(kind) = typed.kind() else {
            return Err(err(
                "EQL0308",
                format!("Cannot use field [{name}] type [{}]", mf.type_name()),
                span,
            ));
        };
        let source = mf.source().to_owned();
        self.record(&name, &source, kind.clone(), span)?;
        Ok(Expr {
            kind: ExprKind::Field(FieldRef {
                path: source
                    .split('.')
                    .map(|s| PathSegment::Key(s.to_owned()))
                    .collect(),
                optional: f.optional,
            }),
            span,
        })
    }

    /// A field the mapping lacks: unknown (with Elasticsearch's "did you
    /// mean"), unless it is optional: then `null` in a condition, and a key
    /// that reads as null.
    fn unmapped(
        &mut self,
        f: &FieldRef,
        name: &str,
        span: Span,
        place: Place,
    ) -> Result<Expr, Diagnostic> {
        if !f.optional {
            let similar = self.mapping.similar(name);
            let hint = match similar.as_slice() {
                [] => String::new(),
                [one] => format!(", did you mean [{one}]?"),
                many => format!(", did you mean any of [{}]?", many.join(", ")),
            };
            return Err(err(
                "EQL0307",
                format!("Unknown column [{name}]{hint}"),
                span,
            ));
        }
        let kind = match place {
            Place::Filter => ExprKind::Literal(Literal::Null),
            Place::Key => {
                self.record(name, name, FieldKind::absent(), span)?;
                ExprKind::Field(f.clone())
            }
        };
        Ok(Expr { kind, span })
    }

    /// The field `mf` is compared through: a `text` field's one exact
    /// (keyword) multi-field, else the field itself.
    fn compared_through(
        &self,
        mf: &'m MappedField,
        name: &str,
        span: Span,
    ) -> Result<&'m MappedField, Diagnostic> {
        let Class::Text { exact } = &mf.class else {
            return Ok(mf);
        };
        match exact.as_slice() {
            [one] => Ok(self.mapping.get(one).unwrap_or(mf)),
            [] => Err(err(
                "EQL0309",
                format!(
                    "[{name}] cannot be used: field of data type [{}]: No keyword/multi-field \
                     defined exact matches for [{name}]; define one or use MATCH/QUERY instead",
                    mf.type_name()
                ),
                span,
            )),
            _ => Err(err(
                "EQL0309",
                format!(
                    "[{name}] cannot be used: Multiple exact keyword candidates available \
                     for [{name}]; specify which one to use"
                ),
                span,
            )),
        }
    }

    /// Records that the query reads document field `source` (named `name`
    /// in the query) with `kind`; reading one field as two kinds is an
    /// error.
    fn record(
        &mut self,
        name: &str,
        source: &str,
        kind: FieldKind,
        span: Span,
    ) -> Result<(), Diagnostic> {
        match self.kinds.by_path.get(source) {
            Some(k) if *k != kind => Err(err(
                "EQL0308",
                format!(
                    "Cannot use field [{name}]: the query reads the value of [{source}] \
                     as two different types"
                ),
                span,
            )),
            Some(_) => Ok(()),
            None => {
                self.kinds.by_path.insert(source.to_owned(), kind);
                Ok(())
            }
        }
    }

    /// In a comparison with a `constant_keyword` field (which binding turns
    /// into its value), the literal on the other side compares as a keyword:
    /// its text.
    pub(super) fn fold_constant(&self, e: &mut Expr) {
        let ExprKind::Binary { op, left, right } = &mut e.kind else {
            return;
        };
        if !op.is_comparison() {
            return;
        }
        if self.is_constant(left) {
            as_keyword(right);
        }
        if self.is_constant(right) {
            as_keyword(left);
        }
    }

    /// True when `e` names a `constant_keyword` field with a value.
    fn is_constant(&self, e: &Expr) -> bool {
        self.mapped(e).and_then(MappedField::constant).is_some()
    }
}

/// A number or boolean literal as the keyword Elasticsearch compares it as.
fn as_keyword(e: &mut Expr) {
    let ExprKind::Literal(lit) = &mut e.kind else {
        return;
    };
    let text = match &*lit {
        Literal::Float(f) => java_double(*f),
        Literal::Int(_) | Literal::Bool(_) => lit.to_string(),
        Literal::Null | Literal::String(_) => return,
    };
    *lit = Literal::String(text);
}
