//! The `k` nearest neighbours of every row, for the similarity graph ([`crate::core::graph`]) and
//! the spanning tree of HDBSCAN ([`crate::core::map::hdbscan`]). Two ways ([`Search`]):
//!
//! - **exact** ([`exact_knn`]): every pair once, tiles of rows against blocks of the others
//!   laid out dimension by dimension (O(n²·d) work, O(n·d) memory).
//! - **approximate** ([`approximate_knn`], knobs in [`Tuning`]), for large sets (n²·d above
//!   [`EXACT_BUDGET`]):
//!   1. candidates by distance in the first `dims` principal components: the same exact
//!      search there (O(n²·dims)), or, past `4 · trees · leaf` rows, that search within the
//!      leaves of a few random-projection trees (O(trees · n · leaf · dims));
//!   2. the candidates re-ranked by their full-dimensional distances;
//!   3. refinement through neighbours of neighbours, as NN-descent (O(n·d·fanout²) a
//!      round). Component distances are lower bounds of the full ones, so most pairs that
//!      cannot enter a list are passed over without reading their full rows.
//!
//!   On the graph's rows (417 columns) recall@10 is 0.99 or more at 5,000 to 100,000 rows
//!   (`tests/integration/neighbours.rs`).
//!
//! Both return, per row, the `k` nearest other rows as (index, squared distance), nearest
//! first, ties by index (exact; the approximate search finds what it can); every distance
//! is [`sq_dist`] of the full rows.

use crate::core::base::{sq_dist, ClusterError, Matrix, Progress};
use crate::core::map::project::{principal_subspace, Pca};

/// Neighbour lists: per row, (index, squared distance), nearest first.
pub type Neighbours = Vec<Vec<(u32, f32)>>;

/// How the neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Search {
    /// Exact when n² · d ≤ [`EXACT_BUDGET`], approximate above.
    #[default]
    Auto,
    /// Every pair of rows.
    Exact,
    /// Principal-component candidates, re-ranked and refined ([`Tuning`]).
    Approximate,
}

/// The largest n² · d searched exactly under [`Search::Auto`]: 5,000 rows of 417 columns
/// (the graph's embedding + signature width), or 17,800 of 33 (signature only). About
/// there the approximate search becomes the faster (0.34 s against 0.51 s at 5,000 × 417,
/// 1.8 s against 8.2 s at 20,000; `tests/integration/neighbours.rs`).
pub const EXACT_BUDGET: f64 = 5000.0 * 5000.0 * 417.0;

impl Search {
    /// `Exact` or `Approximate` for `n` rows of `dim` columns.
    pub fn resolve(self, n: usize, dim: usize) -> Search {
        match self {
            Search::Auto if (n as f64) * (n as f64) * (dim as f64) <= EXACT_BUDGET => Search::Exact,
            Search::Auto => Search::Approximate,
            m => m,
        }
    }
}

/// The `k` nearest other rows of every row, by [`Search::Auto`].
pub fn knn(x: Matrix, k: usize, progress: Progress) -> Result<Neighbours, ClusterError> {
    knn_by(x, k, Search::Auto, progress)
}

/// The `k` nearest other rows of every row, found as `search` says.
pub fn knn_by(
    x: Matrix,
    k: usize,
    search: Search,
    progress: Progress,
) -> Result<Neighbours, ClusterError> {
    match search.resolve(x.rows, x.dim) {
        Search::Approximate => approximate_knn(x, k, &Tuning::default(), progress),
        _ => exact_knn(x, k, progress),
    }
}

/// The `k` nearest other rows of every row, exactly. (The search sums a distance in
/// another order than [`sq_dist`], which gives the distances returned: two rows whose
/// distances differ in the last bit only may be ranked otherwise than those say.)
pub fn exact_knn(x: Matrix, k: usize, progress: Progress) -> Result<Neighbours, ClusterError> {
    let n = x.rows;
    let k = k.min(n.saturating_sub(1));
    if k == 0 {
        progress(1.0);
        return Ok(vec![Vec::new(); n]);
    }
    let lists = search(x.data, x.dim, k, progress)?;
    let out = finish(x, &lists, k, true);
    progress(1.0);
    Ok(out)
}

/// The `k` nearest other rows of every row, approximately (see the module notes).
pub fn approximate_knn(
    x: Matrix,
    k: usize,
    tuning: &Tuning,
    progress: Progress,
) -> Result<Neighbours, ClusterError> {
    let n = x.rows;
    let k = k.min(n.saturating_sub(1));
    if k == 0 {
        progress(1.0);
        return Ok(vec![Vec::new(); n]);
    }
    let len = tuning.neighbours.max(k).min(n - 1);
    let (lists, _) = approximate_lists(x, len, tuning, progress)?;
    let out = finish(x, &lists, k, false);
    progress(1.0);
    Ok(out)
}

/// The first `k` of each list, by (full distance, index); `measure`: the lists' distances
/// are summed otherwise than by [`sq_dist`] (so are measured again).
fn finish(x: Matrix, lists: &Lists, k: usize, measure: bool) -> Neighbours {
    (0..x.rows)
        .map(|a| {
            let mut row: Vec<(u32, f32)> = lists
                .ids(a)
                .iter()
                .zip(lists.dists(a))
                .filter(|(&b, _)| b != u32::MAX)
                .map(|(&b, &d)| match measure {
                    true => (b, sq_dist(x.row(a), x.row(b as usize))),
                    false => (b, d),
                })
                .collect();
            row.sort_unstable_by(|p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
            row.truncate(k);
            row
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The approximate search.

/// Knobs of the approximate search. The defaults are what `tests/integration/neighbours.rs` measured
/// on the graph's rows (demo embeddings + signatures with noise, 417 columns): recall@10
/// 0.999 at 5,000 rows, 0.997 at 20,000 and 0.990 at 100,000 (15 s native, one thread);
/// fewer trees, a smaller fan-out or one round lose 0.01–0.04 of it at 100,000. HDBSCAN
/// keeps its own ([`crate::core::map::hdbscan::TUNING`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Principal components searched for candidates.
    pub dims: usize,
    /// Candidates per row from that search.
    pub candidates: usize,
    /// Neighbours kept per row while refining (at least the `k` asked for).
    pub neighbours: usize,
    /// Neighbours (forward, and as many reverse) whose neighbours are tried in a round.
    pub fanout: usize,
    /// Refinement rounds.
    pub rounds: usize,
    /// Random-projection trees the candidates come from when there are more than
    /// `4 · trees · leaf` rows (0: always the exact search in principal components).
    pub trees: usize,
    /// Rows per leaf of those trees (at most).
    pub leaf: usize,
    /// Whether a refinement round after the first looks only through the links that are
    /// new since the one before (as NN-descent does).
    pub incremental: bool,
}

impl Tuning {
    /// Whether `n` rows take their candidates from the trees.
    fn forest(&self, n: usize) -> bool {
        self.trees > 0 && self.leaf > 1 && n > 4 * self.trees * self.leaf
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            dims: 32,
            candidates: 60,
            neighbours: 20,
            fanout: 16,
            rounds: 2,
            trees: 4,
            leaf: 1024,
            incremental: true,
        }
    }
}

/// Nearest-neighbour lists: `k` per row, (squared distance, index), ascending; equal
/// distances in the order they were offered.
pub(crate) struct Lists {
    k: usize,
    d: Vec<f32>,
    i: Vec<u32>,
    /// The last distance of each list (packed: the search reads it for every pair).
    worst: Vec<f32>,
}

impl Lists {
    fn new(n: usize, k: usize) -> Self {
        Self {
            k,
            d: vec![f32::INFINITY; n * k],
            i: vec![u32::MAX; n * k],
            worst: vec![f32::INFINITY; n],
        }
    }

    fn worst(&self, a: usize) -> f32 {
        self.worst[a]
    }

    /// The indices of `a`'s list (`u32::MAX`: empty places at the end).
    pub(crate) fn ids(&self, a: usize) -> &[u32] {
        &self.i[a * self.k..(a + 1) * self.k]
    }

    /// The squared distances of `a`'s list.
    pub(crate) fn dists(&self, a: usize) -> &[f32] {
        &self.d[a * self.k..(a + 1) * self.k]
    }

    /// The lists of rows numbered `order[p]` for the lists of rows `p`.
    fn reorder(&self, order: &[u32]) -> Lists {
        let (n, k) = (order.len(), self.k);
        let mut out = Lists::new(n, k);
        for (p, &a) in order.iter().enumerate() {
            let a = a as usize;
            out.d[a * k..(a + 1) * k].copy_from_slice(self.dists(p));
            for (o, &b) in out.i[a * k..(a + 1) * k].iter_mut().zip(self.ids(p)) {
                *o = if b == u32::MAX { b } else { order[b as usize] };
            }
            out.worst[a] = self.worst[p];
        }
        out
    }

    /// Offers `b` at squared distance `d` to `a`'s list (once: a listed point is skipped).
    fn offer(&mut self, a: usize, d: f32, b: u32) {
        if d < self.worst(a) && !self.ids(a).contains(&b) {
            self.insert(a, d, b);
        }
    }

    /// Puts `b` into `a`'s list (it must be closer than the last and not listed yet).
    fn insert(&mut self, a: usize, d: f32, b: u32) {
        let k = self.k;
        let (ds, is) = (
            &mut self.d[a * k..(a + 1) * k],
            &mut self.i[a * k..(a + 1) * k],
        );
        let pos = ds.partition_point(|&v| v <= d);
        ds.copy_within(pos..k - 1, pos + 1);
        is.copy_within(pos..k - 1, pos + 1);
        ds[pos] = d;
        is[pos] = b;
        self.worst[a] = ds[k - 1];
    }
}

/// Rows per block of the search's dimension-major layout.
const W: usize = 8;

/// Squared distances of `a` to the `W` rows of a dimension-major block (`a.len() × W`).
/// Two running sums (even and odd dimensions) hide the latency of the additions.
#[inline]
fn block_sq(a: &[f32], block: &[f32]) -> [f32; W] {
    let (mut s0, mut s1) = ([0f32; W], [0f32; W]);
    let (pairs, rest) = (a.chunks_exact(2), block.chunks_exact(2 * W));
    let tail = (pairs.remainder(), rest.remainder());
    for (c, y) in pairs.zip(rest) {
        let (y0, y1) = y.split_at(W);
        for r in 0..W {
            let d0 = c[0] - y0[r];
            let d1 = c[1] - y1[r];
            s0[r] += d0 * d0;
            s1[r] += d1 * d1;
        }
    }
    if let (&[c], y) = tail {
        for r in 0..W {
            let d = c - y[r];
            s0[r] += d * d;
        }
    }
    for r in 0..W {
        s0[r] += s1[r];
    }
    s0
}

/// The `kc` nearest other rows of each row of `y` (`m` columns), exactly, each pair once.
/// Tiles of rows meet each block of the others while it is in the first-level cache. A
/// row's candidates arrive in index order, so equal distances keep the lower index.
pub(crate) fn search(
    y: &[f32],
    m: usize,
    kc: usize,
    progress: Progress,
) -> Result<Lists, ClusterError> {
    const TILE: usize = 16;
    let n = y.len() / m;
    let blocks = n.div_ceil(W);
    let mut t = vec![0f32; blocks * m * W];
    for (j, row) in y.chunks_exact(m).enumerate() {
        let (b, r) = (j / W, j % W);
        for (k, v) in row.iter().enumerate() {
            t[(b * m + k) * W + r] = *v;
        }
    }
    let mut lists = Lists::new(n, kc);
    let pairs = (n * (n - 1) / 2).max(1) as f64;
    let mut done = 0usize;
    for i0 in (0..n).step_by(TILE) {
        let i1 = (i0 + TILE).min(n);
        search_tile(y, &t, m, i0..i1, &mut lists);
        done += (i0..i1).map(|i| n - 1 - i).sum::<usize>();
        if !progress(done as f64 / pairs) {
            return Err(ClusterError::Cancelled);
        }
    }
    Ok(lists)
}

/// Rows `tile` of `y` against every later row (`t`: `y` in dimension-major blocks).
// The hot loops sit in small functions called once per tile or row: WebAssembly engines
// optimise a function for its next call, never one already running.
#[inline(never)]
fn search_tile(y: &[f32], t: &[f32], m: usize, tile: std::ops::Range<usize>, lists: &mut Lists) {
    let n = y.len() / m;
    for b in (tile.start + 1) / W..n.div_ceil(W) {
        let block = &t[b * m * W..(b + 1) * m * W];
        for i in tile.clone() {
            if (b + 1) * W <= i + 1 {
                continue; // the whole block is at or before i
            }
            let d = block_sq(&y[i * m..(i + 1) * m], block);
            // most blocks improve no list: one branch-free test first
            let wi = lists.worst[i];
            let near = match lists.worst.get(b * W..b * W + W) {
                Some(wj) => (0..W).fold(false, |h, r| h | (d[r] < wi.max(wj[r]))),
                None => true,
            };
            if !near {
                continue;
            }
            for (r, &d) in d.iter().enumerate() {
                let j = b * W + r;
                if j <= i || j >= n {
                    continue;
                }
                if d < lists.worst(i) {
                    lists.insert(i, d, j as u32);
                }
                if d < lists.worst(j) {
                    lists.insert(j, d, i as u32);
                }
            }
        }
    }
}

/// Approximate nearest-neighbour lists of length `k` (< n), and the principal subspace the
/// candidates came from.
pub(crate) fn approximate_lists(
    x: Matrix,
    k: usize,
    tuning: &Tuning,
    progress: Progress,
) -> Result<(Lists, Pca), ClusterError> {
    let n = x.rows;
    debug_assert!(
        n < NEW as usize,
        "indices keep their top bit for the refinement"
    );
    let kc = tuning.candidates.max(k).min(n - 1);
    // 1. candidates: an exact search among the first principal components, or one within
    // the leaves of random-projection trees there
    let basis = principal_subspace(x, tuning.dims, &mut |f| progress(0.1 * f))?;
    let m = basis.count();
    let y = basis.project(x);
    let lists = if tuning.forest(n) {
        // the rows in the order of a tree's leaves, so that near rows are near in memory
        // (the full rows are read at random below: in order, they come from the cache)
        let mut order: Vec<u32> = (0..n as u32).collect();
        split(&y, m, &mut order, tuning.leaf, &mut 0x0DE5);
        let yo = gather(&y, m, &order);
        drop(y);
        let cand = forest(&yo, m, kc, tuning, &mut |f| progress(0.1 + 0.6 * f))?;
        let xo = gather(x.data, x.dim, &order);
        let xo = Matrix {
            data: &xo,
            rows: n,
            dim: x.dim,
        };
        refine(xo, &yo, cand, k, tuning, progress)?.reorder(&order)
    } else {
        let cand = search(&y, m, kc, &mut |f| progress(0.1 + 0.6 * f))?;
        refine(x, &y, cand, k, tuning, progress)?
    };
    Ok((lists, basis))
}

/// The rows `order` of `data` (`dim` columns), in that order.
fn gather(data: &[f32], dim: usize, order: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(order.len() * dim);
    for &a in order {
        out.extend_from_slice(&data[a as usize * dim..(a as usize + 1) * dim]);
    }
    out
}

/// Lists of length `k` from the candidates `cand`: re-ranked by their full-dimensional
/// distances, then refined through neighbours of neighbours (progress from 0.7 to 1).
///
/// `y` are the rows in principal components (orthonormal), whose distances are lower
/// bounds of the full ones: a pair that is not nearer there than what both its lists hold
/// is passed over without its full distance (no neighbour is lost).
fn refine(
    x: Matrix,
    y: &[f32],
    cand: Lists,
    k: usize,
    tuning: &Tuning,
    progress: Progress,
) -> Result<Lists, ClusterError> {
    let n = x.rows;
    // 2. the candidates re-ranked by their full-dimensional distances
    let mut lists = Lists::new(n, k);
    for a in 0..n {
        rerank_row(x, a, &cand, &mut lists);
        if a % 1024 == 1023 && !progress(0.7 + 0.1 * a as f64 / n as f64) {
            return Err(ClusterError::Cancelled);
        }
    }
    drop(cand);
    // 3. refinement: a row's neighbours' neighbours (forward and reverse) are candidates
    // (incremental: after the first round, only through a link that is new since the last)
    let mut seen = vec![u32::MAX; n];
    let mut last: Vec<u32> = Vec::new();
    for round in 0..tuning.rounds {
        let f = tuning.fanout.min(k);
        let new = |a: usize, b: u32| {
            if last.is_empty() || !last[a * k..(a + 1) * k].contains(&b) {
                NEW
            } else {
                0
            }
        };
        let mut adj: Vec<Vec<u32>> = (0..n)
            .map(|a| {
                lists.ids(a)[..f]
                    .iter()
                    .filter(|&&b| b != u32::MAX)
                    .map(|&b| b | new(a, b))
                    .collect()
            })
            .collect();
        for a in 0..n {
            for &b in &lists.ids(a)[..f] {
                if b != u32::MAX && adj[b as usize].len() < 2 * f {
                    adj[b as usize].push(a as u32 | new(a, b));
                }
            }
        }
        if tuning.incremental {
            last.clone_from(&lists.i);
        }
        for a in 0..n {
            seen[a] = a as u32;
            for &b in lists.ids(a) {
                if b != u32::MAX {
                    seen[b as usize] = a as u32;
                }
            }
            refine_row(x, y, a, &adj, &mut seen, &mut lists);
            if a % 1024 == 1023 {
                let f = (round as f64 + a as f64 / n as f64) / tuning.rounds as f64;
                if !progress(0.8 + 0.2 * f) {
                    return Err(ClusterError::Cancelled);
                }
            }
        }
        seen.fill(u32::MAX);
    }
    Ok(lists)
}

/// The `kc` nearest rows of each row of `y` (`m` columns) within the leaves of
/// `tuning.trees` random-projection trees: each node splits its rows at the median of their
/// projection on the line through two of them (drawn from a fixed seed), down to leaves of
/// at most `tuning.leaf` rows, searched exactly. O(trees · n · leaf · m).
fn forest(
    y: &[f32],
    m: usize,
    kc: usize,
    tuning: &Tuning,
    progress: Progress,
) -> Result<Lists, ClusterError> {
    let n = y.len() / m;
    let mut lists = Lists::new(n, kc);
    let mut seed = 0x5EED_u64;
    let mut rows = Vec::new();
    for tree in 0..tuning.trees {
        let mut order: Vec<u32> = (0..n as u32).collect();
        let leaves = split(y, m, &mut order, tuning.leaf, &mut seed);
        for (l, range) in leaves.iter().enumerate() {
            let members = &order[range.clone()];
            if members.len() < 2 {
                continue;
            }
            rows.clear();
            for &a in members {
                rows.extend_from_slice(&y[a as usize * m..(a as usize + 1) * m]);
            }
            let local = search(&rows, m, kc.min(members.len() - 1), &mut |_| true)?;
            for (a, &ga) in members.iter().enumerate() {
                for (&b, &d) in local.ids(a).iter().zip(local.dists(a)) {
                    if b != u32::MAX {
                        lists.offer(ga as usize, d, members[b as usize]);
                    }
                }
            }
            let f = (tree as f64 + (l + 1) as f64 / leaves.len() as f64) / tuning.trees as f64;
            if !progress(f) {
                return Err(ClusterError::Cancelled);
            }
        }
    }
    Ok(lists)
}

/// Splits `order` (indices of rows of `y`) in place into leaves of at most `leaf` rows
/// (`leaf` ≥ 2) and returns their ranges. A node splits by the hyperplane half-way between
/// two of its rows (which rarely cuts a tight group), drawn again when it leaves fewer than
/// an eighth on one side; after three draws, at the median (which always halves it).
fn split(
    y: &[f32],
    m: usize,
    order: &mut [u32],
    leaf: usize,
    seed: &mut u64,
) -> Vec<std::ops::Range<usize>> {
    let mut leaves = Vec::new();
    let mut stack: Vec<std::ops::Range<usize>> = Vec::new();
    stack.push(0..order.len());
    let mut key: Vec<(f32, u32)> = Vec::new();
    while let Some(r) = stack.pop() {
        let len = r.len();
        if len <= leaf {
            leaves.push(r);
            continue;
        }
        let part = &mut order[r.clone()];
        let mut cut = 0;
        for _ in 0..3 {
            let a = part[(splitmix(seed) % len as u64) as usize] as usize;
            let b = part[(splitmix(seed) % len as u64) as usize] as usize;
            let (ya, yb) = (&y[a * m..(a + 1) * m], &y[b * m..(b + 1) * m]);
            // the side of the hyperplane: ‖y − a‖² − ‖y − b‖² (the projection on b − a)
            key.clear();
            key.extend(part.iter().map(|&i| {
                let yi = &y[i as usize * m..(i as usize + 1) * m];
                (sq_dist(yi, ya) - sq_dist(yi, yb), i)
            }));
            cut = key.iter().filter(|k| k.0 < 0.0).count();
            if cut.min(len - cut) >= len / 8 {
                break;
            }
        }
        if cut.min(len - cut) >= len / 8 {
            key.sort_unstable_by_key(|k| k.0 >= 0.0); // stable enough: only the sides matter
        } else {
            cut = len / 2;
            key.select_nth_unstable_by(cut, |p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
        }
        for (o, k) in part.iter_mut().zip(&key) {
            *o = k.1;
        }
        stack.push(r.start + cut..r.end);
        stack.push(r.start..r.start + cut);
    }
    leaves
}

/// The next value of a SplitMix64 sequence.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Principal-component distances above this share of a list's last distance cannot
/// enter it (the margin covers rounding: the bound itself is exact).
const BOUND: f32 = 1.001;

/// Offers row `a` its candidates (`cand`, ascending by principal-component distance) with
/// their full-dimensional distances.
#[inline(never)]
fn rerank_row(x: Matrix, a: usize, cand: &Lists, lists: &mut Lists) {
    for (&b, &low) in cand.ids(a).iter().zip(cand.dists(a)) {
        if b == u32::MAX || low > BOUND * lists.worst(a) {
            break;
        }
        lists.offer(a, sq_dist(x.row(a), x.row(b as usize)), b);
    }
}

/// The flag of a link new since the last refinement round, in the top bit of an index.
const NEW: u32 = 1 << 31;

/// Offers row `a` and each of its neighbours' neighbours (`adj`, through at least one
/// [`NEW`] link) to one another; `seen` marks with `a` the rows already tried (`a`'s list
/// included).
#[inline(never)]
fn refine_row(
    x: Matrix,
    y: &[f32],
    a: usize,
    adj: &[Vec<u32>],
    seen: &mut [u32],
    lists: &mut Lists,
) {
    let m = y.len() / x.rows;
    let ya = &y[a * m..(a + 1) * m];
    for &ab in &adj[a] {
        let b = ab & !NEW;
        for &bc in &adj[b as usize] {
            let c = bc & !NEW;
            if (ab | bc) & NEW == 0 || seen[c as usize] == a as u32 {
                continue;
            }
            seen[c as usize] = a as u32;
            let low = sq_dist(ya, &y[c as usize * m..(c as usize + 1) * m]);
            if low > BOUND * lists.worst(a).max(lists.worst(c as usize)) {
                continue;
            }
            let d = sq_dist(x.row(a), x.row(c as usize));
            lists.offer(a, d, c);
            lists.offer(c as usize, d, a as u32);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic values in [−0.5, 0.5) (also HDBSCAN's tests).
    pub(crate) fn noise(seed: u64) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }
    }

    /// The definition: all distances sorted by (distance, index).
    fn brute(x: Matrix, k: usize) -> Neighbours {
        (0..x.rows)
            .map(|a| {
                let mut all: Vec<(u32, f32)> = (0..x.rows)
                    .filter(|&b| b != a)
                    .map(|b| (b as u32, sq_dist(x.row(a), x.row(b))))
                    .collect();
                all.sort_by(|p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
                all.truncate(k);
                all
            })
            .collect()
    }

    #[test]
    fn exact_finds_the_nearest_rows_in_order() {
        let data = [0.0f32, 1.0, 3.0, 7.0];
        let x = Matrix::new(&data, 4, 1).unwrap();
        let near = exact_knn(x, 2, &mut |_| true).unwrap();
        assert_eq!(near[0], vec![(1, 1.0), (2, 9.0)]);
        assert_eq!(near[1], vec![(0, 1.0), (2, 4.0)]);
        assert_eq!(near[2], vec![(1, 4.0), (0, 9.0)]);
        assert_eq!(near[3], vec![(2, 16.0), (1, 36.0)]);
        // k larger than n − 1 gives every other row; k = 0 and one row give nothing
        assert_eq!(exact_knn(x, 10, &mut |_| true).unwrap()[0].len(), 3);
        assert_eq!(exact_knn(x, 0, &mut |_| true).unwrap(), vec![vec![]; 4]);
        let one = Matrix::new(&data[..1], 1, 1).unwrap();
        assert_eq!(knn(one, 3, &mut |_| true).unwrap(), vec![vec![]]);
    }

    #[test]
    fn exact_breaks_ties_by_index() {
        // 0 has 1, 2, 3, 5 at distance 1 and 4 at distance 0; 6 and 7 are the same point
        let data = [
            0.0f32, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 9.0, 9.0, 9.0, 9.0,
        ];
        let x = Matrix::new(&data, 8, 2).unwrap();
        let near = exact_knn(x, 3, &mut |_| true).unwrap();
        assert_eq!(near[0], vec![(4, 0.0), (1, 1.0), (2, 1.0)]);
        assert_eq!(near[4], vec![(0, 0.0), (1, 1.0), (2, 1.0)]);
        assert_eq!(near[6][0], (7, 0.0));
        assert_eq!(near, brute(x, 3));
    }

    #[test]
    fn exact_is_the_definition_on_random_rows() {
        // n not a multiple of the block width, an odd number of columns, one column
        for (n, m, k) in [(101, 5, 6), (64, 8, 10), (9, 1, 8), (300, 417, 10)] {
            let mut r = noise(11);
            let y: Vec<f32> = (0..n * m).map(|_| r()).collect();
            let x = Matrix::new(&y, n, m).unwrap();
            assert_eq!(
                exact_knn(x, k, &mut |_| true).unwrap(),
                brute(x, k),
                "{n}×{m}"
            );
        }
    }

    #[test]
    fn the_search_finds_the_exact_neighbours() {
        for (n, m) in [(101, 5), (64, 8), (9, 1)] {
            let mut r = noise(11);
            let y: Vec<f32> = (0..n * m).map(|_| r()).collect();
            let kc = 6.min(n - 1);
            let lists = search(&y, m, kc, &mut |_| true).unwrap();
            for a in 0..n {
                let mut all: Vec<f32> = (0..n)
                    .filter(|&b| b != a)
                    .map(|b| {
                        (0..m)
                            .map(|k| (y[a * m + k] - y[b * m + k]).powi(2))
                            .sum::<f32>()
                    })
                    .collect();
                all.sort_by(f32::total_cmp);
                for (got, want) in lists.dists(a).iter().zip(&all[..kc]) {
                    assert!(
                        (got - want).abs() <= 1e-5 * want.max(1.0),
                        "{got} vs {want}"
                    );
                }
                let ids = lists.ids(a);
                assert!(!ids.contains(&(a as u32)) && ids.iter().all(|&b| (b as usize) < n));
            }
        }
    }

    /// `groups` tight clumps of `size` rows in `dim` columns, centres far apart.
    fn clumps(groups: usize, size: usize, dim: usize) -> Vec<f32> {
        let mut r = noise(7);
        let mut data = Vec::new();
        for _ in 0..groups {
            let c: Vec<f32> = (0..dim).map(|_| 40.0 * r()).collect();
            for _ in 0..size {
                data.extend(c.iter().map(|v| v + 0.5 * r()));
            }
        }
        data
    }

    #[test]
    fn approximate_equals_exact_on_well_separated_data() {
        // 50 clumps of 12 in 100 columns: 600 rows, far more than the 60 candidates
        let (n, dim) = (600, 100);
        let data = clumps(50, 12, dim);
        let x = Matrix::new(&data, n, dim).unwrap();
        for k in [1, 5, 11] {
            let exact = exact_knn(x, k, &mut |_| true).unwrap();
            assert_eq!(exact, brute(x, k));
            let approx = approximate_knn(x, k, &Tuning::default(), &mut |_| true).unwrap();
            assert_eq!(approx, exact, "k = {k}");
        }
        // a lean search (few candidates, no refinement) still does here
        let lean = Tuning {
            dims: 8,
            candidates: 11,
            neighbours: 11,
            fanout: 4,
            rounds: 0,
            ..Default::default()
        };
        let approx = approximate_knn(x, 11, &lean, &mut |_| true).unwrap();
        assert_eq!(approx, exact_knn(x, 11, &mut |_| true).unwrap());
    }

    #[test]
    fn the_trees_split_into_balanced_leaves() {
        let (n, m) = (1000, 3);
        let mut r = noise(9);
        let y: Vec<f32> = (0..n * m).map(|_| r()).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let leaves = split(&y, m, &mut order, 100, &mut 1);
        assert!(leaves.iter().all(|l| (12..=100).contains(&l.len())));
        assert_eq!(leaves.iter().map(|l| l.len()).sum::<usize>(), n);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..n as u32).collect::<Vec<_>>());
        // identical rows split too
        let same = vec![0.5f32; n * m];
        let leaves = split(&same, m, &mut order, 7, &mut 1);
        assert!(
            leaves.iter().all(|l| (3..=7).contains(&l.len())),
            "{leaves:?}"
        );
    }

    #[test]
    fn the_forest_finds_well_separated_neighbours() {
        // 100 clumps of 12: leaves of 64 (the trees are used above 4 · 2 · 64 = 512 rows)
        let (n, dim) = (1200, 40);
        let data = clumps(100, 12, dim);
        let x = Matrix::new(&data, n, dim).unwrap();
        let tuning = Tuning {
            trees: 2,
            leaf: 64,
            ..Default::default()
        };
        assert!(tuning.forest(n));
        let exact = exact_knn(x, 11, &mut |_| true).unwrap();
        let approx = approximate_knn(x, 11, &tuning, &mut |_| true).unwrap();
        assert!(approx == exact, "the forest missed neighbours");
        // one tree alone cuts some clumps between leaves, which no refinement mends: the
        // second tree is what finds their neighbours
        let one = Tuning { trees: 1, ..tuning };
        let lean = approximate_knn(x, 11, &one, &mut |_| true).unwrap();
        assert!(lean != exact, "one tree found every neighbour");
    }

    #[test]
    fn refinement_finds_what_the_candidates_miss() {
        // uniform rows in 64 columns: 4 principal components say little about neighbours
        let (n, dim, k) = (1500, 64, 10);
        let mut r = noise(5);
        let data: Vec<f32> = (0..n * dim).map(|_| r()).collect();
        let x = Matrix::new(&data, n, dim).unwrap();
        let exact = exact_knn(x, k, &mut |_| true).unwrap();
        let recall = |got: &Neighbours| {
            let hit: usize = got
                .iter()
                .zip(&exact)
                .map(|(g, e)| g.iter().filter(|p| e.contains(p)).count())
                .sum();
            hit as f64 / (n * k) as f64
        };
        let bare = Tuning {
            dims: 4,
            candidates: 30,
            neighbours: 20,
            fanout: 16,
            rounds: 0,
            trees: 0,
            leaf: 0,
            incremental: false,
        };
        let without = recall(&approximate_knn(x, k, &bare, &mut |_| true).unwrap());
        let with =
            recall(&approximate_knn(x, k, &Tuning { rounds: 2, ..bare }, &mut |_| true).unwrap());
        assert!(with > without + 0.2, "recall {without:.3} → {with:.3}");
    }

    #[test]
    fn auto_chooses_by_the_budget() {
        assert_eq!(Search::Auto.resolve(5000, 417), Search::Exact);
        assert_eq!(Search::Auto.resolve(5001, 417), Search::Approximate);
        assert_eq!(Search::Auto.resolve(100_000, 33), Search::Approximate);
        assert_eq!(Search::Exact.resolve(1 << 20, 417), Search::Exact);
        assert_eq!(Search::Approximate.resolve(10, 2), Search::Approximate);
    }

    #[test]
    fn progress_rises_to_one_and_cancels() {
        let (n, dim) = (3000, 16);
        let data = clumps(100, 30, dim);
        let x = Matrix::new(&data, n, dim).unwrap();
        let trees = Tuning {
            trees: 2,
            leaf: 256,
            ..Default::default()
        };
        type Run<'a> = Box<dyn Fn(Progress) -> Result<Neighbours, ClusterError> + 'a>;
        let runs: [(&str, Run); 3] = [
            ("exact", Box::new(|p| knn_by(x, 10, Search::Exact, p))),
            (
                "approximate",
                Box::new(|p| knn_by(x, 10, Search::Approximate, p)),
            ),
            ("trees", Box::new(|p| approximate_knn(x, 10, &trees, p))),
        ];
        for (name, run) in runs {
            let mut seen = Vec::new();
            run(&mut |f| {
                seen.push(f);
                true
            })
            .unwrap();
            assert!(seen.len() > 5, "{name}: {} reports", seen.len());
            assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{name}: {seen:?}");
            assert!(seen.iter().all(|f| (0.0..=1.0).contains(f)));
            assert_eq!(seen.last(), Some(&1.0));
            for stop in [1, seen.len() / 3, seen.len() / 2, seen.len() - 2] {
                let mut calls = 0;
                let r = run(&mut |_| {
                    calls += 1;
                    calls < stop
                });
                assert_eq!(r, Err(ClusterError::Cancelled), "{name} stop {stop}");
            }
        }
    }
}
