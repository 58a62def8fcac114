//! Sampled timings that a few interrupted samples do not skew.

/// How many groups [`SampledTime`] spreads its samples over.
const GROUPS: usize = 8;

/// Sampled durations of one cost, estimated robustly: the samples are spread
/// over 8 groups by their sample number, and the mean cost is the median of
/// the groups' means (a *median of means*).
///
/// On a loaded machine a timed sample during which the thread was switched
/// out lasts milliseconds instead of nanoseconds; scaled up to every event,
/// that one sample would outweigh everything else. Samples of one event go
/// to one group, so such an event skews one group's mean, and the median
/// ignores it.
///
/// ```
/// use eql_engine::SampledTime;
/// let mut t = SampledTime::default();
/// for sample in 0..64 {
///     t.add(sample, 100);
/// }
/// t.add(3, 4_000_000); // one sample that was switched out
/// assert_eq!(t.samples(), 65);
/// let mean = t.mean_nanos().unwrap();
/// assert!((100.0..101.0).contains(&mean));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampledTime {
    nanos: [u64; GROUPS],
    count: [u64; GROUPS],
}

impl SampledTime {
    /// Adds a duration of sample number `sample` (samples with the same
    /// number, such as the rules timed on one event, share a group).
    pub fn add(&mut self, sample: u64, nanos: u64) {
        let g = (sample % GROUPS as u64) as usize;
        if let (Some(n), Some(c)) = (self.nanos.get_mut(g), self.count.get_mut(g)) {
            *n = n.saturating_add(nanos);
            *c += 1;
        }
    }

    /// Adds the samples of `other` (another thread's timings of the same
    /// cost).
    pub fn merge(&mut self, other: &SampledTime) {
        for (n, o) in self.nanos.iter_mut().zip(&other.nanos) {
            *n = n.saturating_add(*o);
        }
        for (c, o) in self.count.iter_mut().zip(&other.count) {
            *c += o;
        }
    }

    /// How many durations were added.
    pub fn samples(&self) -> u64 {
        self.count.iter().sum()
    }

    /// The sum of every duration added (the plain, outlier-sensitive total).
    pub fn total_nanos(&self) -> u64 {
        self.nanos.iter().fold(0, |a, &n| a.saturating_add(n))
    }

    /// The estimated cost of one sample: the median of the means of the
    /// groups that have samples (of two middle ones, their average); `None`
    /// with no sample.
    pub fn mean_nanos(&self) -> Option<f64> {
        let mut means: Vec<f64> = self
            .nanos
            .iter()
            .zip(&self.count)
            .filter(|&(_, &c)| c > 0)
            .map(|(&n, &c)| n as f64 / c as f64)
            .collect();
        means.sort_by(f64::total_cmp);
        let k = means.len();
        match k {
            0 => None,
            _ if k % 2 == 1 => means.get(k / 2).copied(),
            _ => Some((means.get(k / 2 - 1)? + means.get(k / 2)?) / 2.0),
        }
    }

    /// The estimated cost of `n` occurrences: `n` times [`SampledTime::mean_nanos`]
    /// (0 with no sample).
    pub fn estimate_nanos(&self, n: u64) -> f64 {
        self.mean_nanos().map_or(0.0, |m| m * n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outlier_per_group_count_does_not_move_the_estimate() {
        let mut t = SampledTime::default();
        for s in 0..800 {
            t.add(s, 50 + s % 3);
        }
        let clean = t.mean_nanos().unwrap();
        t.add(5, 5_000_000);
        let with_outlier = t.mean_nanos().unwrap();
        assert!(
            (clean - with_outlier).abs() < 1.0,
            "{clean} vs {with_outlier}"
        );
        // The plain mean is skewed by the outlier.
        let plain = t.total_nanos() as f64 / t.samples() as f64;
        assert!(plain > 5_000.0);
    }

    #[test]
    fn median_of_even_and_odd_group_counts() {
        let mut t = SampledTime::default();
        assert_eq!(t.mean_nanos(), None);
        assert_eq!(t.estimate_nanos(10), 0.0);
        t.add(0, 10);
        t.add(1, 30);
        assert_eq!(t.mean_nanos(), Some(20.0));
        t.add(2, 100);
        assert_eq!(t.mean_nanos(), Some(30.0));
        assert_eq!(t.estimate_nanos(4), 120.0);
    }

    #[test]
    fn merge_adds_the_groups() {
        let (mut a, mut b) = (SampledTime::default(), SampledTime::default());
        a.add(0, 10);
        b.add(0, 30);
        b.add(9, 7);
        a.merge(&b);
        assert_eq!((a.samples(), a.total_nanos()), (3, 47));
        // Group 0 holds 10 and 30 (mean 20), group 1 holds 7.
        assert_eq!(a.mean_nanos(), Some(13.5));
    }
}
