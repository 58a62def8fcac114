//! Malformed queries and their exact rendered diagnostics.
#![allow(clippy::needless_raw_string_hashes)]

use eql_syntax::{parse_query, ParseOptions};

fn check(python: bool, src: &str, expected: &str) {
    let opts = if python {
        ParseOptions::python()
    } else {
        ParseOptions::default()
    };
    let err = parse_query(src, &opts).expect_err("query should be rejected");
    assert_eq!(
        err.to_diagnostic().render(src, None),
        expected,
        "for {src:?}"
    );
}

#[test]
fn case_01() {
    check(
        false,
        r####"process where name == "abc"####,
        r####"error[EQL0003]: unterminated string
  --> 1:23
  |
1 | process where name == "abc
  |                       ^^^^
"####,
    );
}

#[test]
fn case_02() {
    check(
        false,
        r####"process where name == "\q""####,
        r####"error[EQL0004]: invalid escape sequence `\q`
  --> 1:24
  |
1 | process where name == "\q"
  |                        ^^
"####,
    );
}

#[test]
fn case_03() {
    check(
        false,
        r####"process where x == y"####,
        r####"error[EQL0016]: comparisons against fields are not supported: one side must be a constant
  --> 1:15
  |
1 | process where x == y
  |               ^^^^^^
"####,
    );
}

#[test]
fn case_03b() {
    // ES translates a comparison to a query on one side against a constant.
    check(
        false,
        r####"process where length(a) == length(b)"####,
        r####"error[EQL0016]: comparisons against fields are not supported: one side must be a constant
  --> 1:15
  |
1 | process where length(a) == length(b)
  |               ^^^^^^^^^^^^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_03c() {
    // `:`, `like` and `regex` take literals only, in both dialects.
    for python in [false, true] {
        check(
            python,
            r####"process where a : b"####,
            r####"error[EQL0019]: the right side of `:`, `like` and `regex` must be a literal or a parenthesized list of literals
  --> 1:19
  |
1 | process where a : b
  |                   ^
"####,
        );
        check(
            python,
            r####"process where a like~ ("x", concat("y"))"####,
            r####"error[EQL0019]: the right side of `:`, `like` and `regex` must be a literal or a parenthesized list of literals
  --> 1:29
  |
1 | process where a like~ ("x", concat("y"))
  |                             ^^^^^^^^^^^
"####,
        );
        // With a space after `:` this is the `:` operator, not the Python
        // method syntax `a:length()`.
        check(
            python,
            r####"process where a : length() == 1"####,
            r####"error[EQL0019]: the right side of `:`, `like` and `regex` must be a literal or a parenthesized list of literals
  --> 1:17
  |
1 | process where a : length() == 1
  |                 ^^^^^^^^^^
"####,
        );
    }
}

#[test]
fn python_compares_fields_and_calls_methods() {
    let opts = ParseOptions::python();
    assert!(parse_query("process where a == b", &opts).is_ok());
    assert!(parse_query("process where length(a) == length(b)", &opts).is_ok());
    assert!(parse_query("process where a:length() == 1", &opts).is_ok());
}

#[test]
fn case_04() {
    check(
        false,
        r####"process where 1 < x < 3"####,
        r####"error[EQL0005]: comparisons cannot be chained
  --> 1:21
  |
1 | process where 1 < x < 3
  |                     ^^^
"####,
    );
}

#[test]
fn case_05() {
    check(
        false,
        r####"sequence with maxspan=5 [a where true] [b where true]"####,
        r####"error[EQL0007]: maxspan needs a time unit (ms, s, m, h or d)
  --> 1:23
  |
1 | sequence with maxspan=5 [a where true] [b where true]
  |                       ^
"####,
    );
}

#[test]
fn case_06() {
    check(
        false,
        r####""####,
        r####"error[EQL0002]: unexpected end of input
  --> 1:1
  |
1 | 
  | ^
  = expected a query
"####,
    );
}

#[test]
fn case_07() {
    check(
        false,
        r####"""""####,
        r####"error[EQL0003]: unterminated string
  --> 1:1
  |
1 | """
  | ^^^
"####,
    );
}

#[test]
fn case_08() {
    check(
        false,
        r####"process where x = 1"####,
        r####"error[EQL0006]: compare with == instead of =
  --> 1:17
  |
1 | process where x = 1
  |                 ^
"####,
    );
}

#[test]
fn case_09() {
    check(
        false,
        r####"sequence [a where true] with runs=0 [b where true]"####,
        r####"error[EQL0008]: runs=0 is out of range (1 to 100)
  --> 1:25
  |
1 | sequence [a where true] with runs=0 [b where true]
  |                         ^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_10() {
    check(
        false,
        r####"sequence [a where true] by x [b where true] by x, y"####,
        r####"error[EQL0009]: inconsistent join keys: expected 1 key(s), found 2
  --> 1:48
  |
1 | sequence [a where true] by x [b where true] by x, y
  |                                                ^
"####,
    );
}

#[test]
fn case_11() {
    check(
        false,
        r####"process where true | cout 5"####,
        r####"error[EQL0011]: unknown pipe `cout`
  --> 1:22
  |
1 | process where true | cout 5
  |                      ^^^^
"####,
    );
}

#[test]
fn case_12() {
    check(
        false,
        r####"PROCESS WHERE true"####,
        r####"error[EQL0012]: unknown keyword `WHERE`
  --> 1:9
  |
1 | PROCESS WHERE true
  |         ^^^^^
  = did you mean `where`?
  = expected `where`
"####,
    );
}

#[test]
fn case_13() {
    check(
        false,
        r####"process WHERE true"####,
        r####"error[EQL0012]: unknown keyword `WHERE`
  --> 1:9
  |
1 | process WHERE true
  |         ^^^^^
  = did you mean `where`?
  = expected `where`
"####,
    );
}

#[test]
fn case_14() {
    check(
        false,
        r####"sequense by x [a where true] [b where true]"####,
        r####"error[EQL0012]: unknown keyword `sequense`
  --> 1:1
  |
1 | sequense by x [a where true] [b where true]
  | ^^^^^^^^
  = did you mean `sequence`?
"####,
    );
}

#[test]
fn case_15() {
    check(
        false,
        r####"process where"####,
        r####"error[EQL0002]: unexpected end of input
  --> 1:14
  |
1 | process where
  |              ^
  = expected an expression
"####,
    );
}

#[test]
fn case_16() {
    check(
        false,
        r####"process where x =="####,
        r####"error[EQL0002]: unexpected end of input
  --> 1:19
  |
1 | process where x ==
  |                   ^
  = expected an expression
"####,
    );
}

#[test]
fn case_17() {
    check(
        false,
        r####"process where (x == 1"####,
        r####"error[EQL0002]: unexpected end of input
  --> 1:22
  |
1 | process where (x == 1
  |                      ^
  = expected `and`, `or` or an operator
"####,
    );
}

#[test]
fn case_18() {
    check(
        false,
        r####"process where x in ()"####,
        r####"error[EQL0001]: unexpected `)`
  --> 1:21
  |
1 | process where x in ()
  |                     ^
  = expected an expression
"####,
    );
}

#[test]
fn case_19() {
    check(
        false,
        r####"process where 'single'"####,
        r####"error[EQL0017]: single-quoted string is not supported in this dialect
  --> 1:15
  |
1 | process where 'single'
  |               ^^^^^^^^
"####,
    );
}

#[test]
fn case_20() {
    check(
        false,
        r####"join [a where true] [b where true]"####,
        r####"error[EQL0017]: `join` is not supported in this dialect
  --> 1:1
  |
1 | join [a where true] [b where true]
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_21() {
    check(
        false,
        r####"sequence with maxspan=1m by x [a where true] [b where true]"####,
        r####"error[EQL0010]: `by` must come before `with`
  --> 1:26
  |
1 | sequence with maxspan=1m by x [a where true] [b where true]
  |                          ^^^^
"####,
    );
}

#[test]
fn case_22() {
    check(
        false,
        r####"sequence [a where true] with runs=101 [b where true]"####,
        r####"error[EQL0008]: runs=101 is out of range (1 to 100)
  --> 1:25
  |
1 | sequence [a where true] with runs=101 [b where true]
  |                         ^^^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_23() {
    check(
        false,
        r####"process where x == "\u{zz}""####,
        r####"error[EQL0004]: invalid escape sequence `\u{zz}`
  --> 1:21
  |
1 | process where x == "\u{zz}"
  |                     ^^^^^^
"####,
    );
}

#[test]
fn case_24() {
    check(
        false,
        r####"process where x == 1 | head"####,
        r####"error[EQL0017]: `head` without exactly one argument is not supported in this dialect
  --> 1:22
  |
1 | process where x == 1 | head
  |                      ^^^^^^
"####,
    );
}

#[test]
fn case_25() {
    check(
        false,
        r####"process where x == 1 | count"####,
        r####"error[EQL0017]: pipe `count` is not supported in this dialect
  --> 1:24
  |
1 | process where x == 1 | count
  |                        ^^^^^
"####,
    );
}

#[test]
fn case_26() {
    check(
        false,
        r####"process where a[0] == 1"####,
        r####"error[EQL0017]: array index is not supported in this dialect
  --> 1:16
  |
1 | process where a[0] == 1
  |                ^^^
"####,
    );
}

#[test]
fn case_27() {
    check(
        false,
        r####"process where x == 1 /* unclosed"####,
        r####"error[EQL0018]: unterminated comment
  --> 1:22
  |
1 | process where x == 1 /* unclosed
  |                      ^^
"####,
    );
}

#[test]
fn case_28() {
    check(
        false,
        r####"process where x == 1 andd y == 2"####,
        r####"error[EQL0012]: unknown keyword `andd`
  --> 1:22
  |
1 | process where x == 1 andd y == 2
  |                      ^^^^
  = did you mean `and`?
  = expected `and`, `or`, `|`, an operator or end of input
"####,
    );
}

#[test]
fn case_29() {
    check(
        false,
        r####"process where x == 1e999"####,
        r####"error[EQL0015]: invalid number `1e999`
  --> 1:20
  |
1 | process where x == 1e999
  |                    ^^^^^
"####,
    );
}

#[test]
fn case_30() {
    check(
        false,
        r####"process where descendant of [a where true]"####,
        r####"error[EQL0017]: lineage `of` is not supported in this dialect
  --> 1:15
  |
1 | process where descendant of [a where true]
  |               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_31() {
    check(
        true,
        r####"sequence [a where true] with runs=1 [b where true]"####,
        r####"error[EQL0008]: runs=1 is out of range (at least 2)
  --> 1:25
  |
1 | sequence [a where true] with runs=1 [b where true]
  |                         ^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_32() {
    check(
        true,
        r####"join by a [x where true] by b, c [y where true]"####,
        r####"error[EQL0009]: inconsistent join keys: expected 2 key(s), found 0
  --> 1:34
  |
1 | join by a [x where true] by b, c [y where true]
  |                                  ^^^^^^^^^^^^^^
"####,
    );
}

#[test]
fn case_33() {
    check(
        true,
        r####"process where x == 1 | sortt x"####,
        r####"error[EQL0011]: unknown pipe `sortt`
  --> 1:24
  |
1 | process where x == 1 | sortt x
  |                        ^^^^^
  = did you mean `sort`?
"####,
    );
}

#[test]
fn ten_thousand_parens() {
    let src = format!(
        "process where {}true{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let err = parse_query(&src, &ParseOptions::default()).expect_err("too deep");
    assert_eq!(err.code(), "EQL0013");
    let text = err.to_diagnostic().render(&src, None);
    assert!(
        text.starts_with("error[EQL0013]: query nested too deeply (limit 128)\n  --> 1:143\n"),
        "{text}"
    );
}

#[test]
fn deep_unary_chain() {
    let src = format!("process where {}true", "not ".repeat(10_000));
    let err = parse_query(&src, &ParseOptions::default()).expect_err("too deep");
    assert_eq!(err.code(), "EQL0013");
    let src = format!("process where {}1 == 1", "- ".repeat(10_000));
    assert_eq!(
        parse_query(&src, &ParseOptions::default())
            .expect_err("too deep")
            .code(),
        "EQL0013"
    );
}

#[test]
fn too_long() {
    let mut opts = ParseOptions::default();
    opts.max_len = 10;
    let err = parse_query("process where true", &opts).expect_err("too long");
    assert_eq!(err.code(), "EQL0014");
}

/// An expression's span ends at its last token: the blanks and comments
/// after it (which pest's span of a compound rule takes in) are not part of
/// it, and a `//` or `/*` inside a string is no comment.
#[test]
fn spans_end_at_the_last_token() {
    let src = "a == 1  /* c */ and not b  or f(c)  > 2 // x\n and d == \"u//v/*\"  ";
    let e = eql_syntax::parse_expr(src, &eql_syntax::ParseOptions::default())
        .map_err(|e| e.to_string());
    let Ok(e) = e else {
        panic!("{e:?}");
    };
    let mut spans = Vec::new();
    e.walk(&mut |x: &eql_syntax::Expr| {
        spans.push(
            src.get(x.span.start as usize..x.span.end as usize)
                .map(str::to_owned),
        );
        true
    });
    for s in spans.iter().flatten() {
        assert_eq!(s.trim_end(), s, "{spans:?}");
        assert!(!s.ends_with("*/") && !s.ends_with("// x"), "{spans:?}");
    }
    assert!(spans.contains(&Some("a == 1".to_owned())), "{spans:?}");
    assert!(spans.contains(&Some("not b".to_owned())), "{spans:?}");
    assert!(spans.contains(&Some("f(c)  > 2".to_owned())), "{spans:?}");
    assert!(
        spans.contains(&Some("d == \"u//v/*\"".to_owned())),
        "{spans:?}"
    );
}
