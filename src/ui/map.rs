//! The reasoning map: every record as a point on a canvas (positions and clusters from the
//! worker), coloured by cluster, label or prior; hover shows the CoT, click selects it,
//! wheel zooms, drag pans; the legend summarises each cluster and filters the list.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::data::snippet;
use crate::core::labels::{Label, Verdict};
use crate::worker::protocol::{Job, JobsReply, MapJob, MapResult, Method, Space};

use super::browser;
use super::dataset::HeldJob;
use super::state::AppState;

/// A map made by the worker, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct MapView {
    /// Clusters and positions.
    pub result: MapResult,
    /// Milliseconds from request to reply.
    pub millis: f64,
}

/// Point colours on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourBy {
    /// k-means cluster.
    Cluster,
    /// good / bad / none, human or machine.
    Label,
    /// The label-free prior score.
    Prior,
}

/// The map feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct MapState {
    app: AppState,
    /// The reasoning map of the records, once the worker made it.
    pub view: RwSignal<Option<Arc<MapView>>>,
    /// What the map is made from.
    pub space: RwSignal<Space>,
    /// Clusters on the map.
    pub k: RwSignal<usize>,
    /// k-means (true) or HDBSCAN (false) for the map's clusters.
    pub kmeans: RwSignal<bool>,
    /// How the map colours points.
    pub colour_by: RwSignal<ColourBy>,
    /// The map job: the newest wins, sent again when the worker lost the data set.
    job: HeldJob,
}

impl MapState {
    /// The map of `app`'s records: drawn when their signatures arrive and again whenever
    /// the space, the method or k change; dropped with the records it belongs to.
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            view: RwSignal::new(None),
            space: RwSignal::new(Space::Signature),
            k: RwSignal::new(8),
            kmeans: RwSignal::new(true),
            colour_by: RwSignal::new(ColourBy::Cluster),
            job: HeldJob::new(app, "The map could not be made"),
        };
        Effect::new(move |prev: Option<Option<String>>| {
            let key = app.records_key.get();
            if prev.as_ref() != Some(&key) {
                this.view.set(None);
                app.clusters.set(None);
                app.cluster_filter.set(None);
            }
            key
        });
        Effect::new(move |_| {
            let ready = app.signatures.with(Option::is_some);
            let _ = (this.space.get(), this.k.get(), this.kmeans.get());
            if ready {
                this.request();
            }
        });
        this
    }

    /// Sends the map job for the records shown: the worker draws it from the data set it
    /// holds (embeddings or signatures); no numbers travel.
    pub fn request(self) {
        let app = self.app;
        let space = self.space.get_untracked();
        let k = self.k.get_untracked();
        let Some((rows, has_embeddings)) = app.session.with_untracked(|s| {
            s.as_ref()
                .map(|s| (s.dataset.len(), s.dataset.embeddings().is_some()))
        }) else {
            return;
        };
        let used = if has_embeddings {
            space
        } else {
            Space::Signature
        };
        if used != space {
            self.space.set(used);
        }
        let method = if self.kmeans.get_untracked() {
            Method::KMeans {
                k: k.min(rows).max(1),
                restarts: 4,
                seed: 0,
            }
        } else {
            Method::Hdbscan {
                min_cluster_size: k.max(2),
            }
        };
        let started = browser::performance_now();
        self.job.run(
            Some("starting"),
            move |key| {
                Job::Map(MapJob {
                    method,
                    cosine: used == Space::Embedding,
                    space: used,
                    key: Some(key),
                })
            },
            move |reply| {
                if let JobsReply::Map { id, result } = reply {
                    self.on_map(id, result, started);
                }
            },
        );
    }

    fn on_map(self, id: u64, result: MapResult, started: f64) {
        let millis = browser::performance_now() - started;
        self.app.cluster_filter.set(None);
        self.app.clusters.set(Some(Arc::new(result.labels.clone())));
        // the list follows the clusters in this task; the canvas is painted in the next one
        // (each stays short at 100k points)
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(0).await;
            if self.job.is_current(id) {
                self.view.set(Some(Arc::new(MapView { result, millis })));
            }
        });
    }
}

const HEIGHT: f64 = 300.0;
const PAD: f64 = 14.0;
const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#6b6ecf", "#17becf", "#bcbd22",
];

/// Colour of a cluster; noise (−1) is light grey.
fn cluster_colour(c: i32) -> &'static str {
    if c < 0 {
        "#c9ced6"
    } else {
        PALETTE[c as usize % PALETTE.len()]
    }
}

fn label_colour(l: Option<&Label>) -> &'static str {
    match l {
        None => "#b8bec8",
        Some(l) => match (l.verdict, l.is_human()) {
            (Verdict::Good, true) => "#17703d",
            (Verdict::Good, false) => "#8fd1a8",
            (Verdict::Bad, true) => "#b0342b",
            (Verdict::Bad, false) => "#eba39d",
        },
    }
}

/// The red, green and blue of a colour written `#rrggbb` or `rgb(r,g,b)` (grey otherwise).
fn css_rgb(css: &str) -> [u8; 3] {
    if let Some(hex) = css.strip_prefix('#').filter(|h| h.len() == 6) {
        let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(128);
        return [c(0), c(2), c(4)];
    }
    let inner = css.trim_start_matches("rgb(").trim_end_matches(')');
    let mut out = [128u8; 3];
    for (o, v) in out.iter_mut().zip(inner.split(',')) {
        *o = v.trim().parse().unwrap_or(128);
    }
    out
}

/// Paints `rgb` at `alpha` over an RGBA pixel (the canvas's source-over, unpremultiplied).
/// Rounds as `(v + 0.5) as u8` (the cast saturates): `f64::round` is a library call in
/// wasm, and this runs for every pixel of 100k points.
fn blend(px: &mut [u8], rgb: [u8; 3], alpha: f32) {
    if px[3] == 0 {
        // nothing under it yet: the colour itself
        px[..3].copy_from_slice(&rgb);
        px[3] = (alpha * 255.0 + 0.5) as u8;
        return;
    }
    let dst_a = f32::from(px[3]) / 255.0;
    let under = dst_a * (1.0 - alpha);
    let out_a = alpha + under;
    for k in 0..3 {
        let c = (f32::from(rgb[k]) * alpha + f32::from(px[k]) * under) / out_a;
        px[k] = (c + 0.5) as u8;
    }
    px[3] = (out_a * 255.0 + 0.5) as u8;
}

/// Red → amber → green for a score in [0, 1].
fn prior_colour(p: f64) -> String {
    let p = p.clamp(0.0, 1.0);
    let (a, b, t) = if p < 0.5 {
        ((194, 59, 50), (217, 163, 0), p * 2.0)
    } else {
        ((217, 163, 0), (31, 138, 76), p * 2.0 - 1.0)
    };
    let mix = |x: i32, y: i32| (x as f64 + (y - x) as f64 * t).round() as i32;
    format!("rgb({},{},{})", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Maps data coordinates to canvas pixels: fit the bounds, then zoom and pan.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    min: [f64; 2],
    max: [f64; 2],
    width: f64,
    height: f64,
    zoom: f64,
    pan: [f64; 2],
}

impl View {
    fn fit(xy: &[[f32; 2]], width: f64, height: f64, zoom: f64, pan: [f64; 2]) -> Self {
        let mut min = [f64::INFINITY; 2];
        let mut max = [f64::NEG_INFINITY; 2];
        for p in xy {
            for k in 0..2 {
                min[k] = min[k].min(p[k] as f64);
                max[k] = max[k].max(p[k] as f64);
            }
        }
        for k in 0..2 {
            if !min[k].is_finite() || max[k] - min[k] < 1e-12 {
                min[k] = min[k].min(0.0) - 1.0;
                max[k] = max[k].max(0.0) + 1.0;
            }
        }
        Self {
            min,
            max,
            width,
            height,
            zoom,
            pan,
        }
    }

    fn to_screen(self, p: [f32; 2]) -> (f64, f64) {
        let sx = (self.width - 2.0 * PAD) / (self.max[0] - self.min[0]);
        let sy = (self.height - 2.0 * PAD) / (self.max[1] - self.min[1]);
        let x = PAD + (p[0] as f64 - self.min[0]) * sx;
        let y = self.height - PAD - (p[1] as f64 - self.min[1]) * sy;
        let (cx, cy) = (self.width / 2.0, self.height / 2.0);
        (
            (x - cx) * self.zoom + cx + self.pan[0],
            (y - cy) * self.zoom + cy + self.pan[1],
        )
    }
}

fn nearest(view: &View, xy: &[[f32; 2]], mx: f64, my: f64, within: f64) -> Option<usize> {
    let mut best = None;
    let mut bd = within * within;
    for (i, p) in xy.iter().enumerate() {
        let (x, y) = view.to_screen(*p);
        let d = (x - mx).powi(2) + (y - my).powi(2);
        if d <= bd {
            bd = d;
            best = Some(i);
        }
    }
    best
}

/// The map panel.
#[component]
pub fn ReasoningMap() -> impl IntoView {
    let state = expect_context::<AppState>();
    let map = expect_context::<MapState>();
    let canvas = NodeRef::<html::Canvas>::new();
    let width = RwSignal::new(500.0f64);
    let zoom = RwSignal::new(1.0f64);
    let pan = RwSignal::new([0.0f64; 2]);
    let hover = RwSignal::new(None::<(usize, f64, f64)>);
    let drag = RwSignal::new(None::<(f64, f64, [f64; 2], bool)>); // start x, y, pan then, moved

    let measure = move || {
        if let Some(c) = canvas.get_untracked() {
            let w = c
                .parent_element()
                .map_or(500.0, |p| p.client_width() as f64)
                .max(100.0);
            width.set(w);
        }
    };
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());
    // New map: reset the view.
    Effect::new(move |_| {
        map.view.track();
        zoom.set(1.0);
        pan.set([0.0, 0.0]);
        measure();
    });

    let view_of =
        move |m: &MapView| View::fit(&m.result.xy, width.get(), HEIGHT, zoom.get(), pan.get());
    let view_of_untracked = move |m: &MapView| {
        View::fit(
            &m.result.xy,
            width.get_untracked(),
            HEIGHT,
            zoom.get_untracked(),
            pan.get_untracked(),
        )
    };

    // The points are drawn on a hidden base canvas whenever the map, colours, labels (when
    // colouring by label) or the view change; the visible canvas copies it and adds the
    // selection ring, so moving through the list does not redraw 50k points.
    let base = NodeRef::<html::Canvas>::new();
    let base_version = RwSignal::new(0u64);
    Effect::new(move |_| {
        let Some(c) = base.get() else { return };
        let colour_by = map.colour_by.get();
        let filter = state.cluster_filter.get();
        let sigs = state.signatures.get();
        let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        let (w, h) = (width.get(), HEIGHT);
        c.set_width((w * ratio) as u32);
        c.set_height((h * ratio) as u32);
        let Ok(Some(ctx)) = c.get_context("2d") else {
            return;
        };
        let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
            return;
        };
        let _ = ctx.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, w, h);
        map.view.with(|m| {
            let Some(m) = m else { return };
            let view = view_of(m);
            let n = m.result.xy.len();
            let size = if n > 5000 { 2.0 } else { 4.0 };
            // Colours need the labels only when colouring by label: track them only then.
            let draw = |s: &Option<crate::core::Session>| {
                let Some(s) = s else { return };
                let records = s.dataset.records();
                // Bucket points by (faded, colour): faded points (outside the filtered
                // cluster) are painted first. Colours are worked out as numbers, once per
                // colour, not as a string per point.
                let prior_rgb: Vec<[u8; 3]> = (0..=20)
                    .map(|k| css_rgb(&prior_colour(k as f64 / 20.0)))
                    .collect();
                let mut buckets: std::collections::BTreeMap<(bool, [u8; 3]), Vec<(f64, f64)>> =
                    Default::default();
                for (i, p) in m.result.xy.iter().enumerate() {
                    let cluster = m.result.labels.get(i).copied().unwrap_or(0);
                    let dim = filter.is_some_and(|f| f != cluster);
                    let rgb = match colour_by {
                        ColourBy::Cluster => css_rgb(cluster_colour(cluster)),
                        ColourBy::Label => css_rgb(label_colour(
                            records.get(i).and_then(|r| s.labels.get(&r.id)),
                        )),
                        ColourBy::Prior => {
                            let p = sigs
                                .as_ref()
                                .and_then(|g| g.prior.get(i).copied())
                                .unwrap_or(0.5);
                            prior_rgb[(p.clamp(0.0, 1.0) * 20.0).round() as usize]
                        }
                    };
                    buckets
                        .entry((!dim, rgb))
                        .or_default()
                        .push(view.to_screen(*p));
                }
                // Painted into one pixel buffer here and put on the canvas at once: a
                // canvas call per point costs ~1 µs, 100 ms at 100k points.
                let (pw, ph) = (c.width() as usize, c.height() as usize);
                let mut pixels = vec![0u8; pw * ph * 4];
                let half = (size * ratio / 2.0).max(0.5);
                for ((bright, rgb), points) in buckets {
                    let alpha = if bright { 0.85 } else { 0.12 };
                    for (x, y) in points {
                        let (x, y) = (x * ratio, y * ratio);
                        // nearest pixel edges; casts saturate (negative → 0)
                        let x0 = (x - half + 0.5) as usize;
                        let y0 = (y - half + 0.5) as usize;
                        let x1 = ((x + half + 0.5) as usize).min(pw);
                        let y1 = ((y + half + 0.5) as usize).min(ph);
                        for row in y0..y1 {
                            for col in x0..x1 {
                                let at = (row * pw + col) * 4;
                                blend(&mut pixels[at..at + 4], rgb, alpha);
                            }
                        }
                    }
                }
                if let Ok(img) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
                    wasm_bindgen::Clamped(&pixels),
                    pw as u32,
                    ph as u32,
                ) {
                    let _ = ctx.put_image_data(&img, 0.0, 0.0);
                }
            };
            if colour_by == ColourBy::Label {
                state.session.with(draw);
            } else {
                state.session.with_untracked(draw);
            }
            ctx.set_global_alpha(1.0);
        });
        base_version.update(|v| *v += 1);
    });
    Effect::new(move |_| {
        base_version.track();
        let selected = state.selected.get();
        let (Some(c), Some(b)) = (canvas.get(), base.get_untracked()) else {
            return;
        };
        c.set_width(b.width());
        c.set_height(b.height());
        let Ok(Some(ctx)) = c.get_context("2d") else {
            return;
        };
        let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
            return;
        };
        let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        let _ = ctx.draw_image_with_html_canvas_element(&b, 0.0, 0.0);
        let _ = ctx.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0);
        map.view.with_untracked(|m| {
            let Some(m) = m else { return };
            if let Some(p) = selected.and_then(|i| m.result.xy.get(i)) {
                let (x, y) = view_of_untracked(m).to_screen(*p);
                ctx.begin_path();
                let _ = ctx.arc(x, y, 7.0, 0.0, std::f64::consts::TAU);
                ctx.set_stroke_style_str("#111");
                ctx.set_line_width(2.0);
                ctx.stroke();
            }
        });
    });

    let local = move |ev: &web_sys::MouseEvent| -> (f64, f64) {
        let rect = canvas.get_untracked().map(|c| c.get_bounding_client_rect());
        rect.map_or((0.0, 0.0), |r| {
            (
                ev.client_x() as f64 - r.left(),
                ev.client_y() as f64 - r.top(),
            )
        })
    };
    let pick = move |x: f64, y: f64| -> Option<usize> {
        map.view.with_untracked(|m| {
            m.as_ref()
                .and_then(|m| nearest(&view_of_untracked(m), &m.result.xy, x, y, 10.0))
        })
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        let (x, y) = local(&ev);
        if let Some((sx, sy, p0, _)) = drag.get_untracked() {
            if (x - sx).abs() + (y - sy).abs() > 3.0 {
                drag.set(Some((sx, sy, p0, true)));
                pan.set([p0[0] + x - sx, p0[1] + y - sy]);
                hover.set(None);
                return;
            }
        }
        hover.set(pick(x, y).map(|i| (i, x, y)));
    };
    let on_down = move |ev: web_sys::MouseEvent| {
        let (x, y) = local(&ev);
        drag.set(Some((x, y, pan.get_untracked(), false)));
    };
    let on_up = move |ev: web_sys::MouseEvent| {
        let (x, y) = local(&ev);
        let moved = drag.get_untracked().is_some_and(|d| d.3);
        drag.set(None);
        if !moved {
            if let Some(i) = pick(x, y) {
                state.selected.set(Some(i));
            }
        }
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        let (x, y) = local(&ev);
        let factor = if ev.delta_y() < 0.0 { 1.25 } else { 0.8 };
        let z0 = zoom.get_untracked();
        let z1 = (z0 * factor).clamp(0.5, 200.0);
        // keep the point under the cursor still
        let (cx, cy) = (width.get_untracked() / 2.0, HEIGHT / 2.0);
        let p = pan.get_untracked();
        let k = z1 / z0;
        pan.set([
            (x - cx) - k * (x - cx - p[0]),
            (y - cy) - k * (y - cy - p[1]),
        ]);
        zoom.set(z1);
    };

    let tooltip = move || {
        let (i, x, y) = hover.get()?;
        state.session.with(|s| {
            let r = s.as_ref()?.dataset.records().get(i)?;
            let cluster = map.view.with(|m| m.as_ref().and_then(|m| m.result.labels.get(i).copied()));
            let left = format!("{}px", (x + 14.0).min(width.get() - 260.0).max(0.0));
            let top = format!("{}px", y + 12.0);
            Some(view! {
                <div class="map-tooltip" style:left=left style:top=top data-testid="map-tooltip">
                    <div class="tip-id">{r.id.clone()} {cluster.map(|c| format!(" · cluster {}", c + 1))}</div>
                    <div class="tip-q">{snippet(&r.question, 140)}</div>
                    <div class="tip-cot">{snippet(&r.cot, 160)}</div>
                </div>
            })
        })
    };

    view! {
        <section class="map-pane" aria-label="Reasoning map">
            <div class="map-controls">
                <label>
                    "Map of "
                    <select
                        data-testid="map-space"
                        prop:value=move || if map.space.get() == Space::Embedding { "embedding" } else { "signature" }
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            map.space.set(if v == "embedding" { Space::Embedding } else { Space::Signature });
                            browser::release_focus(&ev);
                        }
                    >
                        <option value="signature">"reasoning signatures"</option>
                        <option value="embedding">"embeddings"</option>
                    </select>
                </label>
                <label>
                    " colour by "
                    <select
                        data-testid="map-colour"
                        on:change=move |ev| {
                            map.colour_by.set(match event_target_value(&ev).as_str() {
                                "label" => ColourBy::Label,
                                "prior" => ColourBy::Prior,
                                _ => ColourBy::Cluster,
                            });
                            browser::release_focus(&ev);
                        }
                    >
                        <option value="cluster">"cluster"</option>
                        <option value="label">"label"</option>
                        <option value="prior">"prior score"</option>
                    </select>
                </label>
                <label>
                    " clusters by "
                    <select
                        data-testid="map-method"
                        on:change=move |ev| {
                            let kmeans = event_target_value(&ev) == "kmeans";
                            map.k.set(if kmeans { 8 } else { 5 });
                            map.kmeans.set(kmeans);
                            browser::release_focus(&ev);
                        }
                    >
                        <option value="kmeans">"k-means"</option>
                        <option value="hdbscan">"HDBSCAN"</option>
                    </select>
                </label>
                <label title="k for k-means; the smallest cluster for HDBSCAN">
                    {move || if map.kmeans.get() { " k " } else { " min size " }}
                    <input
                        type="number"
                        min="1"
                        max="50"
                        data-testid="map-k"
                        prop:value=move || map.k.get().to_string()
                        on:change=move |ev| {
                            if let Ok(k) = event_target_value(&ev).parse::<usize>() {
                                map.k.set(k.clamp(1, 50));
                            }
                        }
                    />
                </label>
                <span class="map-info">
                    {move || map.view.with(|m| m.as_ref().map(|m| format!(
                        "{} points · PCA {:.1}% + {:.1}% of variance · made in {:.0} ms{}",
                        m.result.xy.len(), m.explained_pct(0), m.explained_pct(1), m.millis,
                        if m.result.approximate == Some(true) {
                            " · HDBSCAN over a nearest-neighbour graph (large set)"
                        } else {
                            ""
                        }
                    )))}
                </span>
            </div>
            <div class="map-canvas-wrap">
                <canvas
                    data-testid="cluster-map"
                    node_ref=canvas
                    style:height=format!("{HEIGHT}px")
                    style:width="100%"
                    on:mousemove=on_move
                    on:mousedown=on_down
                    on:mouseup=on_up
                    on:mouseleave=move |_| {
                        hover.set(None);
                        drag.set(None);
                    }
                    on:wheel=on_wheel
                ></canvas>
                <canvas node_ref=base style:display="none"></canvas>
                {tooltip}
            </div>
            <Legend />
        </section>
    }
}

impl MapView {
    fn explained_pct(&self, k: usize) -> f64 {
        self.result.explained[k] * 100.0
    }
}

/// Most cluster summaries the legend shows.
const LEGEND_CLUSTERS: usize = 40;

/// Per-cluster summaries; a click filters the list to that cluster.
#[component]
fn Legend() -> impl IntoView {
    let state = expect_context::<AppState>();
    let map = expect_context::<MapState>();
    let rows = move || {
        let colour_by = map.colour_by.get();
        if colour_by != ColourBy::Cluster {
            let items: Vec<(String, &str)> = match colour_by {
                ColourBy::Label => vec![
                    ("#17703d".into(), "good (you)"),
                    ("#8fd1a8".into(), "good (app)"),
                    ("#b0342b".into(), "bad (you)"),
                    ("#eba39d".into(), "bad (app)"),
                    ("#b8bec8".into(), "unlabelled"),
                ],
                _ => vec![
                    (prior_colour(0.0), "prior 0"),
                    (prior_colour(0.5), "0.5"),
                    (prior_colour(1.0), "1"),
                ],
            };
            return items
                .into_iter()
                .map(|(c, t)| view! { <span class="legend-item"><i style:background=c></i>{t}</span> })
                .collect_view()
                .into_any();
        }
        let filter = state.cluster_filter.get();
        map.view.with(|m| {
            let Some(m) = m else { return ().into_any() };
            state.session.with(|s| {
                let Some(s) = s else { return ().into_any() };
                // slot 0: noise (−1), slot c + 1: cluster c
                let k = m.result.labels.iter().copied().max().map_or(0, |x| (x + 1).max(0) as usize);
                let mut size = vec![0usize; k + 1];
                let mut good = vec![0usize; k + 1];
                let mut bad = vec![0usize; k + 1];
                for (i, &c) in m.result.labels.iter().enumerate() {
                    let slot = (c + 1).max(0) as usize;
                    size[slot] += 1;
                    match s.dataset.records().get(i).and_then(|r| s.labels.get(&r.id)).map(|l| l.verdict) {
                        Some(Verdict::Good) => good[slot] += 1,
                        Some(Verdict::Bad) => bad[slot] += 1,
                        None => {}
                    }
                }
                // At most LEGEND_CLUSTERS summaries (the largest, in label order): HDBSCAN of a
                // large set can find thousands of small clusters, and a button for each
                // would hold the main thread.
                let mut by_size: Vec<usize> = (1..=k).collect();
                by_size.sort_by_key(|&slot| std::cmp::Reverse(size[slot]));
                let mut shown = vec![false; k + 1];
                shown[0] = size[0] > 0;
                by_size.iter().take(LEGEND_CLUSTERS).for_each(|&slot| shown[slot] = true);
                let hidden = k.saturating_sub(LEGEND_CLUSTERS);
                let more = (hidden > 0).then(|| view! {
                    <span class="legend-item" data-testid="cluster-more">
                        {format!("+ {hidden} smaller clusters")}
                    </span>
                });
                let buttons = (0..=k)
                    .filter(|&slot| shown[slot])
                    .map(|slot| {
                        let c = slot as i32 - 1;
                        let medoid = (c >= 0)
                            .then(|| m.result.medoids.get(c as usize).copied().flatten())
                            .flatten()
                            .and_then(|i| s.dataset.records().get(i));
                        let title = medoid
                            .map(|r| format!("Most central CoT ({}): {}", r.id, snippet(&r.cot, 300)))
                            .unwrap_or_else(|| "Points in no dense group (HDBSCAN noise)".into());
                        let labelled = good[slot] + bad[slot];
                        let persistence = m
                            .result
                            .persistence
                            .get(c.max(0) as usize)
                            .filter(|_| c >= 0)
                            .map(|p| format!(" · persistence {p:.2}"))
                            .unwrap_or_default();
                        let name = if c < 0 { "noise".to_string() } else { (c + 1).to_string() };
                        let text = format!(
                            "{name} · {} CoTs · {} labelled{}{persistence}",
                            size[slot],
                            labelled,
                            if labelled > 0 { format!(" ({} good / {} bad)", good[slot], bad[slot]) } else { String::new() }
                        );
                        let active = filter == Some(c);
                        let testid = if c < 0 { "cluster-noise" } else { "cluster-summary" };
                        view! {
                            <button
                                class="legend-item cluster"
                                class:active=active
                                data-testid=testid
                                title=title
                                on:click=move |_| state.cluster_filter.set(if active { None } else { Some(c) })
                            >
                                <i style:background=cluster_colour(c)></i>
                                {text}
                            </button>
                        }
                    })
                    .collect_view();
                view! { {buttons} {more} }.into_any()
            })
        })
    };
    view! { <div class="legend" data-testid="cluster-legend">{rows}</div> }
}
