//! `Event` for `sonic_rs::Value` (feature `simd`): an event parsed by a SIMD
//! JSON parser, read through the same field walk and resolver as a
//! `serde_json::Value`.

use crate::event::json::{same_key, sorted_object, Tree};
use eql_plan::Value;
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value as Sonic};
use std::borrow::Cow;

fn to_value(v: &Sonic) -> Value<'_> {
    if let Some(s) = v.as_str() {
        return Value::Str(Cow::Borrowed(s));
    }
    if v.is_number() {
        return match v.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(v.as_f64().unwrap_or(f64::NAN)),
        };
    }
    if let Some(b) = v.as_bool() {
        return Value::Bool(b);
    }
    if let Some(a) = v.as_array() {
        return Value::Array(a.iter().map(to_value).collect());
    }
    if let Some(o) = v.as_object() {
        return sorted_object(o.iter());
    }
    Value::Null
}

impl Tree for Sonic {
    fn key(&self, k: &str) -> Option<&Self> {
        // The last member with the key, as serde_json keeps it.
        let mut last = None;
        for (key, v) in self.as_object()? {
            if same_key(key, k) {
                last = Some(v);
            }
        }
        last
    }
    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(sonic_rs::Array::as_slice)
    }
    fn is_object(&self) -> bool {
        JsonValueTrait::is_object(self)
    }
    fn to_value(&self) -> Value<'_> {
        to_value(self)
    }
    fn dotted_keys<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {
        if let Some(o) = self.as_object() {
            for (k, _) in o {
                if k.contains('.') {
                    f(k);
                }
            }
        }
    }
    fn for_each_member<'s>(&'s self, mut f: impl FnMut(&'s str, &'s Self) -> bool) {
        if let Some(o) = self.as_object() {
            for (k, v) in o {
                if !f(k, v) {
                    break;
                }
            }
        }
    }
    fn is_null(&self) -> bool {
        JsonValueTrait::is_null(self)
    }
}

crate::event::json::tree_event!(Sonic);

#[cfg(test)]
mod tests {
    use super::*;

    /// What each parser makes of a text: `None` when it rejects it, else the
    /// runtime value of the whole document.
    fn both(text: &str) -> (Option<Value<'static>>, Option<Value<'static>>) {
        let serde = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|v| crate::event::json::json_to_value(&v).into_owned());
        let sonic = sonic_rs::from_str::<Sonic>(text)
            .ok()
            .map(|v| to_value(&v).into_owned());
        (serde, sonic)
    }

    #[test]
    fn edge_cases_read_as_serde_json_reads_them() {
        for text in [
            "-0",
            "0",
            "-0.0",
            "1e2",
            "1E+2",
            "1e-400",
            "1e400",
            "-1e400",
            "18446744073709551615",
            "18446744073709551616",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "0.1",
            "1.7976931348623157e308",
            "5e-324",
            "2.2250738585072014e-308",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud83d\\ude00\"",
            "\"\\u0000\"",
            "\"a\u{1}b\"",
            "\"\\/\"",
            "01",
            "1.",
            ".5",
            "+1",
            "NaN",
            "Infinity",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\":1}x",
            "{\"a\":1} ",
            " {\"a\":1}",
            "{\"a\":1,\"a\":2}",
            "\"\\x\"",
            "tru",
            "nul",
            "[",
            "{\"a\"}",
            "{1:2}",
            "\"\t\"",
            "-",
            "1e",
            "1e+",
            "[1 2]",
        ] {
            let (serde, sonic) = both(text);
            assert_eq!(serde, sonic, "{text:?}");
        }
    }
}
