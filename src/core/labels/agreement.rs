//! Agreement between annotators on labels with gaps: Cohen's κ for a pair, Fleiss' κ and
//! Krippendorff's α (nominal) over all of them.
//!
//! Ratings are a table: one row per unit (a record), one column per annotator, `None`
//! where that annotator did not label the unit. Categories are small integers (a verdict:
//! 0 flawed, 1 sound; a step mark's index). Every statistic reads only what it can:
//!
//! - [`cohen_kappa`]: the units both annotators labelled; κ = (p_o − p_e) / (1 − p_e) with
//!   p_e from each annotator's own marginals (scikit-learn's `cohen_kappa_score`).
//! - [`fleiss_kappa`]: the units with two or more labels; per unit the share of agreeing
//!   ordered pairs, P_e from the pooled category shares (Fleiss 1971, with each unit's own
//!   number of raters where they differ).
//! - [`krippendorff_alpha`]: the units with two or more labels, through the coincidence
//!   matrix, α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k (Krippendorff 2011, nominal
//!   metric; the PyPI `krippendorff` package's `alpha(level_of_measurement="nominal")`).
//!
//! Each is `None` where it is undefined: no unit to compare on, or no variation to expect
//! agreement by chance from (one category only).

/// A unit's labels, one per annotator (`None`: not labelled by that one).
pub type Row = [Option<u8>];

/// Cohen's κ of two annotators' labels (`a[i]`, `b[i]` of unit `i`), over the units both
/// labelled. `None` with no such unit or when chance agreement is certain.
pub fn cohen_kappa(a: &Row, b: &Row) -> Option<f64> {
    let both: Vec<(u8, u8)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    if both.is_empty() {
        return None;
    }
    let n = both.len() as f64;
    let categories = 1 + both.iter().map(|&(x, y)| x.max(y)).max()? as usize;
    let (mut pa, mut pb) = (vec![0.0; categories], vec![0.0; categories]);
    let mut agree = 0.0;
    for &(x, y) in &both {
        pa[x as usize] += 1.0 / n;
        pb[y as usize] += 1.0 / n;
        if x == y {
            agree += 1.0 / n;
        }
    }
    let chance: f64 = pa.iter().zip(&pb).map(|(p, q)| p * q).sum();
    let room = 1.0 - chance;
    (room > 1e-12).then(|| (agree - chance) / room)
}

/// Fleiss' κ over every annotator (`rows[unit][annotator]`), on the units with two or
/// more labels. `None` without such a unit or with one category only.
pub fn fleiss_kappa(rows: &[Vec<Option<u8>>]) -> Option<f64> {
    let counts = unit_counts(rows);
    if counts.is_empty() {
        return None;
    }
    let categories = counts.iter().map(Vec::len).max().unwrap_or(0);
    let mut pooled = vec![0.0; categories];
    let mut labels = 0.0;
    let mut observed = 0.0;
    for c in &counts {
        let m: f64 = c.iter().sum();
        let same: f64 = c.iter().map(|&x| x * (x - 1.0)).sum();
        observed += same / (m * (m - 1.0));
        for (k, &x) in c.iter().enumerate() {
            pooled[k] += x;
        }
        labels += m;
    }
    let observed = observed / counts.len() as f64;
    let chance: f64 = pooled.iter().map(|&x| (x / labels).powi(2)).sum();
    let room = 1.0 - chance;
    (room > 1e-12).then(|| (observed - chance) / room)
}

/// Krippendorff's α (nominal) over every annotator (`rows[unit][annotator]`), on the units
/// with two or more labels. `None` without such a unit or with one category only.
pub fn krippendorff_alpha(rows: &[Vec<Option<u8>>]) -> Option<f64> {
    let counts = unit_counts(rows);
    let categories = counts.iter().map(Vec::len).max().unwrap_or(0);
    // the coincidence matrix's off-diagonal sum and its margins
    let mut disagree = 0.0;
    let mut margin = vec![0.0; categories];
    for c in &counts {
        let m: f64 = c.iter().sum();
        for (k, &x) in c.iter().enumerate() {
            // pairs (k, other) within the unit, each weighted 1 / (m − 1)
            disagree += x * (m - x) / (m - 1.0);
            margin[k] += x;
        }
    }
    let n: f64 = margin.iter().sum();
    let total: f64 = margin.iter().sum::<f64>().powi(2) - margin.iter().map(|x| x * x).sum::<f64>();
    (n > 1.0 && total > 1e-12).then(|| 1.0 - (n - 1.0) * disagree / total)
}

/// Per unit with two or more labels: how many labels of each category it has.
fn unit_counts(rows: &[Vec<Option<u8>>]) -> Vec<Vec<f64>> {
    let categories = rows
        .iter()
        .flatten()
        .flatten()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0);
    rows.iter()
        .filter_map(|row| {
            let mut c = vec![0.0; categories];
            for &v in row.iter().flatten() {
                c[v as usize] += 1.0;
            }
            (c.iter().sum::<f64>() >= 2.0).then_some(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: Option<u8> = None;

    fn v(x: u8) -> Option<u8> {
        Some(x)
    }

    #[test]
    fn cohen_by_hand() {
        // agreement 3/4; marginals (½, ½) and (¼, ¾): chance ½, κ = (¾ − ½) / ½
        let a = [v(1), v(1), v(0), v(0), X];
        let b = [v(1), v(0), v(0), v(0), v(1)];
        assert!((cohen_kappa(&a, &b).unwrap() - 0.5).abs() < 1e-12);
        // perfect, and symmetric
        assert_eq!(cohen_kappa(&a, &a), Some(1.0));
        assert_eq!(cohen_kappa(&a, &b), cohen_kappa(&b, &a));
        // nothing in common, or one category only: undefined
        assert_eq!(cohen_kappa(&[v(1), X], &[X, v(1)]), None);
        assert_eq!(cohen_kappa(&[v(1), v(1)], &[v(1), v(1)]), None);
    }

    /// Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
    /// observers, twelve units, values 1–5 with gaps; nominal α = 0.743 there, and
    /// 0.743421052631579 from the PyPI `krippendorff` package (0.2.x) on the same table.
    #[rustfmt::skip]
    fn krippendorff_2011() -> Vec<Vec<Option<u8>>> {
        let by_observer: [[Option<u8>; 12]; 4] = [
            [v(1), v(2), v(3), v(3), v(2), v(1), v(4), v(1), v(2), X, X, X],
            [v(1), v(2), v(3), v(3), v(2), v(2), v(4), v(1), v(2), v(5), X, v(3)],
            [X, v(3), v(3), v(3), v(2), v(3), v(4), v(2), v(2), v(5), v(1), X],
            [v(1), v(2), v(3), v(3), v(2), v(4), v(4), v(1), v(2), v(5), v(1), X],
        ];
        (0..12)
            .map(|u| by_observer.iter().map(|o| o[u]).collect())
            .collect()
    }

    #[test]
    fn krippendorff_matches_the_worked_example() {
        let a = krippendorff_alpha(&krippendorff_2011()).unwrap();
        assert!((a - 0.743421052631579).abs() < 1e-12, "{a}");
    }

    #[test]
    fn fleiss_by_hand() {
        // 3 units × 3 raters: (1,1,1), (1,1,0), (0,0,0): P_i = 1, ⅓, 1, P̄ = 7/9;
        // shares 5/9 and 4/9: P_e = 41/81; κ = (7/9 − 41/81) / (1 − 41/81) = 22/40
        let rows = vec![
            vec![v(1), v(1), v(1)],
            vec![v(1), v(1), v(0)],
            vec![v(0), v(0), v(0)],
        ];
        assert!((fleiss_kappa(&rows).unwrap() - 22.0 / 40.0).abs() < 1e-12);
        // a unit with one label says nothing
        let mut more = rows.clone();
        more.push(vec![v(1), X, X]);
        assert_eq!(fleiss_kappa(&more), fleiss_kappa(&rows));
        assert_eq!(fleiss_kappa(&[vec![v(1), X]]), None);
    }

    #[test]
    fn two_annotators_without_gaps_agree_in_the_large() {
        // α and κ differ by small-sample terms only: on many units they meet
        let n = 4000;
        let a: Vec<Option<u8>> = (0..n).map(|i| v(u8::from(i % 3 == 0))).collect();
        let b: Vec<Option<u8>> = (0..n)
            .map(|i| v(u8::from((i % 3 == 0) != (i % 10 == 0))))
            .collect();
        let rows: Vec<Vec<Option<u8>>> = a.iter().zip(&b).map(|(x, y)| vec![*x, *y]).collect();
        let (k, f, al) = (
            cohen_kappa(&a, &b).unwrap(),
            fleiss_kappa(&rows).unwrap(),
            krippendorff_alpha(&rows).unwrap(),
        );
        assert!(
            (k - f).abs() < 0.01 && (f - al).abs() < 0.001,
            "{k} {f} {al}"
        );
        assert!(al > 0.5 && al < 0.9, "{al}");
    }
}
