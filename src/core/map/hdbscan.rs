//! HDBSCAN (Campello et al. 2013), as scikit-learn's `HDBSCAN` computes it: core distances,
//! a minimum spanning tree of the mutual reachability distances, the single-linkage
//! hierarchy, the condensed tree and the excess-of-mass selection of clusters. Noise is −1.
//!
//! The spanning tree is found one of two ways ([`MstMethod`]):
//! - **exact**: every pair once for the core distances, then Prim over the complete graph
//!   (O(n²·d) work, O(n·d) memory). Checked against scikit-learn on the demo set
//!   (`tests/integration/cluster.rs`).
//! - **approximate**, for large sets (n²·d above [`EXACT_BUDGET`]): Prim over a k-nearest
//!   neighbour graph from [`crate::core::map::neighbours`]' approximate search (candidates from an
//!   exact search in the first [`REDUCED_DIMS`] principal components, re-ranked by their
//!   full-dimensional distances and refined through neighbours of neighbours), with
//!   HDBSCAN's own [`TUNING`]; core distances and edge weights are full-dimensional. Its
//!   agreement with the exact result is measured in `tests/integration/cluster.rs`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::core::base::sq_dist;
use crate::core::base::{ClusterError, Matrix, Progress};
use crate::core::map::neighbours::{approximate_lists, Tuning};

/// How the minimum spanning tree of the mutual reachability distances is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum MstMethod {
    /// Exact when n² · d ≤ [`EXACT_BUDGET`], approximate above.
    #[default]
    Auto,
    /// Every pair of points (O(n² · d)).
    Exact,
    /// A k-nearest-neighbour graph (about O(n² · 32 + n · d · 200)).
    Approximate,
}

/// The largest n² · d clustered exactly under [`MstMethod::Auto`]: 3,000 points of 384
/// dimensions, or 10,000 of 33.
pub const EXACT_BUDGET: f64 = 3000.0 * 3000.0 * 384.0;

/// Principal components searched for candidate neighbours in the approximate method.
pub const REDUCED_DIMS: usize = 32;

/// The approximate method's neighbour search (what `tests/integration/cluster.rs` measured): lists of
/// 20 (at least min_samples + 15) from 60 candidates of the exact search in principal
/// components (no trees), two full refinement rounds of fan-out 16.
pub const TUNING: Tuning = Tuning {
    dims: REDUCED_DIMS,
    candidates: 60,
    neighbours: 20,
    fanout: 16,
    rounds: 2,
    trees: 0,
    leaf: 0,
    incremental: false,
};

impl MstMethod {
    /// `Exact` or `Approximate` for `n` points of `dim` dimensions.
    pub fn resolve(self, n: usize, dim: usize) -> MstMethod {
        match self {
            MstMethod::Auto if (n as f64) * (n as f64) * (dim as f64) <= EXACT_BUDGET => {
                MstMethod::Exact
            }
            MstMethod::Auto => MstMethod::Approximate,
            m => m,
        }
    }
}

/// Settings; defaults as scikit-learn's `HDBSCAN(min_cluster_size=5)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HdbscanConfig {
    /// The smallest group that counts as a cluster.
    pub min_cluster_size: usize,
    /// Neighbours (counting the point itself) that make a point dense; `None`: same as
    /// `min_cluster_size`.
    pub min_samples: Option<usize>,
    /// How the spanning tree is found.
    #[serde(default)]
    pub method: MstMethod,
}

impl Default for HdbscanConfig {
    fn default() -> Self {
        Self {
            min_cluster_size: 5,
            min_samples: None,
            method: MstMethod::Auto,
        }
    }
}

/// A clustering with noise.
#[derive(Debug, Clone, PartialEq)]
pub struct HdbscanResult {
    /// Cluster of each point, −1 for noise.
    pub labels: Vec<i32>,
    /// Stability (excess of mass) of each cluster, by label: how long it persists.
    pub persistence: Vec<f64>,
    /// How the spanning tree was found: `Exact` or `Approximate`.
    pub method: MstMethod,
}

/// A spanning tree: (from, to, mutual reachability distance), by increasing distance.
type Edges = Vec<(usize, usize, f64)>;

/// Clusters the rows of `x`.
pub fn hdbscan(
    x: Matrix,
    cfg: &HdbscanConfig,
    progress: Progress,
) -> Result<HdbscanResult, ClusterError> {
    let n = x.rows;
    let mcs = cfg.min_cluster_size.max(2);
    let min_samples = cfg.min_samples.unwrap_or(mcs).max(1);
    let method = cfg.method.resolve(n, x.dim);
    if n < mcs || n < 2 {
        return Ok(HdbscanResult {
            labels: vec![-1; n],
            persistence: Vec::new(),
            method,
        });
    }
    // Core distance: distance to the (min_samples − 1)-th nearest other point.
    let kth = (min_samples - 1).min(n - 1);
    let mut edges = match method {
        MstMethod::Approximate => approximate_mst(x, kth, &TUNING, &mut |f| progress(0.95 * f))?,
        _ => exact_mst(x, kth, &mut |f| progress(0.95 * f))?,
    };
    // stable: equal distances stay in the order Prim found them
    edges.sort_by(|a, b| a.2.total_cmp(&b.2));
    let result = from_mst(n, &edges, mcs, method);
    progress(1.0);
    Ok(result)
}

// ---------------------------------------------------------------------------------------
// Exact method.

// The hot loops below sit in small functions called once per row or step: WebAssembly
// engines optimise a function for its next call, never one already running.

/// Squared core distances by one pass over all pairs.
fn exact_core(x: Matrix, kth: usize, progress: Progress) -> Result<Vec<f32>, ClusterError> {
    let n = x.rows;
    if kth == 0 {
        return Ok(vec![0.0; n]);
    }
    // the kth smallest squared distances of each row, ascending
    let mut best = vec![f32::INFINITY; n * kth];
    let pairs = (n * (n - 1) / 2) as f64;
    let mut done = 0usize;
    for i in 0..n {
        core_row(x, i, kth, &mut best);
        done += n - 1 - i;
        if i % 64 == 63 && !progress(done as f64 / pairs) {
            return Err(ClusterError::Cancelled);
        }
    }
    Ok((0..n).map(|i| best[i * kth + kth - 1]).collect())
}

/// Row `i` against the rows after it, into both sides' `kth` smallest squared distances.
#[inline(never)]
fn core_row(x: Matrix, i: usize, kth: usize, best: &mut [f32]) {
    let push = |best: &mut [f32], i: usize, d: f32| {
        let l = &mut best[i * kth..(i + 1) * kth];
        if d < l[kth - 1] {
            let pos = l.partition_point(|&v| v <= d);
            l.copy_within(pos..kth - 1, pos + 1);
            l[pos] = d;
        }
    };
    let a = x.row(i);
    for (j, b) in x.data[(i + 1) * x.dim..].chunks_exact(x.dim).enumerate() {
        let d = sq_dist(a, b);
        push(best, i, d);
        push(best, i + 1 + j, d);
    }
}

/// The points not yet in Prim's tree, packed at the front of a copy of the data so that
/// every step streams one contiguous block.
struct Outside {
    dim: usize,
    left: usize,
    rows: Vec<f32>,
    id: Vec<u32>,
    core: Vec<f32>,
    reach: Vec<f32>,
    from: Vec<u32>,
}

impl Outside {
    /// Takes the point in `slot` out (into `row`): its index and core distance.
    fn take(&mut self, slot: usize, row: &mut [f32]) -> (u32, f32) {
        let dim = self.dim;
        let out = (self.id[slot], self.core[slot]);
        row.copy_from_slice(&self.rows[slot * dim..(slot + 1) * dim]);
        self.left -= 1;
        let last = self.left;
        self.rows
            .copy_within(last * dim..(last + 1) * dim, slot * dim);
        self.id.swap(slot, last);
        self.core.swap(slot, last);
        self.reach.swap(slot, last);
        self.from.swap(slot, last);
        out
    }

    /// Lowers each point's reach by the point `here` just added to the tree, and returns
    /// the slot of the closest point (ties: the lowest index, as a scan in index order).
    #[inline(never)]
    fn relax(&mut self, row: &[f32], here: u32, here_core: f32) -> usize {
        let left = self.left;
        let (reach, from) = (&mut self.reach[..left], &mut self.from[..left]);
        let (core, id) = (&self.core[..left], &self.id[..left]);
        let mut best = (f32::INFINITY, u32::MAX);
        let mut slot = 0;
        for (j, b) in self.rows[..left * self.dim]
            .chunks_exact(self.dim)
            .enumerate()
        {
            let mr = sq_dist(row, b).max(here_core).max(core[j]);
            if mr < reach[j] {
                reach[j] = mr;
                from[j] = here;
            }
            if (reach[j], id[j]) < best {
                best = (reach[j], id[j]);
                slot = j;
            }
        }
        slot
    }
}

/// Prim over the complete graph, in squared distances (the same order as distances; √
/// once per edge).
fn exact_mst(x: Matrix, kth: usize, progress: Progress) -> Result<Edges, ClusterError> {
    let (n, dim) = (x.rows, x.dim);
    let core = exact_core(x, kth, &mut |f| progress(0.5 * f))?;
    let mut out = Outside {
        dim,
        left: n,
        rows: x.data.to_vec(),
        id: (0..n as u32).collect(),
        core,
        reach: vec![f32::INFINITY; n],
        from: vec![0u32; n],
    };
    let mut row = vec![0f32; dim];
    let mut edges = Vec::with_capacity(n - 1);
    let (mut here, mut here_core) = out.take(0, &mut row);
    while out.left > 0 {
        let slot = out.relax(&row, here, here_core);
        edges.push((
            out.from[slot] as usize,
            out.id[slot] as usize,
            (out.reach[slot] as f64).sqrt(),
        ));
        (here, here_core) = out.take(slot, &mut row);
        if edges.len() % 256 == 0 {
            let f = 1.0 - (out.left as f64 / n as f64).powi(2);
            if !progress(0.5 + 0.5 * f) {
                return Err(ClusterError::Cancelled);
            }
        }
    }
    Ok(edges)
}

// ---------------------------------------------------------------------------------------
// Approximate method.

/// Prim over an approximate k-nearest-neighbour graph (see the module notes).
pub(crate) fn approximate_mst(
    x: Matrix,
    kth: usize,
    tuning: &Tuning,
    progress: Progress,
) -> Result<Edges, ClusterError> {
    let n = x.rows;
    // lists well past the core distance's rank: their tails feed the refinement and the
    // graph (kth + 16 measured better than kth alone for min_samples 10 and 20)
    let k = tuning.neighbours.max(kth + 16).min(n - 1).max(1);
    let (lists, basis) = approximate_lists(x, k, tuning, &mut |f| progress(0.9 * f))?;
    // core distances, then the graph (each list edge both ways), joined into one piece
    let core: Vec<f32> = (0..n)
        .map(|a| {
            if kth == 0 {
                0.0
            } else {
                lists.dists(a)[kth - 1]
            }
        })
        .collect();
    let mut adj: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    for a in 0..n {
        for (&b, &d) in lists.ids(a).iter().zip(lists.dists(a)) {
            if b != u32::MAX {
                adj[a].push((b, d));
                adj[b as usize].push((a as u32, d));
            }
        }
    }
    drop(lists);
    join_components(x, &basis, &mut adj, &mut |f| progress(0.9 + 0.05 * f))?;
    // Prim over the graph, in the order Prim over the complete graph would take (the
    // closest point next, ties to the lowest index)
    let mut in_tree = vec![false; n];
    let mut reach = vec![f32::INFINITY; n];
    let mut from = vec![0u32; n];
    let mut heap = BinaryHeap::new();
    let mut edges = Vec::with_capacity(n - 1);
    let mut next = Some(0usize);
    while let Some(v) = next {
        in_tree[v] = true;
        for &(b, d) in &adj[v] {
            let b = b as usize;
            if in_tree[b] {
                continue;
            }
            let mr = d.max(core[v]).max(core[b]);
            if mr < reach[b] {
                reach[b] = mr;
                from[b] = v as u32;
                heap.push(Reverse((mr.to_bits(), b as u32)));
            }
        }
        next = None;
        while let Some(Reverse((bits, b))) = heap.pop() {
            let b = b as usize;
            if !in_tree[b] && bits == reach[b].to_bits() {
                edges.push((from[b] as usize, b, (reach[b] as f64).sqrt()));
                next = Some(b);
                break;
            }
        }
    }
    debug_assert_eq!(edges.len(), n - 1, "the graph is connected");
    Ok(edges)
}
/// distance): all of them when they are few, else an even share of each piece (about n/16
/// searches a round), until one piece is left.
fn join_components(
    x: Matrix,
    basis: &crate::core::map::project::Pca,
    adj: &mut [Vec<(u32, f32)>],
    progress: Progress,
) -> Result<(), ClusterError> {
    let n = adj.len();
    let budget = (n / 16).max(256);
    let mut y: Option<Vec<f32>> = None;
    loop {
        let (piece, count) = pieces(adj);
        if count <= 1 {
            return Ok(());
        }
        let y = y.get_or_insert_with(|| basis.project(x));
        let m = basis.count();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (a, &p) in piece.iter().enumerate() {
            members[p as usize].push(a);
        }
        let largest = (0..count)
            .max_by_key(|&p| (members[p].len(), Reverse(p)))
            .unwrap_or(0);
        let outside = n - members[largest].len();
        let mut added = Vec::new();
        for (p, mem) in members.iter().enumerate() {
            if p == largest {
                continue;
            }
            let take = if outside <= budget {
                mem.len()
            } else {
                (budget * mem.len() / outside).clamp(1, mem.len())
            };
            for t in 0..take {
                let a = mem[t * mem.len() / take];
                if let Some(b) = nearest_outside(y, m, &piece, a) {
                    added.push((a, b, sq_dist(x.row(a), x.row(b))));
                }
            }
            if !progress(0.5) {
                return Err(ClusterError::Cancelled);
            }
        }
        for (a, b, d) in added {
            adj[a].push((b as u32, d));
            adj[b].push((a as u32, d));
        }
    }
}

/// The point closest to `a` (in the rows of `y`, `m` columns) outside `a`'s piece.
#[inline(never)]
fn nearest_outside(y: &[f32], m: usize, piece: &[u32], a: usize) -> Option<usize> {
    let ya = &y[a * m..(a + 1) * m];
    let mut best = (f32::INFINITY, None);
    for (b, yb) in y.chunks_exact(m).enumerate() {
        if piece[b] != piece[a] {
            let d = sq_dist(ya, yb);
            if d < best.0 || best.1.is_none() {
                best = (d, Some(b));
            }
        }
    }
    best.1
}

/// The connected piece of each point, and how many there are.
fn pieces(adj: &[Vec<(u32, f32)>]) -> (Vec<u32>, usize) {
    let n = adj.len();
    let mut piece = vec![u32::MAX; n];
    let mut count = 0;
    let mut stack = Vec::new();
    for s in 0..n {
        if piece[s] != u32::MAX {
            continue;
        }
        piece[s] = count;
        stack.push(s);
        while let Some(v) = stack.pop() {
            for &(b, _) in &adj[v] {
                if piece[b as usize] == u32::MAX {
                    piece[b as usize] = count;
                    stack.push(b as usize);
                }
            }
        }
        count += 1;
    }
    (piece, count as usize)
}

/// The single-linkage hierarchy of a spanning tree: node n + i merges `left` and `right`.
struct Merge {
    left: usize,
    right: usize,
    dist: f64,
    size: usize,
}

fn find(parent: &mut [usize], mut a: usize) -> usize {
    while parent[a] != a {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    a
}

/// From the sorted minimum spanning tree to labels (condensed tree + excess of mass).
pub(crate) fn from_mst(
    n: usize,
    edges: &[(usize, usize, f64)],
    mcs: usize,
    method: MstMethod,
) -> HdbscanResult {
    // single linkage: union-find over 2n − 1 nodes
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let mut size = vec![1usize; 2 * n - 1];
    let mut merges: Vec<Merge> = Vec::with_capacity(n - 1);
    for (k, &(a, b, d)) in edges.iter().enumerate() {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        let node = n + k;
        parent[ra] = node;
        parent[rb] = node;
        size[node] = size[ra] + size[rb];
        merges.push(Merge {
            left: ra,
            right: rb,
            dist: d,
            size: size[node],
        });
    }
    let count = |node: usize| if node < n { 1 } else { merges[node - n].size };
    let lambda = |d: f64| if d > 0.0 { 1.0 / d } else { f64::INFINITY };

    // Condensed tree: (parent cluster, child cluster or point, lambda, child size).
    // Clusters are numbered from n (the root) upwards, parents before children.
    let root = 2 * n - 2;
    let mut relabel = vec![0usize; 2 * n - 1];
    relabel[root] = n;
    let mut next_label = n + 1;
    let mut condensed: Vec<(usize, usize, f64, usize)> = Vec::new();
    let mut stack = vec![root];
    // points under a node (iterative)
    let leaves = |node: usize, out: &mut Vec<usize>| {
        let mut st = vec![node];
        while let Some(v) = st.pop() {
            if v < n {
                out.push(v);
            } else {
                st.push(merges[v - n].left);
                st.push(merges[v - n].right);
            }
        }
    };
    while let Some(node) = stack.pop() {
        if node < n {
            continue;
        }
        let m = &merges[node - n];
        let l = lambda(m.dist);
        let (left, right) = (m.left, m.right);
        let (lc, rc) = (count(left), count(right));
        let me = relabel[node];
        match (lc >= mcs, rc >= mcs) {
            (true, true) => {
                for (child, c) in [(left, lc), (right, rc)] {
                    relabel[child] = next_label;
                    next_label += 1;
                    condensed.push((me, relabel[child], l, c));
                    stack.push(child);
                }
            }
            (false, false) => {
                let mut pts = Vec::new();
                leaves(left, &mut pts);
                leaves(right, &mut pts);
                for p in pts {
                    condensed.push((me, p, l, 1));
                }
            }
            (true, false) | (false, true) => {
                let (big, small) = if lc >= mcs {
                    (left, right)
                } else {
                    (right, left)
                };
                let mut pts = Vec::new();
                leaves(small, &mut pts);
                for p in pts {
                    condensed.push((me, p, l, 1));
                }
                relabel[big] = me;
                stack.push(big);
            }
        }
    }
    // Stability of each cluster: Σ over what leaves it of (λ_leave − λ_birth) × size.
    let clusters = next_label - n;
    let mut birth = vec![0f64; clusters];
    let mut cluster_parent = vec![usize::MAX; clusters];
    for &(p, c, l, _) in &condensed {
        if c >= n {
            birth[c - n] = l;
            cluster_parent[c - n] = p - n;
        }
    }
    let mut stability = vec![0f64; clusters];
    for &(p, _, l, s) in &condensed {
        let gain = (l - birth[p - n]) * s as f64;
        stability[p - n] += if gain.is_finite() {
            gain
        } else {
            f64::MAX / 4.0
        };
    }
    // Excess of mass, children before parents (higher numbers are deeper); the root
    // (cluster 0) is never selected.
    let mut selected = vec![true; clusters];
    selected[0] = false;
    let mut subtree = vec![0f64; clusters];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); clusters];
    for c in 1..clusters {
        children[cluster_parent[c]].push(c);
    }
    for c in (1..clusters).rev() {
        let below: f64 = children[c].iter().map(|&k| subtree[k]).sum();
        if children[c].is_empty() || stability[c] >= below {
            subtree[c] = stability[c];
            // deselect all descendants
            let mut st = children[c].clone();
            while let Some(k) = st.pop() {
                selected[k] = false;
                st.extend(children[k].iter().copied());
            }
        } else {
            subtree[c] = below;
            selected[c] = false;
        }
    }
    // Labels: a point belongs to the selected cluster above where it fell out.
    let mut label_of = vec![-1i32; clusters];
    let mut persistence = Vec::new();
    for c in 1..clusters {
        if selected[c] {
            label_of[c] = persistence.len() as i32;
            persistence.push(stability[c]);
        }
    }
    let mut labels = vec![-1i32; n];
    for &(p, c, _, _) in &condensed {
        if c < n {
            let mut k = p - n;
            while k != 0 && !selected[k] {
                k = cluster_parent[k];
            }
            labels[c] = if k != 0 { label_of[k] } else { -1 };
        }
    }
    HdbscanResult {
        labels,
        persistence,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::map::neighbours::tests::noise;
    use crate::core::metrics::adjusted_rand_index;

    fn run(data: &[f32], rows: usize, dim: usize, mcs: usize) -> HdbscanResult {
        let cfg = HdbscanConfig {
            min_cluster_size: mcs,
            ..Default::default()
        };
        hdbscan(Matrix::new(data, rows, dim).unwrap(), &cfg, &mut |_| true).unwrap()
    }

    fn with(x: Matrix, mcs: usize, method: MstMethod) -> HdbscanResult {
        let cfg = HdbscanConfig {
            min_cluster_size: mcs,
            method,
            ..Default::default()
        };
        hdbscan(x, &cfg, &mut |_| true).unwrap()
    }

    fn ari(a: &[i32], b: &[i32]) -> f64 {
        let a: Vec<i64> = a.iter().map(|&v| v as i64).collect();
        let b: Vec<i64> = b.iter().map(|&v| v as i64).collect();
        adjusted_rand_index(&a, &b)
    }

    /// `groups` blobs of `size` points in `dim` dimensions (spread `spread` around centres
    /// about 10 apart), then `outliers` points spread over the whole box.
    fn blobs(groups: usize, size: usize, dim: usize, spread: f32, outliers: usize) -> Vec<f32> {
        let mut r = noise(7);
        let centres: Vec<Vec<f32>> = (0..groups)
            .map(|_| (0..dim).map(|_| 20.0 * r()).collect())
            .collect();
        let mut data = Vec::new();
        for c in &centres {
            for _ in 0..size {
                data.extend(c.iter().map(|v| v + spread * r()));
            }
        }
        for _ in 0..outliers * dim {
            data.push(20.0 * r());
        }
        data
    }

    #[test]
    fn two_blobs_and_an_outlier() {
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (c, (cx, cy)) in [(0.0f32, 0.0f32), (20.0, 0.0)].into_iter().enumerate() {
            for i in 0..10 {
                data.extend([cx + (i % 4) as f32 * 0.1, cy + (i / 4) as f32 * 0.1]);
                truth.push(c as i64);
            }
        }
        data.extend([10.0, 30.0]);
        truth.push(-1);
        let r = run(&data, 21, 2, 5);
        let got: Vec<i64> = r.labels.iter().map(|&l| l as i64).collect();
        assert_eq!(adjusted_rand_index(&got, &truth), 1.0, "{got:?}");
        assert_eq!(r.labels[20], -1, "the outlier is noise");
        assert_eq!(r.persistence.len(), 2);
        assert!(r.persistence.iter().all(|p| *p > 0.0));
    }

    #[test]
    fn small_and_degenerate_inputs() {
        assert_eq!(
            run(&[0.0, 1.0, 2.0], 3, 1, 5).labels,
            vec![-1; 3],
            "fewer points than a cluster"
        );
        // identical points do not break the arithmetic (λ = ∞)
        let same = vec![1.0f32; 20];
        let r = run(&same, 10, 2, 5);
        assert_eq!(r.labels.len(), 10);
    }

    #[test]
    fn cancellable() {
        let data: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.37).sin()).collect();
        let x = Matrix::new(&data, 1000, 2).unwrap();
        let r = hdbscan(x, &HdbscanConfig::default(), &mut |_| false);
        assert_eq!(r, Err(ClusterError::Cancelled));
    }

    /// The algorithm before the rewrite, kept as the reference of the exact method: core
    /// distances by sorting all distances, Prim with a full pass per step, in f64.
    fn reference(x: Matrix, mcs: usize) -> HdbscanResult {
        let n = x.rows;
        let dist =
            |a: usize, b: usize| (crate::core::base::sq_dist(x.row(a), x.row(b)) as f64).sqrt();
        let core: Vec<f64> = (0..n)
            .map(|a| {
                let mut d: Vec<f64> = (0..n).filter(|&b| b != a).map(|b| dist(a, b)).collect();
                d.sort_by(f64::total_cmp);
                d[mcs - 2]
            })
            .collect();
        let mut in_tree = vec![false; n];
        let mut reach = vec![f64::INFINITY; n];
        let mut from = vec![0usize; n];
        let mut edges = Vec::new();
        let mut current = 0;
        in_tree[0] = true;
        for _ in 1..n {
            let mut next = usize::MAX;
            let mut next_d = f64::INFINITY;
            for b in 0..n {
                if in_tree[b] {
                    continue;
                }
                let mr = dist(current, b).max(core[current]).max(core[b]);
                if mr < reach[b] {
                    reach[b] = mr;
                    from[b] = current;
                }
                if reach[b] < next_d || next == usize::MAX {
                    next_d = reach[b];
                    next = b;
                }
            }
            in_tree[next] = true;
            edges.push((from[next], next, next_d));
            current = next;
        }
        edges.sort_by(|a, b| a.2.total_cmp(&b.2));
        from_mst(n, &edges, mcs, MstMethod::Exact)
    }

    #[test]
    fn exact_method_is_the_reference_algorithm() {
        // blobs, overlapping blobs and outliers, with ties (a repeated point)
        for (data, dim) in [
            (blobs(4, 40, 10, 4.0, 20), 10),
            (blobs(3, 50, 7, 12.0, 10), 7),
            ([blobs(2, 30, 3, 1.0, 5), vec![0.5; 3 * 4]].concat(), 3),
        ] {
            let x = Matrix::new(&data, data.len() / dim, dim).unwrap();
            for mcs in [3, 5, 8] {
                let ours = with(x, mcs, MstMethod::Exact);
                assert_eq!(
                    ours.labels,
                    reference(x, mcs).labels,
                    "dim {dim}, mcs {mcs}"
                );
                assert_eq!(ours.method, MstMethod::Exact);
            }
        }
    }

    #[test]
    fn approximate_agrees_with_exact_on_blobs() {
        // 6 blobs in 48 dimensions, more points than the neighbour lists, some outliers
        let dim = 48;
        let data = blobs(6, 150, dim, 6.0, 60);
        let x = Matrix::new(&data, data.len() / dim, dim).unwrap();
        let exact = with(x, 5, MstMethod::Exact);
        let approx = with(x, 5, MstMethod::Approximate);
        assert_eq!(approx.method, MstMethod::Approximate);
        assert_eq!(exact.persistence.len(), 6, "{:?}", exact.persistence);
        assert_eq!(approx.persistence.len(), exact.persistence.len());
        let agreement = ari(&approx.labels, &exact.labels);
        assert!(agreement >= 0.99, "ARI {agreement}");
    }

    #[test]
    fn approximate_joins_pieces_of_the_neighbour_graph() {
        // two far-apart groups bigger than the lists: the neighbour graph falls in two
        let dim = 4;
        let data = blobs(2, 60, dim, 0.5, 0);
        let x = Matrix::new(&data, 120, dim).unwrap();
        let edges = approximate_mst(x, 4, &TUNING, &mut |_| true).unwrap();
        assert_eq!(edges.len(), 119, "a spanning tree");
        let approx = with(x, 5, MstMethod::Approximate);
        assert_eq!(approx.persistence.len(), 2);
        assert_eq!(
            ari(&approx.labels, &with(x, 5, MstMethod::Exact).labels),
            1.0
        );
        // 30 clumps of 25 identical points: 30 pieces, joined a share of points at a time
        let mut r = noise(5);
        let mut data = Vec::new();
        for _ in 0..30 {
            let p: Vec<f32> = (0..dim).map(|_| 10.0 * r()).collect();
            for _ in 0..25 {
                data.extend(&p);
            }
        }
        let x = Matrix::new(&data, 750, dim).unwrap();
        let edges = approximate_mst(x, 4, &TUNING, &mut |_| true).unwrap();
        assert_eq!(edges.len(), 749);
        assert_eq!(with(x, 5, MstMethod::Approximate).persistence.len(), 30);
    }

    #[test]
    fn auto_chooses_by_the_budget() {
        assert_eq!(MstMethod::Auto.resolve(3000, 384), MstMethod::Exact);
        assert_eq!(MstMethod::Auto.resolve(3001, 384), MstMethod::Approximate);
        assert_eq!(MstMethod::Auto.resolve(10_000, 33), MstMethod::Exact);
        assert_eq!(MstMethod::Exact.resolve(1 << 20, 384), MstMethod::Exact);
        assert_eq!(
            MstMethod::Approximate.resolve(10, 2),
            MstMethod::Approximate
        );
        let data = blobs(2, 10, 2, 1.0, 0);
        let x = Matrix::new(&data, 20, 2).unwrap();
        assert_eq!(with(x, 5, MstMethod::Auto).method, MstMethod::Exact);
        // too few points: no tree at all, the method is still reported
        assert_eq!(
            with(x, 50, MstMethod::Approximate).method,
            MstMethod::Approximate
        );
    }

    #[test]
    fn progress_rises_to_one_and_cancels_both_methods() {
        let dim = 24;
        let data = blobs(4, 100, dim, 6.0, 0);
        let x = Matrix::new(&data, 400, dim).unwrap();
        for method in [MstMethod::Exact, MstMethod::Approximate] {
            let cfg = HdbscanConfig {
                method,
                ..Default::default()
            };
            let mut seen = Vec::new();
            hdbscan(x, &cfg, &mut |f| {
                seen.push(f);
                true
            })
            .unwrap();
            assert!(seen.len() > 5, "{method:?}: {} reports", seen.len());
            assert!(
                seen.windows(2).all(|w| w[0] <= w[1]),
                "{method:?}: {seen:?}"
            );
            assert!(seen.iter().all(|f| (0.0..=1.0).contains(f)));
            assert_eq!(seen.last(), Some(&1.0));
            // cancelled at each stage in turn
            for stop in [1, seen.len() / 3, seen.len() * 2 / 3, seen.len() - 2] {
                let mut calls = 0;
                let r = hdbscan(x, &cfg, &mut |_| {
                    calls += 1;
                    calls < stop
                });
                assert_eq!(r, Err(ClusterError::Cancelled), "{method:?} stop {stop}");
            }
        }
    }
}
