//! `Serialize` for the session's result views, which borrow from the
//! caller's [`Matches`] buffer (so there is nothing to deserialize into).

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::{Match, Matches};

/// A result as `{"rule": 0, "events": [...], "key": [...]}`, with `count`
/// and `percent` when a Python `count` pipe set them.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
/// let engine = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
/// let mut s = Session::<u64>::new(&engine, SessionOptions::default());
/// let mut out = Matches::new();
/// s.push(1, &serde_json::json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
/// s.push(2, &serde_json::json!({"@timestamp": 2, "event": {"category": "b"}, "k": "x"}), &mut out);
/// s.finish(&mut out);
/// let m = out.iter().next().unwrap();
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"rule":0,"events":[1,2],"key":["x"]}"#);
/// ```
impl<H: Serialize> Serialize for Match<'_, H> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = 3 + usize::from(self.count.is_some()) + usize::from(self.percent.is_some());
        let mut st = s.serialize_struct("Match", n)?;
        st.serialize_field("rule", &self.rule)?;
        st.serialize_field("events", self.events)?;
        st.serialize_field("key", self.key)?;
        if let Some(c) = self.count {
            st.serialize_field("count", &c)?;
        }
        if let Some(p) = self.percent {
            st.serialize_field("percent", &p)?;
        }
        st.end()
    }
}

/// The buffer as `{"matches": [...], "late": [...]}`.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
/// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
/// let mut s = Session::<u64>::new(&engine, SessionOptions::default());
/// let mut out = Matches::new();
/// s.push(7, &serde_json::json!({"@timestamp": 5}), &mut out);
/// s.push(8, &serde_json::json!({"@timestamp": 1}), &mut out);
/// s.finish(&mut out);
/// assert_eq!(
///     serde_json::to_string(&out).unwrap(),
///     r#"{"matches":[{"rule":0,"events":[7],"key":[]},{"rule":0,"events":[8],"key":[]}],"late":[]}"#
/// );
/// ```
impl<H: Serialize> Serialize for Matches<H> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The results as a sequence, without collecting them.
        struct Items<'a, H>(&'a Matches<H>);
        impl<H: Serialize> Serialize for Items<'_, H> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for m in self.0.iter() {
                    seq.serialize_element(&m)?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("Matches", 2)?;
        st.serialize_field("matches", &Items(self))?;
        st.serialize_field("late", self.late())?;
        st.end()
    }
}
