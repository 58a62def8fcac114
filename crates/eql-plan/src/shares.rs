//! Work split into shares that run on scoped threads.

/// Runs `share(k)` for each `k` in `0..shares` and returns their outputs
/// one after the other, in the order of `k`: share 0 on the caller's thread,
/// the others on scoped threads, which have all ended when this returns. A
/// share whose thread cannot start (a target without threads) runs on the
/// caller's thread; a panic in a share is resumed on the caller's.
///
/// ```
/// let squares = eql_plan::run_shares(3, |k| vec![k * k, k]);
/// assert_eq!(squares, [0, 0, 1, 1, 4, 2]);
/// assert!(eql_plan::run_shares(0, |k| vec![k]).is_empty());
/// ```
pub fn run_shares<T: Send>(shares: usize, share: impl Fn(usize) -> Vec<T> + Sync) -> Vec<T> {
    let mut done = Vec::new();
    if shares == 0 {
        return done;
    }
    let share = &share;
    std::thread::scope(|s| {
        let spawned: Vec<_> = (1..shares)
            .map(|k| {
                (
                    k,
                    std::thread::Builder::new().spawn_scoped(s, move || share(k)),
                )
            })
            .collect();
        done.extend(share(0));
        for (k, handle) in spawned {
            match handle {
                Ok(h) => match h.join() {
                    Ok(d) => done.extend(d),
                    Err(p) => std::panic::resume_unwind(p),
                },
                Err(_) => done.extend(share(k)),
            }
        }
    });
    done
}
