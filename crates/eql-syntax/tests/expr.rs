//! `parse_expr` and a few dialect-specific forms.

use eql_syntax::{parse_expr, parse_query, ExprKind, Literal, ParseOptions};

#[test]
fn parse_expr_basics() {
    let opts = ParseOptions::default();
    let e = parse_expr("1 + 2 * 3", &opts).expect("parses");
    assert_eq!(e.to_string(), "1 + 2 * 3");
    let e = parse_expr("99999999999999999999", &opts).expect("parses");
    assert!(matches!(e.kind, ExprKind::Literal(Literal::Float(_))));
    let e = parse_expr(r#""a\u{41}\n""#, &opts).expect("parses");
    assert_eq!(e.kind, ExprKind::Literal(Literal::String("aA\n".into())));
    let e = parse_expr(r#""""x"""""#, &opts).expect("parses");
    assert_eq!(e.kind, ExprKind::Literal(Literal::String("x\"".into())));
    assert!(parse_expr("1 +", &opts).is_err());
}

#[test]
fn python_forms_round_trip() {
    let opts = ParseOptions::python();
    for (src, printed) in [
        (
            "process where name:length() > 3",
            "process where length(name) > 3",
        ),
        (
            "process where a[0].b = 'x'",
            r#"process where a[0].b == "x""#,
        ),
        (
            r#"process where x == ?"a\b\"c""#,
            r#"process where x == "a\\b\"c""#,
        ),
        (
            "process where child of [p where true]",
            "process where child of [p where true]",
        ),
        (
            "sequence with maxspan=10 by a [p where true] fork [q where true]",
            "sequence by a with maxspan=10 [p where true] fork=true [q where true]",
        ),
    ] {
        let q = parse_query(src, &opts).expect("parses");
        assert_eq!(q.to_string(), printed);
        let again = parse_query(printed, &opts).expect("reparses");
        assert_eq!(again.without_spans(), q.without_spans());
    }
}

mod list_items {
    use eql_syntax::{parse_expr, ExprKind, ParseOptions};
    use proptest::prelude::*;

    /// List members, each with whether it is a lone string: strings of
    /// every quoting (which the grammar takes by a shortcut) and
    /// expressions that merely start with one.
    fn item() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            "[a-z .*?\\\\]{0,8}".prop_map(|s| (format!("{s:?}"), true)),
            "[a-z .*?]{0,8}".prop_map(|s| (format!("'{s}'"), true)),
            "[a-z .\"]{0,8}".prop_map(|s| (format!("\"\"\"{s}\"\"\""), true)),
            "[a-z]{1,4}".prop_map(|s| (format!("\"{s}\" + 1"), false)),
            "[a-z]{1,4}".prop_map(|s| (format!("\"{s}\" == x"), false)),
            "[a-z]{1,4}".prop_map(|s| (format!("\"{s}\" : \"a*\""), false)),
            "[a-z]{1,4}(\\.[a-z]{1,4})?".prop_map(|s| (s, false)),
            (0u32..99).prop_map(|n| (n.to_string(), false)),
        ]
    }

    /// What may stand between members and separators.
    fn gap() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            Just("\n\t ".to_string()),
            Just(" /* c, ) */ ".to_string()),
            Just(" // c, )\n".to_string()),
        ]
    }

    proptest! {
        /// Each member of a list is the expression its text parses to alone;
        /// a lone string's span covers exactly its text (an operator's
        /// span may run over the blanks after it, in lists or not).
        #[test]
        fn a_list_member_is_its_text_parsed_alone(
            items in prop::collection::vec((item(), gap(), gap()), 1..6),
            trailing in any::<bool>(),
        ) {
            let mut src = String::from("f in (");
            for (i, ((text, _), before, after)) in items.iter().enumerate() {
                if i > 0 {
                    src.push(',');
                }
                src.push_str(before);
                src.push_str(text);
                src.push_str(after);
            }
            if trailing {
                src.push(',');
            }
            src.push(')');
            for opts in [ParseOptions::default(), ParseOptions::python()] {
                let alone: Vec<_> = items.iter().map(|((text, _), _, _)| parse_expr(text, &opts)).collect();
                let Ok(e) = parse_expr(&src, &opts) else {
                    // The list fails only for a member that fails alone
                    // (a dialect's quoting).
                    prop_assert!(alone.iter().any(Result::is_err), "{}", src);
                    continue;
                };
                let ExprKind::In { list, .. } = e.kind else {
                    return Err(TestCaseError::fail(format!("{src}: not `in`")));
                };
                prop_assert_eq!(list.len(), items.len());
                for ((member, ((text, lone), _, _)), alone) in list.iter().zip(&items).zip(alone) {
                    let alone = alone.map_err(|e| TestCaseError::fail(format!("{src}: {text}: {e}")))?;
                    prop_assert_eq!(member.to_string(), alone.to_string(), "{}", src);
                    let covered = src.get(member.span.start as usize..member.span.end as usize);
                    if *lone {
                        prop_assert_eq!(covered, Some(text.as_str()), "{}", src);
                    } else {
                        prop_assert!(covered.is_some_and(|c| c.starts_with(text.as_str())), "{}", src);
                    }
                }
            }
        }
    }
}
