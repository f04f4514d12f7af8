//! HDBSCAN (Campello et al. 2013), as scikit-learn's `HDBSCAN` computes it: core distances,
//! a minimum spanning tree of the mutual reachability distances (Prim, O(n²) distances and
//! O(n) memory), the single-linkage hierarchy, the condensed tree and the excess-of-mass
//! selection of clusters. Noise is −1. Checked against scikit-learn on the demo set
//! (`tests/cluster.rs`).

use super::cluster::{sq_dist, ClusterError, Matrix, Progress};

/// Settings; defaults as scikit-learn's `HDBSCAN(min_cluster_size=5)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HdbscanConfig {
    /// The smallest group that counts as a cluster.
    pub min_cluster_size: usize,
    /// Neighbours (counting the point itself) that make a point dense; `None`: same as
    /// `min_cluster_size`.
    pub min_samples: Option<usize>,
}

impl Default for HdbscanConfig {
    fn default() -> Self {
        Self {
            min_cluster_size: 5,
            min_samples: None,
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
}

fn dist(x: Matrix, a: usize, b: usize) -> f64 {
    (sq_dist(x.row(a), x.row(b)) as f64).sqrt()
}

/// Clusters the rows of `x`.
pub fn hdbscan(
    x: Matrix,
    cfg: &HdbscanConfig,
    progress: Progress,
) -> Result<HdbscanResult, ClusterError> {
    let n = x.rows;
    let mcs = cfg.min_cluster_size.max(2);
    let min_samples = cfg.min_samples.unwrap_or(mcs).max(1);
    if n < mcs || n < 2 {
        return Ok(HdbscanResult {
            labels: vec![-1; n],
            persistence: Vec::new(),
        });
    }
    // Core distance: distance to the (min_samples − 1)-th nearest other point.
    let kth = (min_samples - 1).min(n - 1);
    let mut core = vec![0f64; n];
    if kth > 0 {
        let mut best: Vec<f64> = Vec::with_capacity(kth + 1);
        for a in 0..n {
            best.clear();
            for b in 0..n {
                if a == b {
                    continue;
                }
                let d = dist(x, a, b);
                if best.len() < kth {
                    let pos = best.partition_point(|&v| v <= d);
                    best.insert(pos, d);
                } else if d < best[kth - 1] {
                    let pos = best.partition_point(|&v| v <= d);
                    best.insert(pos, d);
                    best.pop();
                }
            }
            core[a] = best[kth - 1];
            if a % 256 == 255 && !progress(0.45 * a as f64 / n as f64) {
                return Err(ClusterError::Cancelled);
            }
        }
    }
    // Prim's minimum spanning tree over mutual reachability distances.
    let mut in_tree = vec![false; n];
    let mut reach = vec![f64::INFINITY; n];
    let mut from = vec![0usize; n];
    let mut edges: Vec<(usize, usize, f64)> = Vec::with_capacity(n - 1);
    let mut current = 0;
    in_tree[0] = true;
    for step in 1..n {
        let mut next = usize::MAX;
        let mut next_d = f64::INFINITY;
        for b in 0..n {
            if in_tree[b] {
                continue;
            }
            let mr = dist(x, current, b).max(core[current]).max(core[b]);
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
        if step % 256 == 0 && !progress(0.45 + 0.45 * step as f64 / n as f64) {
            return Err(ClusterError::Cancelled);
        }
    }
    edges.sort_by(|a, b| a.2.total_cmp(&b.2));
    let result = from_mst(n, &edges, mcs);
    progress(1.0);
    Ok(result)
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
fn from_mst(n: usize, edges: &[(usize, usize, f64)], mcs: usize) -> HdbscanResult {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metrics::adjusted_rand_index;

    fn run(data: &[f32], rows: usize, dim: usize, mcs: usize) -> HdbscanResult {
        let cfg = HdbscanConfig {
            min_cluster_size: mcs,
            min_samples: None,
        };
        hdbscan(Matrix::new(data, rows, dim).unwrap(), &cfg, &mut |_| true).unwrap()
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
}
