//! The domain-general member of the prior: for CoTs with siblings whose answers are not
//! numbers (an option letter, yes/no, text) — medicine, law, science, commonsense. It reads
//! only what means the same in every domain: how the CoT's final answer sits among its
//! siblings' (agreement, plurality, margin, entropy, how many siblings, how many of them
//! unreadable) and a few traits of the text (length, repetition, steps). Fitted by
//! `cargo run --release --no-default-features --bin fit_prior -- --general` on the *train*
//! splits of `../shared/data/domains` (MMLU-Pro, ThoughtSource), stored in
//! `weights/prior.json` (`general`) with its numbers and the distribution it was fitted on:
//! a CoT whose features lie outside it gets no score ([`GeneralMember::outside`]).

use std::collections::BTreeMap;

use super::group::GroupSignals;
use super::trace::{CotSignals, Trace};

/// Number of features of the general member.
pub const G: usize = 12;

/// Its features, in order; every one in [0, 1].
pub const FEATURES: [&str; G] = [
    "agree_share",     // share of siblings with the same final answer
    "is_plurality",    // 1 if the answer is the group's strict plurality answer
    "plurality_share", // CoTs giving the plurality answer / group size
    "margin",          // (first − second most common answer) / group size
    "answer_entropy",  // entropy of the group's answers / ln(group size)
    "distinct_share",  // distinct answers / group size
    "siblings",        // min(siblings, 8) / 8
    "unread_share",    // share of siblings without a readable answer
    "length",          // ln(1 + chars) / ln(1 + 4000), at most 1
    "relative_length", // length / the group's mean length, halved, at most 1
    "repeated_steps",  // share of steps repeating an earlier one word for word
    "steps",           // min(steps, 20) / 20
];

/// Which features make up each group checked for support ([`GeneralMember::outside`]).
pub const GROUPS: [(&str, &[usize]); 2] = [
    ("agreement with the siblings", &[0, 1, 2, 3, 4, 5, 6, 7]),
    ("length and repetition of the text", &[8, 9, 10, 11]),
];

/// The general member's vector of a CoT.
pub fn vector(g: &GroupSignals, t: &Trace, c: &CotSignals) -> [f64; G] {
    let size = (g.siblings + 1) as f64;
    let v = [
        g.agree_share.unwrap_or(0.0),
        f64::from(u8::from(g.is_plurality)),
        g.plurality
            .as_ref()
            .map_or(1.0 / size, |(_, n)| *n as f64 / size),
        g.margin,
        g.answer_entropy,
        g.distinct_share,
        g.siblings.min(8) as f64 / 8.0,
        g.unread_share,
        ((1.0 + t.chars as f64).ln() / 4001f64.ln()).min(1.0),
        g.relative_length / 2.0,
        c.repeated_steps,
        t.steps.len().min(20) as f64 / 20.0,
    ];
    v.map(|x| x.clamp(0.0, 1.0))
}

/// The member as stored in `weights/prior.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneralMember {
    /// Bias.
    pub bias: f64,
    /// Share of sound CoTs in what it was fitted on.
    pub base_rate: f64,
    /// Weight per feature name ([`FEATURES`]).
    pub weights: BTreeMap<String, f64>,
    /// Mean of each feature where it was fitted.
    pub mean: BTreeMap<String, f64>,
    /// Standard deviation of each feature where it was fitted.
    pub std: BTreeMap<String, f64>,
    /// The largest mean squared z-score of a feature group seen on 99.5 % of the fitting
    /// CoTs, per group ([`GROUPS`]): beyond it a CoT is outside the fitted distribution.
    pub support: BTreeMap<String, f64>,
    /// Per domain it was fitted on (the records' `domain`), the scale and offset of its
    /// log-odds there (Platt scaling on that domain's train CoTs): agreement among models
    /// means less in law than in biology. Another domain, or none: (1, 0).
    #[serde(default)]
    pub domains: BTreeMap<String, [f64; 2]>,
    /// How it was fitted and what it measured (documentation, not read).
    #[serde(default)]
    pub notes: BTreeMap<String, serde_json::Value>,
}

impl GeneralMember {
    fn get(map: &BTreeMap<String, f64>, k: usize, default: f64) -> f64 {
        map.get(FEATURES[k]).copied().unwrap_or(default)
    }

    /// The log-odds of a vector before the domain's calibration.
    pub fn log_odds(&self, v: &[f64; G]) -> f64 {
        self.bias
            + (0..G)
                .map(|k| Self::get(&self.weights, k, 0.0) * v[k])
                .sum::<f64>()
    }

    /// P(sound) of a vector of a CoT of `domain` ("" for none).
    pub fn score(&self, v: &[f64; G], domain: &str) -> f64 {
        let [a, b] = self.domains.get(domain).copied().unwrap_or([1.0, 0.0]);
        crate::core::base::sigmoid(a * self.log_odds(v) + b)
    }

    /// Mean squared z-score of each feature group of `v`.
    pub fn distances(&self, v: &[f64; G]) -> [f64; GROUPS.len()] {
        GROUPS.map(|(_, ks)| {
            crate::core::base::mean_sq_z(
                ks.iter().map(|&k| (FEATURES[k], v[k])),
                &self.mean,
                &self.std,
            )
        })
    }

    /// Why `v` lies outside the distribution the member was fitted on (a feature group
    /// further from it than 99.5 % of the fitting CoTs), or `None` inside it.
    pub fn outside(&self, v: &[f64; G]) -> Option<String> {
        let d = self.distances(v);
        GROUPS.iter().zip(d).find_map(|((name, _), d)| {
            let limit = self.support.get(*name).copied().unwrap_or(f64::INFINITY);
            (d > limit).then(|| {
                format!(
                    "its {name} lies outside what the general member was fitted on (distance {d:.1} > {limit:.1})"
                )
            })
        })
    }
}

/// The quantile `q` of `xs` (sorted copy; 0 when empty).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    s[((s.len() - 1) as f64 * q).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> GeneralMember {
        let names = |x: f64| FEATURES.iter().map(|f| (f.to_string(), x)).collect();
        GeneralMember {
            bias: -1.0,
            base_rate: 0.5,
            weights: [("agree_share".to_string(), 3.0)].into_iter().collect(),
            mean: names(0.5),
            std: names(0.1),
            support: GROUPS.iter().map(|(n, _)| (n.to_string(), 4.0)).collect(),
            domains: [("law".to_string(), [0.5, -1.0])].into_iter().collect(),
            notes: BTreeMap::new(),
        }
    }

    #[test]
    fn score_is_the_logistic_of_its_weights() {
        let m = member();
        let mut v = [0.5; G];
        v[0] = 1.0;
        assert!((m.score(&v, "") - crate::core::base::sigmoid(2.0)).abs() < 1e-12);
        assert!((m.score(&v, "biology") - crate::core::base::sigmoid(2.0)).abs() < 1e-12);
        // a domain it was calibrated on: a·z + b
        assert!((m.score(&v, "law") - crate::core::base::sigmoid(0.0)).abs() < 1e-12);
    }

    #[test]
    fn a_vector_far_from_the_fitting_data_is_outside() {
        let m = member();
        assert_eq!(m.outside(&[0.5; G]), None);
        // two standard deviations on every feature: z² = 4, at the limit, inside
        assert_eq!(m.outside(&[0.7; G]), None);
        let mut far = [0.5; G];
        far[8] = 1.0; // 5 sd on one of the four text features: mean z² 6.25 > 4
        let why = m.outside(&far).expect("outside");
        assert!(why.contains("length and repetition"), "{why}");
    }

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 1.0), 5.0);
    }
}
