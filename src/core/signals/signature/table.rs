//! What the page keeps of the signatures. The worker that read the records holds every
//! [`Signature`] (traces included); the page keeps one row of numbers per CoT, the ones its
//! views and the classifier's inputs read, and reads the full signature of the record it
//! shows from that record's question group alone ([`in_group`]).

use crate::core::data::Dataset;
use crate::core::graph::{self, Node};

use super::{signatures, Shape, Signature, DIM};

/// Numbers per row in [`SignatureTable::to_bytes`]: prior, label-free prior, shape index,
/// group, answer (−1: none), siblings that agree, siblings, then the vector.
const WIDTH: usize = 7 + DIM;
const HEAD: usize = WIDTH - DIM;

/// Per CoT: the numbers every view and job needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignatureTable {
    /// [`Signature::prior`].
    pub prior: Vec<f64>,
    /// [`Signature::label_free_prior`].
    pub label_free_prior: Vec<f64>,
    /// [`Signature::shape`].
    pub shapes: Vec<Shape>,
    /// Question group and interned answer ([`graph::nodes`]).
    pub nodes: Vec<Node>,
    /// Siblings with the same final answer, and siblings ([`super::GroupSignals`]).
    pub agreement: Vec<(u32, u32)>,
    /// [`Signature::vector`].
    pub vectors: Vec<[f32; DIM]>,
}

impl SignatureTable {
    /// The table of `sigs`, the signatures of `dataset`'s records.
    pub fn new(dataset: &Dataset, sigs: &[Signature]) -> Self {
        Self {
            prior: sigs.iter().map(|s| s.prior).collect(),
            label_free_prior: sigs.iter().map(|s| s.label_free_prior).collect(),
            shapes: sigs.iter().map(|s| s.shape).collect(),
            nodes: graph::nodes(dataset, sigs),
            agreement: sigs
                .iter()
                .map(|s| (s.group.agree as u32, s.group.siblings as u32))
                .collect(),
            vectors: sigs.iter().map(|s| s.vector).collect(),
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.prior.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.prior.is_empty()
    }

    /// The table as bytes: per row, the prior, the label-free prior, the shape's index,
    /// the group, the answer id (−1: none), the agreeing and all siblings, then the
    /// vector, each a little-endian `f64` (exact: the page reads the same numbers).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.rows_to_bytes(0..self.len())
    }

    /// [`Self::to_bytes`] of rows `range` only (a piece of the table).
    pub fn rows_to_bytes(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(range.len() * WIDTH * 8);
        for i in range {
            let n = self.nodes[i];
            let head = [
                self.prior[i],
                self.label_free_prior[i],
                self.shapes[i].index() as f64,
                f64::from(n.group),
                n.answer.map_or(-1.0, f64::from),
                f64::from(self.agreement[i].0),
                f64::from(self.agreement[i].1),
            ];
            for v in head
                .into_iter()
                .chain(self.vectors[i].iter().map(|&v| f64::from(v)))
            {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads [`Self::to_bytes`] back; says what is wrong with bytes that are not a table.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut t = Self::default();
        t.extend_from_bytes(bytes)?;
        Ok(t)
    }

    /// Room for `rows` rows in all (a table arriving in pieces grows without copying).
    pub fn reserve(&mut self, rows: usize) {
        let more = rows.saturating_sub(self.len());
        self.prior.reserve_exact(more);
        self.label_free_prior.reserve_exact(more);
        self.shapes.reserve_exact(more);
        self.nodes.reserve_exact(more);
        self.agreement.reserve_exact(more);
        self.vectors.reserve_exact(more);
    }

    /// Appends the rows of a piece made by [`Self::rows_to_bytes`]; on error (named by
    /// the piece's row) the table is left as it was.
    pub fn extend_from_bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        if !bytes.len().is_multiple_of(WIDTH * 8) {
            return Err(format!(
                "{} bytes are not rows of {WIDTH} numbers",
                bytes.len()
            ));
        }
        let rows = bytes.len() / (WIDTH * 8);
        let mut t = Self {
            prior: Vec::with_capacity(rows),
            label_free_prior: Vec::with_capacity(rows),
            shapes: Vec::with_capacity(rows),
            nodes: Vec::with_capacity(rows),
            agreement: Vec::with_capacity(rows),
            vectors: Vec::with_capacity(rows),
        };
        let mut row = [0f64; WIDTH];
        for (r, chunk) in bytes.chunks_exact(WIDTH * 8).enumerate() {
            for (v, b) in row.iter_mut().zip(chunk.chunks_exact(8)) {
                *v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
            let shape = Shape::from_index(row[2] as usize)
                .filter(|_| row[2].fract() == 0.0 && row[2] >= 0.0)
                .ok_or_else(|| format!("row {r}: no shape has index {}", row[2]))?;
            let id = |x: f64| {
                (x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX)).then_some(x as u32)
            };
            let group =
                id(row[3]).ok_or_else(|| format!("row {r}: group {} is not an id", row[3]))?;
            let answer = match row[4] {
                -1.0 => None,
                x => Some(id(x).ok_or_else(|| format!("row {r}: answer {x} is not an id"))?),
            };
            t.prior.push(row[0]);
            t.label_free_prior.push(row[1]);
            t.shapes.push(shape);
            t.nodes.push(Node { group, answer });
            let count = |x: f64, what: &str| {
                id(x).ok_or_else(|| format!("row {r}: {what} {x} is not a count"))
            };
            t.agreement.push((
                count(row[5], "agreeing siblings")?,
                count(row[6], "siblings")?,
            ));
            let mut vector = [0f32; DIM];
            for (v, &x) in vector.iter_mut().zip(&row[HEAD..]) {
                *v = x as f32;
            }
            t.vectors.push(vector);
        }
        self.prior.extend(t.prior);
        self.label_free_prior.extend(t.label_free_prior);
        self.shapes.extend(t.shapes);
        self.nodes.extend(t.nodes);
        self.agreement.extend(t.agreement);
        self.vectors.extend(t.vectors);
        Ok(())
    }
}

/// The full signature of record `i`, read from its question group alone (what the page
/// shows for the selected record). Equal to `signatures(dataset)[i]`: its group signals
/// depend on the group only, and its priors, which also depend on the data set's base rate,
/// come from the table.
pub fn in_group(dataset: &Dataset, table: &SignatureTable, i: usize) -> Option<Signature> {
    if table.len() != dataset.len() || i >= dataset.len() {
        return None;
    }
    let rows: Vec<usize> = dataset
        .groups()
        .group_with(i)
        .iter()
        .map(|&j| j as usize)
        .collect();
    let records = rows.iter().map(|&j| dataset.records()[j].clone()).collect();
    let embeddings = dataset.embeddings().and_then(|e| {
        let data = rows
            .iter()
            .flat_map(|&j| e.row(j).iter().copied())
            .collect();
        crate::core::data::Embeddings::new(rows.len(), e.dim(), data)
    });
    let group = Dataset::new("", records, embeddings);
    let at = rows.iter().position(|&j| j == i)?;
    let mut s = signatures(&group).swap_remove(at);
    s.prior = table.prior[i];
    s.label_free_prior = table.label_free_prior[i];
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::io::import::{plan_import, InputFile};

    fn demo() -> Dataset {
        let files: Vec<InputFile> = ["demo_cots.json", "demo_emb.npy"]
            .iter()
            .map(|f| {
                InputFile::new(
                    *f,
                    std::fs::read(format!("{}/static/demo/{f}", env!("CARGO_MANIFEST_DIR")))
                        .unwrap(),
                )
            })
            .collect();
        plan_import(&files, None).unwrap().dataset.unwrap()
    }

    #[test]
    fn the_table_crosses_as_bytes_exactly() {
        let d = demo();
        let sigs = signatures(&d);
        let t = SignatureTable::new(&d, &sigs);
        assert_eq!(t.len(), 300);
        let back = SignatureTable::from_bytes(&t.to_bytes()).unwrap();
        assert_eq!(back, t);
        assert!(SignatureTable::from_bytes(&[0; 7]).is_err());
        let mut bad = t.to_bytes();
        bad[16..24].copy_from_slice(&99f64.to_le_bytes()); // a shape index past the last
        assert!(SignatureTable::from_bytes(&bad)
            .unwrap_err()
            .contains("row 0"));
        // in pieces of any size, in order: the same table; a bad piece changes nothing
        for piece in [1, 7, 128, 300] {
            let mut pieces = SignatureTable::default();
            for start in (0..300).step_by(piece) {
                let bytes = t.rows_to_bytes(start..(start + piece).min(300));
                pieces.extend_from_bytes(&bytes).unwrap();
            }
            assert_eq!(pieces, t, "pieces of {piece}");
            assert!(pieces.extend_from_bytes(&bad).is_err());
            assert_eq!(pieces, t);
        }
    }

    #[test]
    fn a_signature_read_from_its_group_equals_the_data_sets() {
        let d = demo();
        let sigs = signatures(&d);
        let t = SignatureTable::new(&d, &sigs);
        for i in 0..d.len() {
            assert_eq!(in_group(&d, &t, i).as_ref(), Some(&sigs[i]), "record {i}");
        }
        // lone CoTs: their priors carry the data set's base rate, kept by the table
        let lone = Dataset::new(
            "",
            d.records()
                .iter()
                .step_by(4)
                .map(|r| crate::core::data::Record {
                    question_id: Some(r.id.clone()),
                    ..r.clone()
                })
                .collect(),
            None,
        );
        let sigs = signatures(&lone);
        let t = SignatureTable::new(&lone, &sigs);
        for i in 0..lone.len() {
            assert_eq!(
                in_group(&lone, &t, i).as_ref(),
                Some(&sigs[i]),
                "lone record {i}"
            );
        }
        assert!(in_group(&lone, &t, lone.len()).is_none());
    }
}
