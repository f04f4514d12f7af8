//! Heavy work, behind one door: a typed protocol ([`protocol`]) and [`run`], which does a
//! job on plain data and reports progress. The browser runs it in a Web Worker
//! (`src/bin/worker.rs` + [`wasm`]); tests call [`run`] directly.

pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

use protocol::{Job, MapResult, Method, Reply, Request};

use crate::core::cluster::{
    central_points, kmeans, normalized, ClusterError, KMeansConfig, Matrix,
};
use crate::core::hdbscan::{hdbscan, HdbscanConfig};
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
    let (labels, inertia, persistence) = match job.method {
        Method::KMeans { k, restarts, seed } => {
            let cfg = KMeansConfig {
                k: k.min(req.rows).max(1),
                restarts,
                seed,
                ..Default::default()
            };
            let r = kmeans(x, &cfg, &mut |f| report("clustering", 0.3 + 0.7 * f))?;
            (
                r.labels.iter().map(|&l| l as i32).collect::<Vec<_>>(),
                Some(r.inertia),
                Vec::new(),
            )
        }
        Method::Hdbscan { min_cluster_size } => {
            let cfg = HdbscanConfig {
                min_cluster_size,
                min_samples: None,
            };
            let r = hdbscan(x, &cfg, &mut |f| report("clustering", 0.3 + 0.7 * f))?;
            (r.labels, None, r.persistence)
        }
    };
    let medoids = central_points(x, &labels);
    Ok(MapResult {
        labels,
        xy: proj.xy,
        inertia,
        persistence,
        medoids,
        explained: proj.explained,
    })
}

#[cfg(test)]
mod tests {
    use super::protocol::{MapJob, Method, Space};
    use super::*;

    fn request(rows: usize, dim: usize, k: usize) -> Request {
        Request {
            id: 7,
            rows,
            dim,
            job: Job::Map(MapJob {
                method: Method::KMeans {
                    k,
                    restarts: 2,
                    seed: 1,
                },
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
    fn hdbscan_map_marks_noise_and_central_points() {
        // two tight groups of 6 and one far point
        let mut data = Vec::new();
        for i in 0..6 {
            data.extend([i as f32 * 0.01, 0.0]);
        }
        for i in 0..6 {
            data.extend([10.0 + i as f32 * 0.01, 0.0]);
        }
        data.extend([5.0, 40.0]);
        let job = MapJob {
            method: Method::Hdbscan {
                min_cluster_size: 5,
            },
            cosine: false,
            space: Space::Signature,
        };
        let req = Request {
            id: 1,
            rows: 13,
            dim: 2,
            job: Job::Map(job),
        };
        let Reply::Map { result, .. } = run(&req, &data, &mut |_, _| true) else {
            panic!()
        };
        assert_eq!(result.labels[12], -1);
        assert_eq!(result.persistence.len(), 2);
        assert_eq!(result.inertia, None);
        let m = result.medoids;
        assert!(m.len() == 2 && m.iter().all(Option::is_some));
        assert!(matches!(m[result.labels[0] as usize], Some(i) if i < 6));
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
