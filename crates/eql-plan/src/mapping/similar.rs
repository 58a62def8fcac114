//! Elasticsearch's "did you mean": the mapped names close to an unknown
//! one, by Levenshtein similarity.

use super::Mapping;

impl Mapping {
    /// Names similar to `name` (Elasticsearch's "did you mean"): fields a
    /// query can compare whose Levenshtein similarity to `name` is at least
    /// one half, most similar first.
    pub fn similar(&self, name: &str) -> Vec<&str> {
        let fast = Myers::new(name);
        let mut scored: Vec<(f32, &str)> = self
            .fields
            .values()
            .filter(|f| f.is_primitive())
            .filter_map(|f| {
                let s = match &fast {
                    Some(m) if f.name.is_ascii() => {
                        let n = name.len().max(f.name.len());
                        1.0 - m.distance(f.name.as_bytes()) as f32 / n as f32
                    }
                    _ => similarity(name, &f.name),
                };
                (s >= 0.5).then_some((s, f.name.as_str()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, n)| n).collect()
    }
}

/// Levenshtein distance from one ASCII string of at most 64 bytes to others,
/// bit-parallel (Myers, in Hyyrö's formulation for the global distance):
/// one pass over the other string.
struct Myers {
    peq: [u64; 128],
    len: usize,
}

impl Myers {
    fn new(a: &str) -> Option<Myers> {
        if !a.is_ascii() || a.is_empty() || a.len() > 64 {
            return None;
        }
        let mut peq = [0u64; 128];
        for (i, c) in a.bytes().enumerate() {
            peq[usize::from(c)] |= 1 << i;
        }
        Some(Myers { peq, len: a.len() })
    }

    fn distance(&self, b: &[u8]) -> usize {
        let last = 1u64 << (self.len - 1);
        let (mut pv, mut mv, mut score) = (u64::MAX, 0u64, self.len);
        for &c in b {
            let eq = self.peq.get(usize::from(c)).copied().unwrap_or(0);
            let xv = eq | mv;
            let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
            let ph = mv | !(xh | pv);
            let mh = pv & xh;
            if ph & last != 0 {
                score += 1;
            } else if mh & last != 0 {
                score -= 1;
            }
            let ph = (ph << 1) | 1;
            let mh = mh << 1;
            pv = mh | !(xv | ph);
            mv = ph & xv;
        }
        score
    }
}

/// Lucene's Levenshtein similarity, `1 - distance / max(len)` over chars,
/// when it is at least one half; 0 below (the computation stops as soon as
/// the distance is sure to exceed half the longer length).
fn similarity(a: &str, b: &str) -> f32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let n = a.len().max(b.len());
    if n == 0 {
        return 1.0;
    }
    let limit = n / 2;
    if a.len().abs_diff(b.len()) > limit {
        return 0.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        if cur.iter().min().is_some_and(|m| *m > limit) {
            return 0.0;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn bit_parallel_levenshtein_is_levenshtein(a in "[a-c.]{1,12}", b in "[a-c.]{0,12}") {
            let m = Myers::new(&a).unwrap();
            let n = a.len().max(b.len());
            let d = m.distance(b.as_bytes());
            let s = similarity(&a, &b);
            if s > 0.0 {
                proptest::prop_assert_eq!(1.0 - d as f32 / n as f32, s);
            } else {
                proptest::prop_assert!(d > n / 2);
            }
        }
    }
}
