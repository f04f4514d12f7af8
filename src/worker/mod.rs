//! Heavy work, behind one door: a typed protocol ([`protocol`]) and [`run`], which does a
//! job on plain data and reports progress. The browser runs it in a Web Worker
//! (`src/bin/worker.rs` + [`wasm`]); tests call [`run`] directly.

pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

use protocol::{Job, MapResult, Reply, Request};

use crate::core::cluster::{kmeans, medoids, normalized, ClusterError, KMeansConfig, Matrix};
use crate::core::project::pca2;

/// Does `req` on `data` (row-major, `req.rows × req.dim`). `report(stage, fraction)` is
/// called between chunks; when it returns false the job stops and `Failed { cancelled }`
/// comes back.
pub fn run(req: &Request, data: &[f32], report: &mut dyn FnMut(&str, f64) -> bool) -> Reply {
    match &req.job {
        Job::Map(job) => match map(req, data, job, report) {
            Ok(result) => Reply::Map { id: req.id, result },
            Err(e) => Reply::Failed {
                id: req.id,
                cancelled: e == ClusterError::Cancelled,
                message: e.to_string(),
            },
        },
    }
}

fn map(
    req: &Request,
    data: &[f32],
    job: &protocol::MapJob,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<MapResult, ClusterError> {
    let x = Matrix::new(data, req.rows, req.dim)?;
    let unit;
    let x = if job.cosine {
        unit = normalized(x);
        Matrix::new(&unit, req.rows, req.dim)?
    } else {
        x
    };
    let proj = pca2(x, &mut |f| report("projecting", 0.3 * f))?;
    let k = job.k.min(req.rows);
    let cfg = KMeansConfig {
        k,
        restarts: job.restarts,
        seed: job.seed,
        ..Default::default()
    };
    let clusters = kmeans(x, &cfg, &mut |f| report("clustering", 0.3 + 0.7 * f))?;
    let medoids = medoids(x, &clusters);
    Ok(MapResult {
        labels: clusters.labels.iter().map(|&l| l as u32).collect(),
        xy: proj.xy,
        inertia: clusters.inertia,
        medoids,
        explained: proj.explained,
    })
}

#[cfg(test)]
mod tests {
    use super::protocol::{MapJob, Space};
    use super::*;

    fn request(rows: usize, dim: usize, k: usize) -> Request {
        Request {
            id: 7,
            rows,
            dim,
            job: Job::Map(MapJob {
                k,
                restarts: 2,
                seed: 1,
                cosine: true,
                space: Space::Embedding,
            }),
        }
    }

    #[test]
    fn map_job_reports_progress_and_returns_a_map() {
        let data: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32).collect();
        let mut stages = Vec::new();
        let reply = run(&request(10, 4, 3), &data, &mut |s, f| {
            stages.push((s.to_string(), f));
            true
        });
        let Reply::Map { id, result } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(id, 7);
        assert_eq!(result.labels.len(), 10);
        assert_eq!(result.xy.len(), 10);
        assert!(result.labels.iter().all(|&l| l < 3));
        assert!(
            stages.iter().any(|(s, _)| s == "projecting")
                && stages.iter().any(|(s, _)| s == "clustering")
        );
        assert!(
            stages.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-12),
            "progress never goes back"
        );
    }

    #[test]
    fn cancel_and_errors_come_back_as_failed() {
        let data = vec![1.0f32; 40];
        let reply = run(&request(10, 4, 3), &data, &mut |_, _| false);
        assert!(
            matches!(
                reply,
                Reply::Failed {
                    cancelled: true,
                    ..
                }
            ),
            "{reply:?}"
        );
        let reply = run(&request(10, 5, 3), &data, &mut |_, _| true);
        let Reply::Failed {
            cancelled, message, ..
        } = reply
        else {
            panic!()
        };
        assert!(!cancelled);
        assert_eq!(message, "40 values do not make 10 rows of 5");
    }

    #[test]
    fn replies_round_trip_as_json() {
        let reply = Reply::Progress {
            id: 3,
            stage: "clustering".into(),
            fraction: 0.5,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), reply);
        let req = request(2, 2, 1);
        assert_eq!(
            serde_json::from_str::<Request>(&serde_json::to_string(&req).unwrap()).unwrap(),
            req
        );
    }
}
