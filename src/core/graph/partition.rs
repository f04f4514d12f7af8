//! Partitions of whole questions, for data sets too large for one neighbour graph: each
//! question's CoTs go to the partition whose k-means centre is nearest their mean embedding
//! (as NeMo Curator's semantic deduplication splits by k-means before comparing pairs), and
//! each partition gets a graph of its own. Without embeddings a question's partition is a
//! stable hash of its key. The CLI (`--partitions K`) and the Python package
//! (`fit_partitions`, `assign_partitions`) use the same functions, so a Ray pipeline that
//! labels partition by partition gives the CLI's labels.

use crate::core::base::{ClusterError, Matrix};
use crate::core::data::Dataset;
use crate::core::map::kmeans::{kmeans, KMeansConfig};

/// At most this many question means fit the centres (an evenly spaced sample above it):
/// the centres only route questions, and k-means on all of 250k means would cost more than
/// it buys.
pub const MAX_FIT: usize = 20_000;

/// The question groups of a data set: each record's group (in order of first appearance)
/// and each group's mean embedding, unit-normalised (`groups × dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMeans {
    /// Group of each record.
    pub group: Vec<u32>,
    /// Number of groups.
    pub groups: usize,
    /// Mean embedding of each group, unit length, row-major.
    pub means: Vec<f32>,
    /// Values per row.
    pub dim: usize,
}

/// Each record's question group and, when the data set has embeddings, each group's mean.
pub fn group_means(dataset: &Dataset) -> GroupMeans {
    let group: Vec<u32> = dataset.groups().assignment().to_vec();
    let groups = dataset.groups().len();
    let Some(e) = dataset.embeddings() else {
        return GroupMeans {
            group,
            groups,
            means: Vec::new(),
            dim: 0,
        };
    };
    let dim = e.dim();
    let mut means = vec![0f32; groups * dim];
    for (i, &g) in group.iter().enumerate() {
        let row = &e.as_slice()[i * dim..(i + 1) * dim];
        for (m, x) in means[g as usize * dim..(g as usize + 1) * dim]
            .iter_mut()
            .zip(row)
        {
            *m += x;
        }
    }
    for m in means.chunks_mut(dim.max(1)) {
        let norm = m.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            m.iter_mut().for_each(|x| *x /= norm);
        }
    }
    GroupMeans {
        group,
        groups,
        means,
        dim,
    }
}

/// `k` centres fitted on the rows of `means` (k-means++, one seeded start, at most 25
/// Lloyd rounds: the centres only route questions), on an evenly spaced sample of
/// [`MAX_FIT`] rows when there are more. `k` is capped at the rows.
pub fn fit(means: Matrix, k: usize, seed: u64) -> Result<Vec<f32>, ClusterError> {
    let step = means.rows.div_ceil(MAX_FIT).max(1);
    let sample: Vec<f32> = if step == 1 {
        means.data.to_vec()
    } else {
        (0..means.rows)
            .step_by(step)
            .flat_map(|i| {
                means.data[i * means.dim..(i + 1) * means.dim]
                    .iter()
                    .copied()
            })
            .collect()
    };
    let rows = sample.len() / means.dim.max(1);
    let x = Matrix::new(&sample, rows, means.dim)?;
    let cfg = KMeansConfig {
        k: k.clamp(1, rows.max(1)),
        restarts: 1,
        max_iter: 25,
        seed,
        ..Default::default()
    };
    Ok(kmeans(x, &cfg, &mut |_| true)?.centroids)
}

/// The nearest of `centroids` (rows of `x.dim` values) to each row of `x` (squared
/// Euclidean distance; the first on a tie).
pub fn assign(x: Matrix, centroids: &[f32]) -> Vec<u32> {
    let dim = x.dim.max(1);
    (0..x.rows)
        .map(|i| {
            let row = &x.data[i * dim..(i + 1) * dim];
            let mut best = (f32::INFINITY, 0u32);
            for (c, centre) in centroids.chunks(dim).enumerate() {
                let d: f32 = row.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
                if d < best.0 {
                    best = (d, c as u32);
                }
            }
            best.1
        })
        .collect()
}

/// A question key's partition without embeddings: FNV-1a of its bytes, modulo `k`.
pub fn hash_partition(key: &str, k: usize) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % k.max(1) as u64) as u32
}

/// The partition of every record (`0..k`): its question's.
pub fn partition_records(dataset: &Dataset, k: usize, seed: u64) -> Result<Vec<u32>, ClusterError> {
    if k <= 1 {
        return Ok(vec![0; dataset.len()]);
    }
    let g = group_means(dataset);
    if g.dim == 0 {
        return Ok(dataset
            .records()
            .iter()
            .map(|r| hash_partition(r.group_key(), k))
            .collect());
    }
    let means = Matrix::new(&g.means, g.groups, g.dim)?;
    let centres = fit(means, k, seed)?;
    let of_group = assign(means, &centres);
    Ok(g.group.iter().map(|&q| of_group[q as usize]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::{Embeddings, Record};

    fn record(id: &str, q: &str) -> Record {
        Record {
            id: id.into(),
            question_id: Some(q.into()),
            question: format!("question {q}"),
            cot: "1 + 1 = 2".into(),
            answer: None,
            is_correct: None,
            meta: Default::default(),
        }
    }

    /// Two well-separated families of questions: every question lands whole in the
    /// partition of its family, and the two families in different partitions.
    #[test]
    fn questions_stay_whole_and_follow_their_embeddings() {
        let mut records = Vec::new();
        let mut values = Vec::new();
        for q in 0..10 {
            for c in 0..3 {
                records.push(record(&format!("r{q}-{c}"), &format!("q{q}")));
                let family = if q < 5 { [1.0, 0.0] } else { [0.0, 1.0] };
                values.extend([family[0] + 0.01 * c as f32, family[1]]);
            }
        }
        let e = Embeddings::new(30, 2, values);
        assert!(e.is_some());
        let ds = Dataset::new("d", records, e);
        let p = partition_records(&ds, 2, 7).unwrap();
        for q in 0..10 {
            assert!(
                p[q * 3..q * 3 + 3].iter().all(|&x| x == p[q * 3]),
                "question {q} split"
            );
        }
        assert!(p[..15].iter().all(|&x| x == p[0]));
        assert!(p[15..].iter().all(|&x| x == p[15]));
        assert_ne!(p[0], p[15]);
        // the same seed gives the same partition
        assert_eq!(p, partition_records(&ds, 2, 7).unwrap());
    }

    #[test]
    fn means_are_unit_length_and_assignment_is_nearest() {
        let records = vec![record("a", "q"), record("b", "q"), record("c", "r")];
        let e = Embeddings::new(3, 2, vec![3.0, 0.0, 1.0, 0.0, 0.0, 2.0]);
        let g = group_means(&Dataset::new("d", records, e));
        assert_eq!(g.group, vec![0, 0, 1]);
        assert_eq!(g.means, vec![1.0, 0.0, 0.0, 1.0]);
        let x = Matrix::new(&g.means, 2, 2).unwrap();
        assert_eq!(assign(x, &[0.0, 0.9, 0.9, 0.0]), vec![1, 0]);
    }

    #[test]
    fn without_embeddings_the_hash_decides_and_one_partition_is_all() {
        let records = vec![record("a", "q1"), record("b", "q1"), record("c", "q2")];
        let ds = Dataset::new("d", records, None);
        let p = partition_records(&ds, 4, 0).unwrap();
        assert_eq!(p[0], p[1]);
        assert_eq!(p[0], hash_partition("q1", 4));
        assert!(p.iter().all(|&x| x < 4));
        assert_eq!(partition_records(&ds, 1, 0).unwrap(), vec![0, 0, 0]);
        // FNV-1a of "a" (known value 0xaf63dc4c8601ec8c)
        assert_eq!(
            hash_partition("a", 1 << 20),
            (0xaf63_dc4c_8601_ec8c_u64 % (1 << 20)) as u32
        );
    }
}
