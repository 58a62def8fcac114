//! The order of a held hit: its tiebreaker ([`Tie`]) and key ([`OrderKey`]).

use eql_plan::Value;
use std::cmp::Ordering;
use std::sync::Arc;

/// A tiebreaker value: null first, then numbers, then strings (by bytes).
/// Elasticsearch sorts a keyword tiebreaker by bytes and a numeric one by
/// value; a string of digits is read as a number (a field mapped as a number
/// indexes it so). An array is read as its smallest value (Elasticsearch's
/// ascending sort mode `min`).
#[derive(Clone, Debug)]
pub(crate) enum Tie {
    Null,
    Int(i64),
    Float(f64),
    Str(Arc<str>),
}

impl Tie {
    pub(crate) fn read(v: Option<&Value<'_>>) -> Tie {
        match v {
            Some(Value::Int(i)) => Tie::Int(*i),
            Some(Value::Float(f)) if !f.is_nan() => Tie::Float(*f),
            Some(Value::Bool(b)) => Tie::Int(i64::from(*b)),
            Some(Value::Str(s)) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Tie::Int(i)
                } else if let Some(f) = t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && t.bytes().any(|b| b.is_ascii_digit()))
                {
                    Tie::Float(f)
                } else {
                    Tie::Str(Arc::from(&**s))
                }
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| Tie::read(Some(x)))
                .filter(|t| !t.is_null())
                .min()
                .unwrap_or(Tie::Null),
            _ => Tie::Null,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Tie::Null)
    }

    fn rank(&self) -> u8 {
        match self {
            Tie::Null => 0,
            Tie::Int(_) | Tie::Float(_) => 1,
            Tie::Str(_) => 2,
        }
    }
}

impl Ord for Tie {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Tie::Int(a), Tie::Int(b)) => a.cmp(b),
            (Tie::Float(a), Tie::Float(b)) => a.total_cmp(b),
            #[allow(clippy::cast_precision_loss)]
            (Tie::Int(a), Tie::Float(b)) => (*a as f64).total_cmp(b),
            #[allow(clippy::cast_precision_loss)]
            (Tie::Float(a), Tie::Int(b)) => a.total_cmp(&(*b as f64)),
            (Tie::Str(a), Tie::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}
impl PartialOrd for Tie {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Tie {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Tie {}

/// Where a hit runs among its rule's hits: (timestamp on the rule's clock,
/// the rule's tiebreaker, arrival, position among the event's hits). The
/// arrival is Elasticsearch's implicit `_shard_doc` tiebreaker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey {
    pub(crate) ts: i64,
    pub(crate) tie: Tie,
    pub(crate) arrival: u64,
    pub(crate) seq: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_order() {
        let s = |x: &str| Tie::read(Some(&Value::from(x.to_owned())));
        assert!(Tie::Null < Tie::Int(i64::MIN));
        assert!(Tie::Int(2) < Tie::Float(2.5));
        assert!(Tie::Float(2.5) < Tie::Int(3));
        assert!(Tie::Int(i64::MAX) < s("a"));
        assert_eq!(s("12"), Tie::Int(12));
        assert_eq!(s("1.5"), Tie::Float(1.5));
        assert!(s("B") < s("a"), "strings compare by bytes");
        assert!(
            s("inf").cmp(&Tie::Int(0)) == Ordering::Greater,
            "not a number"
        );
        let arr = Value::Array(vec![Value::Int(5), Value::Null, Value::Int(3)]);
        assert_eq!(Tie::read(Some(&arr)), Tie::Int(3));
        assert!(Tie::read(None).is_null());
    }

    #[test]
    fn keys_order_by_time_then_tie_then_arrival() {
        let k = |ts, tie, arrival| OrderKey {
            ts,
            tie,
            arrival,
            seq: 0,
        };
        assert!(k(1, Tie::Int(9), 9) < k(2, Tie::Null, 0));
        assert!(k(1, Tie::Null, 9) < k(1, Tie::Int(0), 0));
        assert!(k(1, Tie::Int(1), 0) < k(1, Tie::Int(1), 1));
    }
}
