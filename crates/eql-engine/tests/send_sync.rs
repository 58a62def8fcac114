//! The `Send`/`Sync` status of every public type, as the crate docs list it
//! (section "Threads"), asserted at compile time; and an owned session moved
//! into another thread keeps working.

use eql_engine::{
    CompileError, CompileOptions, CompiledQuery, CompiledRule, CompiledRuleSet, Diagnostic,
    Dialect, Document, EventError, EventErrorKind, EventLimits, EventLines, Expr, ExprKind,
    FieldPath, JsonType, LineageOptions, Literal, Match, Matches, Pack, PackMatches, ParseOptions,
    PathSegment, PipeKind, ProjectedEvent, Projection, Query, QueryBody, Rule, RuleError,
    RuleLoadError, RuleSet, SerializeEvent, Session, SessionLimits, SessionOptions, SessionPlan,
    SessionSnapshot, SessionStats, SnapshotError, Span, StreamOrder, Technique, Threat, ThreatRef,
    TimestampFormat, Value,
};
use std::sync::Arc;

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_static<T: 'static>() {}

/// Send + Sync, whatever their parameters.
#[test]
fn shared_types_are_send_and_sync() {
    macro_rules! both {
        ($($t:ty),* $(,)?) => {$(
            assert_send::<$t>();
            assert_sync::<$t>();
        )*};
    }
    both!(
        // Compiled, immutable: share them with `&` or `Arc`.
        CompiledQuery,
        CompiledRuleSet,
        CompiledRule,
        Pack,
        SessionPlan,
        Projection,
        RuleSet,
        Rule,
        Threat,
        Technique,
        ThreatRef,
        // Options and limits.
        CompileOptions,
        ParseOptions,
        SessionOptions,
        SessionLimits,
        LineageOptions,
        EventLimits,
        StreamOrder,
        TimestampFormat,
        Dialect,
        // Per-thread scratch and results.
        PackMatches,
        SessionStats,
        // Events and values.
        Value<'static>,
        FieldPath,
        PathSegment,
        Document<'static>,
        ProjectedEvent<'static>,
        SerializeEvent,
        EventLines<'static>,
        // Syntax.
        Query,
        QueryBody,
        Expr,
        ExprKind,
        Literal,
        PipeKind,
        Span,
        Diagnostic,
        // Errors.
        CompileError,
        EventError,
        EventErrorKind,
        JsonType,
        RuleError,
        RuleLoadError,
        SnapshotError,
    );
}

/// The types generic over the caller's handle `H` are `Send` (`Sync`) when
/// `H` is, and a session is `'static` when `H` is: it owns its plan.
#[test]
fn handle_types_follow_their_handle() {
    assert_send::<Session<u64>>();
    assert_sync::<Session<u64>>();
    assert_static::<Session<u64>>();
    assert_send::<Matches<u64>>();
    assert_sync::<Matches<u64>>();
    assert_send::<Match<'static, u64>>();
    assert_sync::<Match<'static, u64>>();
    assert_send::<Session<Arc<str>>>();
    assert_sync::<Session<Arc<str>>>();
    assert_send::<SessionSnapshot<u64>>();
    assert_sync::<SessionSnapshot<u64>>();
    assert_static::<SessionSnapshot<u64>>();
}

/// A session over a shared rule set moves into a spawned thread, keeps its
/// partial sequences across the move, and finishes there.
#[test]
fn an_owned_session_moves_into_a_thread() {
    let (rules, errors) = RuleSet::builtin().compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let query = CompiledQuery::compile(
        "sequence by host.id [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let plan = Arc::new(SessionPlan::new([query]));
    // Sessions over the same plan on two threads at once.
    let mut handles = Vec::new();
    for host in ["a", "b"] {
        let mut session = Session::new(Arc::clone(&plan), SessionOptions::default());
        let mut out = Matches::new();
        let first = serde_json::json!({"@timestamp": 1, "event": {"category": "process"}, "host": {"id": host}});
        session.push(1u64, &first, &mut out);
        assert!(out.is_empty());
        handles.push(std::thread::spawn(move || {
            let second = format!(
                r#"{{"@timestamp": 2, "event": {{"category": "file"}}, "host": {{"id": "{host}"}}}}"#
            );
            session
                .push_json(2, second.as_bytes(), &mut out)
                .expect("an event");
            session.finish(&mut out);
            out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>()
        }));
    }
    for h in handles {
        assert_eq!(h.join().expect("no panic"), vec![vec![1, 2]]);
    }
    // A rule set's session, built from the rule set's shared plan.
    let session: Session<u64> = Session::new(&rules, SessionOptions::default());
    let stats = std::thread::spawn(move || {
        let mut session = session;
        let mut out = Matches::new();
        session.push(
            1,
            &serde_json::json!({"event": {"category": "process"}}),
            &mut out,
        );
        session.finish(&mut out);
        session.stats()
    })
    .join()
    .expect("no panic");
    assert_eq!(stats.events, 1);
}
