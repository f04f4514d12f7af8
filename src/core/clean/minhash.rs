//! MinHash signatures of shingle sets and LSH banding (Broder 1997; *Mining of Massive
//! Datasets* ch. 3), for near-duplicates among a data set's CoTs and questions.
//!
//! - A signature is `perms` minima of `h_k(x) = (a_k·x + b_k) >> 32` over the set's 64-bit
//!   shingle hashes (multiply-shift hashing with odd `a_k`; `a_k`, `b_k` drawn by splitmix64
//!   from the seed). Two signatures agree at a position with probability J, their Jaccard
//!   similarity; the share of agreeing positions estimates J with standard error
//!   √(J(1−J)/perms).
//! - Banding: `bands` bands of `perms / bands` rows. Two sets become candidates when some
//!   band is equal, with probability 1 − (1 − J^rows)^bands; every candidate is kept only
//!   when its estimate reaches the threshold. With the defaults (128 = 32 × 4) a pair at
//!   J = 0.7 is a candidate with probability 0.9998, at 0.5 with 0.87, at 0.3 with 0.23.
//!
//! No crate was taken for this: the maintained choices on crates.io are gaoya (last release
//! 2023-06, rayon and rand 0.8) and datasketch-minhash-lsh 0.0.1 ("use it at your own
//! risk"); this is 150 lines, deterministic on wasm32 and checked against `datasketch`.

use super::text::mix;

/// MinHash and banding settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinHashConfig {
    /// Hash functions (signature length).
    pub perms: usize,
    /// LSH bands; `perms` must be a multiple.
    pub bands: usize,
    /// Seed of the hash functions.
    pub seed: u64,
}

impl Default for MinHashConfig {
    fn default() -> Self {
        Self {
            perms: 128,
            bands: 32,
            seed: 1,
        }
    }
}

/// The hash functions: `perms` pairs (a odd, b).
#[derive(Debug, Clone)]
pub struct Hasher {
    a: Vec<u64>,
    b: Vec<u64>,
    bands: usize,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix(*state)
}

/// An empty set's signature: every position at the largest value (agrees only with
/// another empty set).
const EMPTY: u32 = u32::MAX;

impl Hasher {
    /// The hash functions of `config` (`bands` is clamped to a divisor of `perms`).
    pub fn new(config: &MinHashConfig) -> Self {
        let perms = config.perms.max(1);
        let mut bands = config.bands.clamp(1, perms);
        while perms % bands != 0 {
            bands -= 1;
        }
        let mut s = config.seed;
        let (mut a, mut b) = (Vec::with_capacity(perms), Vec::with_capacity(perms));
        for _ in 0..perms {
            a.push(splitmix(&mut s) | 1);
            b.push(splitmix(&mut s));
        }
        Hasher { a, b, bands }
    }

    /// Signature length.
    pub fn perms(&self) -> usize {
        self.a.len()
    }

    /// Rows per band.
    pub fn rows(&self) -> usize {
        self.a.len() / self.bands
    }

    /// The signature of the set of `shingles` (repeats do not matter), written to `out`
    /// (length [`Self::perms`]).
    pub fn sign_into(&self, shingles: &[u64], out: &mut [u32]) {
        out.fill(EMPTY);
        for &x in shingles {
            for ((o, &a), &b) in out.iter_mut().zip(&self.a).zip(&self.b) {
                let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                if v < *o {
                    *o = v;
                }
            }
        }
    }

    /// The signature of `shingles`.
    pub fn sign(&self, shingles: &[u64]) -> Vec<u32> {
        let mut out = vec![0; self.perms()];
        self.sign_into(shingles, &mut out);
        out
    }

    /// The key of band `band` of signature `sig`.
    pub fn band_key(&self, sig: &[u32], band: usize) -> u64 {
        let r = self.rows();
        sig[band * r..(band + 1) * r]
            .iter()
            .fold(band as u64, |h, &v| mix(h ^ u64::from(v)).rotate_left(7))
    }

    /// How many bands.
    pub fn bands(&self) -> usize {
        self.bands
    }
}

/// The estimated Jaccard similarity of two signatures: the share of equal positions.
pub fn estimate(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len() as f64
}

/// Runs longer than this in one band bucket are compared along a chain (each member with
/// the next) instead of all pairs: a template repeated 10,000 times stays linear.
const ALL_PAIRS_UP_TO: usize = 32;

/// Candidate pairs `(i, j)`, i < j, of `n` signatures (row-major in `sigs`, `perms` each):
/// those equal in some band, each pair once. `report(fraction)` is called after each band
/// and stops the search when it returns false (then `None`).
pub fn candidates(
    hasher: &Hasher,
    sigs: &[u32],
    n: usize,
    mut report: impl FnMut(f64) -> bool,
) -> Option<Vec<(u32, u32)>> {
    let p = hasher.perms();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut keys: Vec<(u64, u32)> = Vec::with_capacity(n);
    for band in 0..hasher.bands() {
        keys.clear();
        for i in 0..n {
            let sig = &sigs[i * p..(i + 1) * p];
            if sig[0] == EMPTY {
                continue; // an empty set is nobody's duplicate here
            }
            keys.push((hasher.band_key(sig, band), i as u32));
        }
        keys.sort_unstable();
        let mut start = 0;
        while start < keys.len() {
            let mut end = start + 1;
            while end < keys.len() && keys[end].0 == keys[start].0 {
                end += 1;
            }
            let run = &keys[start..end];
            if run.len() <= ALL_PAIRS_UP_TO {
                for (x, &(_, a)) in run.iter().enumerate() {
                    for &(_, b) in &run[x + 1..] {
                        pairs.push((a.min(b), a.max(b)));
                    }
                }
            } else {
                for w in run.windows(2) {
                    pairs.push((w[0].1.min(w[1].1), w[0].1.max(w[1].1)));
                }
            }
            start = end;
        }
        // keep the list from growing with repeats across bands
        if pairs.len() > 4 * n.max(1024) {
            pairs.sort_unstable();
            pairs.dedup();
        }
        if !report((band + 1) as f64 / hasher.bands() as f64) {
            return None;
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    Some(pairs)
}

/// Disjoint sets (union by size, path halving).
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The set of `x`.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Joins the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }

    /// The sets of two or more members, each sorted, ordered by their first member.
    pub fn groups(&mut self) -> Vec<Vec<u32>> {
        let n = self.parent.len();
        let mut by_root: std::collections::HashMap<u32, Vec<u32>> = Default::default();
        for x in 0..n as u32 {
            let r = self.find(x);
            if self.size[r as usize] > 1 {
                by_root.entry(r).or_default().push(x);
            }
        }
        let mut out: Vec<Vec<u32>> = by_root.into_values().collect();
        out.sort_unstable_by_key(|g| g[0]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::shingles;
    use super::*;
    use proptest::prelude::*;

    /// The exact Jaccard similarity the estimates are checked against (two sorted,
    /// deduplicated sets; 1 when both are empty, as two empty signatures agree).
    fn jaccard(a: &[u64], b: &[u64]) -> f64 {
        let (mut i, mut j, mut both) = (0, 0, 0usize);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        let union = a.len() + b.len() - both;
        if union == 0 {
            1.0
        } else {
            both as f64 / union as f64
        }
    }

    #[test]
    fn banding_probability_of_the_defaults() {
        let h = Hasher::new(&MinHashConfig::default());
        assert_eq!((h.perms(), h.bands(), h.rows()), (128, 32, 4));
        let p = |j: f64| 1.0 - (1.0 - j.powi(4)).powi(32);
        assert!(p(0.7) > 0.9998 && (p(0.5) - 0.873).abs() < 1e-3 && (p(0.3) - 0.229).abs() < 1e-3);
        // bands that do not divide the signature are lowered to a divisor
        let h = Hasher::new(&MinHashConfig {
            perms: 100,
            bands: 30,
            seed: 3,
        });
        assert_eq!((h.bands(), h.rows()), (25, 4));
    }

    #[test]
    fn identical_sets_agree_everywhere_and_disjoint_sets_almost_nowhere() {
        let h = Hasher::new(&MinHashConfig::default());
        let a = shingles("the quick brown fox jumps over the lazy dog again", 3);
        let b = shingles("completely different words make another set of shingles", 3);
        assert_eq!(estimate(&h.sign(&a), &h.sign(&a)), 1.0);
        assert!(estimate(&h.sign(&a), &h.sign(&b)) < 0.05);
        assert_eq!(jaccard(&a, &a), 1.0);
        assert_eq!(jaccard(&a, &b), 0.0);
        assert_eq!(jaccard(&[], &[]), 1.0);
    }

    #[test]
    fn hand_computed_jaccard() {
        // {1,2,3,4} and {3,4,5}: 2 shared of 5
        assert!((jaccard(&[1, 2, 3, 4], &[3, 4, 5]) - 0.4).abs() < 1e-12);
    }

    /// Sets of 400 with a known overlap: the estimate's error over 50 seeds is what
    /// √(J(1−J)/128) says (its mean within 3 standard errors of the mean, its spread within
    /// 25 % of the theory).
    #[test]
    fn estimates_are_unbiased_with_the_binomial_error() {
        for shared in [100u64, 200, 300] {
            let a: Vec<u64> = (0..400).map(|x| mix(x + 1)).collect();
            let b: Vec<u64> = (400 - shared..800 - shared).map(|x| mix(x + 1)).collect();
            let (mut a, mut b) = (a, b);
            a.sort_unstable();
            b.sort_unstable();
            let j = jaccard(&a, &b);
            let (mut sum, mut sq) = (0.0, 0.0);
            let seeds = 50;
            for seed in 0..seeds {
                let h = Hasher::new(&MinHashConfig {
                    seed,
                    ..Default::default()
                });
                let e = estimate(&h.sign(&a), &h.sign(&b)) - j;
                sum += e;
                sq += e * e;
            }
            let sd = (j * (1.0 - j) / 128.0).sqrt();
            let mean = sum / seeds as f64;
            let rmse = (sq / seeds as f64).sqrt();
            assert!(
                mean.abs() < 3.0 * sd / (seeds as f64).sqrt(),
                "J {j}: mean error {mean}"
            );
            assert!((rmse / sd - 1.0).abs() < 0.25, "J {j}: rmse {rmse} vs {sd}");
        }
    }

    #[test]
    fn union_find_groups() {
        let mut u = UnionFind::new(6);
        u.union(4, 1);
        u.union(1, 5);
        u.union(2, 3);
        assert_eq!(u.groups(), vec![vec![1, 4, 5], vec![2, 3]]);
    }

    proptest! {
        /// Candidates hold every identical pair, never a pair twice, never (i, i).
        #[test]
        fn candidates_hold_identical_sets(copies in proptest::collection::vec(0usize..4, 2..40)) {
            let h = Hasher::new(&MinHashConfig::default());
            let texts = ["one two three four five", "six seven eight nine ten", "a b c d e f", ""];
            let sigs: Vec<u32> = copies.iter().flat_map(|&k| h.sign(&shingles(texts[k], 3))).collect();
            let pairs = candidates(&h, &sigs, copies.len(), |_| true).unwrap();
            let mut seen = std::collections::HashSet::new();
            for &(i, j) in &pairs {
                prop_assert!(i < j);
                prop_assert!(seen.insert((i, j)));
            }
            let mut u = UnionFind::new(copies.len());
            for &(i, j) in &pairs {
                if copies[i as usize] == copies[j as usize] { u.union(i, j); }
            }
            for i in 0..copies.len() {
                for j in i + 1..copies.len() {
                    let same = copies[i] == copies[j] && copies[i] != 3;
                    prop_assert_eq!(u.find(i as u32) == u.find(j as u32), same);
                }
            }
        }
    }
}
