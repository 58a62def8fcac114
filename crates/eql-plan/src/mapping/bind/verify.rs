//! The verifier's checks of the operators: the types Elasticsearch's EQL
//! verifier requires of a condition, a comparison, an `in`, a match
//! operator, a function's first argument and the join keys.

use super::{err, Binder};
use crate::mapping::{FieldKind, MappedField, Mapping};
use eql_syntax::{
    BinaryOp, Diagnostic, Expr, ExprKind, Literal, MatchOp, QueryBody, SequenceStep, UnaryOp,
};

impl Binder<'_> {
    /// The checks of one node as written (not a field: those are bound).
    pub(super) fn verify(&self, e: &Expr) -> Result<(), Diagnostic> {
        match &e.kind {
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.boolean_operand(expr),
            ExprKind::Binary { op, left, right } => {
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    self.boolean_operand(left)?;
                    self.boolean_operand(right)?;
                }
                if op.is_comparison() {
                    self.comparison(*op, left, right, e)?;
                }
                Ok(())
            }
            ExprKind::In { expr, list, .. } => self.in_list(expr, list, e),
            ExprKind::Match { expr, op, .. } => self.match_operand(expr, *op, e),
            ExprKind::Call { name, args, .. } => self.first_argument(name, args, e),
            _ => Ok(()),
        }
    }

    /// A bare field used as a condition must be a boolean one.
    pub(super) fn boolean_operand(&self, e: &Expr) -> Result<(), Diagnostic> {
        if let ExprKind::Field(f) = &e.kind {
            if let Some(mf) = self.mapping.get(&f.dotted()) {
                if mf.kind().is_some() && mf.type_name() != "boolean" || mf.is_text() {
                    return Err(err(
                        "EQL0312",
                        format!(
                            "Condition expression needs to be boolean, found [{}]",
                            data_type(mf.type_name())
                        ),
                        e.span,
                    ));
                }
            }
        }
        Ok(())
    }

    /// The mapped field `e` names directly, if it is a field.
    pub(super) fn mapped(&self, e: &Expr) -> Option<&MappedField> {
        match &e.kind {
            ExprKind::Field(f) => self.mapping.get(&f.dotted()),
            _ => None,
        }
    }

    /// The kind a field expression is compared with (a `text` field's
    /// through its exact subfield).
    fn kind_of(&self, e: &Expr) -> Option<(&MappedField, &FieldKind)> {
        let mf = self.mapped(e)?;
        let mf = match mf.exact() {
            Some(exact) => self.mapping.get(exact)?,
            None => mf,
        };
        Some((mf, mf.kind()?))
    }

    fn no_normalizer(&self, field: &Expr, whole: &Expr) -> Result<(), Diagnostic> {
        if let Some(mf) = self.mapped(field) {
            if mf.is_normalized() {
                return Err(err(
                    "EQL0309",
                    format!(
                        "[{whole}] cannot operate on first argument field of data type [keyword]: \
                         Normalized keyword field cannot be used for exact match operations"
                    ),
                    whole.span,
                ));
            }
        }
        Ok(())
    }

    /// `field op literal`: the literal must read as the field's type.
    fn comparison(
        &self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        whole: &Expr,
    ) -> Result<(), Diagnostic> {
        use crate::mapping::Rel;
        let (field, lit, flipped) = match (&left.kind, &right.kind) {
            (ExprKind::Field(_), ExprKind::Literal(l)) => (left, l, false),
            (ExprKind::Literal(l), ExprKind::Field(_)) => (right, l, true),
            _ => return Ok(()),
        };
        if matches!(lit, Literal::Null) {
            return Ok(());
        }
        self.no_normalizer(field, whole)?;
        let Some((mf, kind)) = self.kind_of(field) else {
            return Ok(());
        };
        if mf.constant().is_some() {
            return Ok(());
        }
        let rel = match op {
            BinaryOp::Lt => Rel::Lt,
            BinaryOp::Le => Rel::Le,
            BinaryOp::Gt => Rel::Gt,
            BinaryOp::Ge => Rel::Ge,
            _ => Rel::Eq,
        };
        let rel = if flipped { rel.flip() } else { rel };
        kind.operand(rel, lit).map(|_| ()).map_err(|why| {
            err(
                "EQL0310",
                format!(
                    "[{whole}] cannot compare field [{field}] of type [{}]: {why}",
                    mf.type_name()
                ),
                whole.span,
            )
        })
    }

    /// `field in (literals...)`: members of a type compatible with the
    /// field's (strings for string, date, IP and version fields, numbers for
    /// numeric fields, booleans for boolean fields) that read as its type.
    fn in_list(&self, expr: &Expr, list: &[Expr], whole: &Expr) -> Result<(), Diagnostic> {
        self.no_normalizer(expr, whole)?;
        let Some((mf, kind)) = self.kind_of(expr) else {
            return Ok(());
        };
        if mf.constant().is_some() {
            return Ok(());
        }
        let ty = mf.type_name();
        let mut lits = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let ExprKind::Literal(l) = &m.kind else {
                continue;
            };
            if matches!(l, Literal::Null) {
                continue;
            }
            let compatible = match family(ty) {
                "number" => matches!(l, Literal::Int(_) | Literal::Float(_)),
                "boolean" => matches!(l, Literal::Bool(_)),
                _ => matches!(l, Literal::String(_)),
            };
            if !compatible {
                return Err(err(
                    "EQL0310",
                    format!(
                        "{} argument of [{whole}] must be [{ty}], found value [{m}] type [{}]",
                        ordinal(i + 1),
                        literal_type(l)
                    ),
                    m.span,
                ));
            }
            lits.push(l);
        }
        if lits.is_empty() {
            return Ok(());
        }
        kind.members(&lits).map(|_| ()).map_err(|why| {
            err(
                "EQL0310",
                format!("[{whole}] cannot compare field [{expr}] of type [{ty}]: {why}"),
                whole.span,
            )
        })
    }

    /// `:`, `like` and `regex` need a string field, and one without a
    /// `normalizer`.
    fn match_operand(&self, expr: &Expr, op: MatchOp, whole: &Expr) -> Result<(), Diagnostic> {
        if let Some((mf, kind)) = self.kind_of(expr) {
            if !kind.is_string() {
                let name = match op {
                    MatchOp::Colon => ":",
                    MatchOp::Like => "like",
                    MatchOp::Regex => "regex",
                };
                let hint = if op == MatchOp::Colon {
                    "; consider using [==] instead"
                } else {
                    ""
                };
                return Err(err(
                    "EQL0311",
                    format!(
                        "first argument of [{name}] must be [string], found value [{}] type [{}]{hint}",
                        expr,
                        mf.type_name()
                    ),
                    whole.span,
                ));
            }
        }
        self.no_normalizer(expr, whole)
    }

    /// The string functions need a string field as their first argument,
    /// and `cidrMatch` an `ip` field.
    fn first_argument(&self, name: &str, args: &[Expr], whole: &Expr) -> Result<(), Diagnostic> {
        let Some(first) = args.first() else {
            return Ok(());
        };
        let Some((mf, kind)) = self.kind_of(first) else {
            return Ok(());
        };
        let lower = name.to_ascii_lowercase();
        let want = if lower == "cidrmatch" {
            (!kind.is_ip()).then_some("ip")
        } else if STRING_FUNCTIONS.contains(&lower.as_str()) {
            (!kind.is_string()).then_some("string")
        } else {
            None
        };
        if let Some(want) = want {
            return Err(err(
                "EQL0311",
                format!(
                    "first argument of [{whole}] must be [{want}], found value [{first}] type [{}]",
                    mf.type_name()
                ),
                whole.span,
            ));
        }
        Ok(())
    }
}

/// The join keys of a sequence or sample at each position must have
/// compatible types in every step (Elasticsearch's `Sequence key [b] type
/// [keyword] is incompatible with key [a] type [long]`).
pub(super) fn key_types(mapping: &Mapping, body: &QueryBody) -> Result<(), Diagnostic> {
    let what = match body {
        QueryBody::Sequence(_) => "Sequence",
        QueryBody::Sample(_) => "Sample",
        QueryBody::Event(_) | QueryBody::Join(_) => return Ok(()),
    };
    let outer = body.keys();
    let steps: Vec<&SequenceStep> = body.steps().collect();
    let keys = |st: &SequenceStep| -> Vec<Expr> { outer.iter().chain(&st.by).cloned().collect() };
    let ty = |e: &Expr| -> Option<String> {
        let ExprKind::Field(f) = &e.kind else {
            return None;
        };
        let mf = mapping.get(&f.dotted())?;
        mf.kind()
            .is_some()
            .then(|| mf.type_name().to_owned())
            .or_else(|| mf.is_text().then(|| "text".to_owned()))
    };
    let Some(first) = steps.first() else {
        return Ok(());
    };
    let first_keys = keys(first);
    for st in steps.iter().skip(1) {
        for (a, b) in first_keys.iter().zip(keys(st)) {
            if let (Some(ta), Some(tb)) = (ty(a), ty(&b)) {
                if family(&ta) != family(&tb) {
                    return Err(err(
                        "EQL0313",
                        format!("{what} key [{b}] type [{tb}] is incompatible with key [{a}] type [{ta}]"),
                        b.span,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Elasticsearch's name of a field's data type, as its messages print it.
fn data_type(type_name: &str) -> String {
    match type_name {
        "keyword" | "wildcard" | "constant_keyword" => "KEYWORD".into(),
        "date" | "date_nanos" => "DATETIME".into(),
        t => t.to_ascii_uppercase(),
    }
}

/// The family for join-key compatibility: strings, numbers, dates, or the
/// type itself.
fn family(type_name: &str) -> &str {
    match type_name {
        "keyword" | "wildcard" | "constant_keyword" | "text" | "match_only_text" => "string",
        "long" | "integer" | "short" | "byte" | "unsigned_long" | "double" | "float"
        | "half_float" | "scaled_float" => "number",
        "date" | "date_nanos" => "date",
        t => t,
    }
}

fn literal_type(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "null",
        Literal::Bool(_) => "boolean",
        Literal::Int(i) if i32::try_from(*i).is_ok() => "integer",
        Literal::Int(_) => "long",
        Literal::Float(_) => "double",
        Literal::String(_) => "keyword",
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The string functions whose first argument must be a string.
const STRING_FUNCTIONS: &[&str] = &[
    "between",
    "endswith",
    "indexof",
    "length",
    "number",
    "startswith",
    "stringcontains",
    "substring",
];
