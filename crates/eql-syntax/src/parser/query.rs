//! Queries from pest pairs: the four query forms, their steps and clauses,
//! and the pipes.

use super::diagnose::edit_distance;
use super::{err, first_inner, inner, next_pair, span_of, Conv, PResult, Rule};
use crate::{
    Category, EventQuery, Expr, ExprKind, Join, Literal, ParseError, ParseErrorKind, Pipe,
    PipeKind, Query, QueryBody, Sample, Sequence, SequenceStep, TimeSpan, TimeUnit,
};
use pest::iterators::Pair;

impl Conv<'_> {
    pub(super) fn query(&self, p: Pair<'_, Rule>) -> PResult<Query> {
        let span = span_of(&p);
        let mut it = inner(p);
        let b = next_pair(&mut it, span)?;
        let body = match b.as_rule() {
            Rule::sequence => QueryBody::Sequence(self.sequence(b)?),
            Rule::sample => QueryBody::Sample(self.sample(b)?),
            Rule::join => {
                self.py_only("`join`", span_of(&b))?;
                QueryBody::Join(self.join(b)?)
            }
            _ => QueryBody::Event(self.event_query(b)?),
        };
        let mut pipes = Vec::new();
        for p in it {
            pipes.push(self.pipe(p)?);
        }
        Ok(Query { body, pipes, span })
    }

    fn pipe(&self, p: Pair<'_, Rule>) -> PResult<Pipe> {
        let span = span_of(&p);
        let mut it = inner(p);
        let n = next_pair(&mut it, span)?;
        let name = n.as_str();
        let all = PipeKind::ALL;
        let allowed: &[PipeKind] = if self.es() { &all[..2] } else { &all };
        let kind = match all.iter().find(|k| k.name() == name) {
            Some(k) if allowed.contains(k) => *k,
            Some(_) => {
                return err(
                    ParseErrorKind::Unsupported {
                        what: format!("pipe `{name}`"),
                    },
                    span_of(&n),
                )
            }
            None => {
                let suggestion = allowed
                    .iter()
                    .map(|k| (edit_distance(name, k.name()), k.name()))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, k)| k.to_string());
                return err(
                    ParseErrorKind::UnknownPipe {
                        name: name.to_string(),
                        suggestion,
                    },
                    span_of(&n),
                );
            }
        };
        let args = self.exprs(it)?;
        if self.es() && args.len() != 1 {
            return err(
                ParseErrorKind::Unsupported {
                    what: format!("`{name}` without exactly one argument"),
                },
                span,
            );
        }
        Ok(Pipe { kind, args, span })
    }

    fn category(&self, p: Pair<'_, Rule>) -> PResult<Category> {
        let span = span_of(&p);
        let c = first_inner(p)?;
        let name = match c.as_rule() {
            Rule::name => {
                let s = c.as_str();
                if s == "any" {
                    None
                } else {
                    Some(s.to_string())
                }
            }
            _ => match self.string(c)? {
                Literal::String(s) => Some(s),
                _ => None,
            },
        };
        Ok(Category { name, span })
    }

    pub(super) fn event_query(&self, p: Pair<'_, Rule>) -> PResult<EventQuery> {
        let span = span_of(&p);
        let mut it = inner(p);
        let c = next_pair(&mut it, span)?;
        let category = self.category(c)?;
        let e = next_pair(&mut it, span)?;
        let condition = self.expr(e)?;
        Ok(EventQuery {
            category,
            condition,
            span,
        })
    }

    fn by_clause(&self, p: Pair<'_, Rule>) -> PResult<Vec<Expr>> {
        self.exprs(inner(p))
    }

    fn timespan(&self, p: Pair<'_, Rule>) -> PResult<TimeSpan> {
        let span = span_of(&p);
        let mut it = inner(p);
        let n = next_pair(&mut it, span)?;
        let value: u64 = n.as_str().parse().map_err(|_| {
            ParseError::new(
                ParseErrorKind::InvalidNumber {
                    text: n.as_str().into(),
                },
                span_of(&n),
            )
        })?;
        let unit = match it.next().map(|u| u.as_str().to_string()).as_deref() {
            Some("ms") => Some(TimeUnit::Millis),
            Some("s") => Some(TimeUnit::Seconds),
            Some("m") => Some(TimeUnit::Minutes),
            Some("h") => Some(TimeUnit::Hours),
            Some("d") => Some(TimeUnit::Days),
            _ => None,
        };
        if unit.is_none() && self.es() {
            return err(ParseErrorKind::MissingMaxspanUnit, span);
        }
        Ok(TimeSpan { value, unit, span })
    }

    fn step(&self, p: Pair<'_, Rule>, sample: bool) -> PResult<SequenceStep> {
        let span = span_of(&p);
        let mut step = SequenceStep {
            query: EventQuery {
                category: Category { name: None, span },
                condition: Expr {
                    kind: ExprKind::Literal(Literal::Null),
                    span,
                },
                span,
            },
            by: Vec::new(),
            runs: None,
            missing: false,
            fork: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::missing => {
                    if sample || !self.es() {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "a missing step `![...]`".into(),
                            },
                            span_of(&x),
                        );
                    }
                    step.missing = true;
                }
                Rule::event_query => step.query = self.event_query(x)?,
                Rule::by_clause => step.by.extend(self.by_clause(x)?),
                Rule::runs_clause => step.runs = Some(self.runs(x, sample)?),
                Rule::fork_clause => step.fork = Some(self.fork(x, sample)?),
                _ => {}
            }
        }
        Ok(step)
    }

    /// `with runs=N`: 1 to 100 in Elasticsearch, at least 2 in Python; not
    /// in a sample.
    fn runs(&self, x: Pair<'_, Rule>, sample: bool) -> PResult<u32> {
        let sp = span_of(&x);
        if sample {
            return err(
                ParseErrorKind::Unsupported {
                    what: "`runs` in a sample".into(),
                },
                sp,
            );
        }
        let n = first_inner(x)?;
        let value: u64 = n.as_str().parse().unwrap_or(u64::MAX);
        let ok = if self.es() {
            (1..=100).contains(&value)
        } else {
            value >= 2 && u32::try_from(value).is_ok()
        };
        if !ok {
            let range = if self.es() { "1 to 100" } else { "at least 2" };
            return err(
                ParseErrorKind::RunsOutOfRange {
                    value,
                    range: range.into(),
                },
                sp,
            );
        }
        Ok(value as u32)
    }

    /// Python `fork`, `fork=true`, `fork=false`; not in a sample.
    fn fork(&self, x: Pair<'_, Rule>, sample: bool) -> PResult<bool> {
        let sp = span_of(&x);
        self.py_only("`fork`", sp)?;
        if sample {
            return err(
                ParseErrorKind::Unsupported {
                    what: "`fork` in a sample".into(),
                },
                sp,
            );
        }
        let v = x
            .into_inner()
            .find(|y| matches!(y.as_rule(), Rule::kw_true | Rule::kw_false));
        Ok(v.is_none_or(|y| y.as_rule() == Rule::kw_true))
    }

    fn until(&self, p: Pair<'_, Rule>) -> PResult<SequenceStep> {
        let span = span_of(&p);
        let mut query = None;
        let mut by = Vec::new();
        for x in inner(p) {
            match x.as_rule() {
                Rule::event_query => query = Some(self.event_query(x)?),
                Rule::by_clause => by = self.by_clause(x)?,
                _ => {}
            }
        }
        let query = query.ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        Ok(SequenceStep {
            query,
            by,
            runs: None,
            missing: false,
            fork: None,
            span,
        })
    }

    fn check_keys(steps: &[SequenceStep], until: Option<&SequenceStep>) -> PResult<()> {
        let Some(first) = steps.first() else {
            return Ok(());
        };
        let expected = first.by.len();
        for s in steps.iter().chain(until) {
            if s.by.len() != expected {
                let sp = s.by.first().map_or(s.span, |e| e.span);
                return err(
                    ParseErrorKind::InconsistentJoinKeys {
                        expected,
                        found: s.by.len(),
                    },
                    sp,
                );
            }
        }
        Ok(())
    }

    fn sequence(&self, p: Pair<'_, Rule>) -> PResult<Sequence> {
        let span = span_of(&p);
        let mut seq = Sequence {
            by: Vec::new(),
            maxspan: None,
            steps: Vec::new(),
            until: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => {
                    if seq.maxspan.is_some() && self.es() {
                        return err(ParseErrorKind::ByAfterWith, span_of(&x));
                    }
                    seq.by = self.by_clause(x)?;
                }
                Rule::with_clause => {
                    let sp = span_of(&x);
                    let ts = x.into_inner().find(|y| y.as_rule() == Rule::timespan);
                    let ts =
                        ts.ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, sp))?;
                    seq.maxspan = Some(self.timespan(ts)?);
                }
                Rule::step => seq.steps.push(self.step(x, false)?),
                Rule::until_step => seq.until = Some(self.until(x)?),
                _ => {}
            }
        }
        Self::check_keys(&seq.steps, seq.until.as_ref())?;
        Ok(seq)
    }

    fn sample(&self, p: Pair<'_, Rule>) -> PResult<Sample> {
        let span = span_of(&p);
        let mut s = Sample {
            by: Vec::new(),
            steps: Vec::new(),
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => s.by = self.by_clause(x)?,
                Rule::step => s.steps.push(self.step(x, true)?),
                _ => {}
            }
        }
        Self::check_keys(&s.steps, None)?;
        Ok(s)
    }

    fn join(&self, p: Pair<'_, Rule>) -> PResult<Join> {
        let span = span_of(&p);
        let mut j = Join {
            by: Vec::new(),
            steps: Vec::new(),
            until: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => j.by = self.by_clause(x)?,
                Rule::step => {
                    let s = self.step(x, false)?;
                    if s.runs.is_some() {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "`runs` in a join".into(),
                            },
                            s.span,
                        );
                    }
                    j.steps.push(s);
                }
                Rule::until_step => j.until = Some(self.until(x)?),
                _ => {}
            }
        }
        Self::check_keys(&j.steps, j.until.as_ref())?;
        Ok(j)
    }
}
