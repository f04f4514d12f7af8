//! The error type of the import path.
//!
//! Every variant names the file and, where there is one, the line (records, JSON and CSV
//! text, 1-based) or the row (embeddings, 1-based), so the page can show it as it is and
//! tests can assert on its kind. Errors are data: they cross the worker boundary with serde.

use serde::{Deserialize, Serialize};

/// An import stops collecting errors after this many and lists these.
pub const MAX_ERRORS: usize = 50;

/// Why a file (or a set of files dropped together) could not be imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportError {
    /// The file has no bytes, only whitespace, or no records.
    #[error("{file}: the file is empty")]
    Empty {
        /// File name.
        file: String,
    },
    /// The file is larger than a browser tab can safely hold (natively: than the bound
    /// [`crate::core::io::import::MAX_FILE_BYTES`] sets there).
    #[error(
        "{file}: the file is {} and cotlabel loads at most {} per file{}; \
         split it into smaller files",
        human_bytes(*bytes),
        human_bytes(*limit),
        if cfg!(target_arch = "wasm32") { " in a browser tab" } else { "" }
    )]
    TooLarge {
        /// File name.
        file: String,
        /// Size of the file.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Text that is not valid JSON, JSONL or CSV.
    #[error("{file} {}: malformed {format}: {message}", at(file, *line))]
    Malformed {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// `JSON`, `JSONL` or `CSV`.
        format: String,
        /// What the parser said.
        message: String,
    },
    /// A required field is absent (or null).
    #[error("{file} {}: missing required field `{field}`", at(file, *line))]
    MissingField {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// The field.
        field: String,
    },
    /// A field is present but unusable (wrong type, bad value).
    #[error("{file} {}: field `{field}` {problem}", at(file, *line))]
    BadField {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Two records share an id.
    #[error("{file}: duplicate id `{id}` on {} and {}", at(file, *first_line), at(file, *second_line))]
    DuplicateId {
        /// File name.
        file: String,
        /// The id.
        id: String,
        /// Line of the first record with this id.
        first_line: usize,
        /// Line of the second.
        second_line: usize,
    },
    /// The embeddings do not have one row per record.
    #[error(
        "{file}: {rows} embedding rows but {records} records in {records_file}; \
         row i of the embeddings must belong to record i"
    )]
    RowCount {
        /// The embeddings file.
        file: String,
        /// Rows in it.
        rows: usize,
        /// Records they should match.
        records: usize,
        /// Where the records came from.
        records_file: String,
    },
    /// A row of embeddings has a different length from the first one.
    #[error("{file} row {row}: {found} values where row 1 has {expected}")]
    Dimension {
        /// File name.
        file: String,
        /// 1-based row.
        row: usize,
        /// The dimension of row 1.
        expected: usize,
        /// This row's length.
        found: usize,
    },
    /// NaN or ±infinity in an embedding (or a value out of float32 range).
    #[error("{file} row {row}, column {col}: {value} is not a finite float32")]
    NonFinite {
        /// File name.
        file: String,
        /// 1-based row.
        row: usize,
        /// 1-based column.
        col: usize,
        /// The offending value as text.
        value: String,
    },
    /// A `.npy` file that cannot be used (dtype, order, shape, truncated).
    #[error("{file}: {message}")]
    Npy {
        /// File name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A label file that is valid JSON but not a usable label file.
    #[error("{file}: {message}")]
    LabelFile {
        /// File name.
        file: String,
        /// What is wrong, naming the entry.
        message: String,
    },
    /// The file type is not one cotlabel reads.
    #[error(
        "{file}: cannot tell what this file is; cotlabel reads records (.json, .jsonl, .csv), \
         embeddings (.npy, or .json array of arrays) and label files (.json)"
    )]
    UnknownFormat {
        /// File name.
        file: String,
    },
    /// The files dropped together do not fit together (two records files, embeddings with no
    /// records, ...).
    #[error("{message}")]
    Combination {
        /// What does not fit.
        message: String,
    },
    /// A records file whose fields name no question and CoT: the page asks the person to
    /// map them ([`crate::core::io::mapping`]).
    #[error(
        "{file}: its fields ({}) do not say which is the question and which the CoT; \
         map them (the mapping step, or a mapping file dropped with it)",
        survey.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
    )]
    Unmapped {
        /// File name.
        file: String,
        /// Its fields, samples and a proposed mapping.
        survey: Box<crate::core::io::mapping::Survey>,
    },
    /// A mapping file that cannot be used.
    #[error("{file}: not a usable mapping: {message}")]
    Mapping {
        /// File name.
        file: String,
        /// Why.
        message: String,
    },
}

impl ImportError {
    /// Embeddings whose rows have no values.
    pub fn zero_dimension(file: &str) -> Self {
        Self::Dimension {
            file: file.to_string(),
            row: 1,
            expected: 1,
            found: 0,
        }
    }

    /// A short machine-readable name of the variant (`malformed`, `duplicate_id`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::TooLarge { .. } => "too_large",
            Self::Malformed { .. } => "malformed",
            Self::MissingField { .. } => "missing_field",
            Self::BadField { .. } => "bad_field",
            Self::DuplicateId { .. } => "duplicate_id",
            Self::RowCount { .. } => "row_count",
            Self::Dimension { .. } => "dimension",
            Self::NonFinite { .. } => "non_finite",
            Self::Npy { .. } => "npy",
            Self::LabelFile { .. } => "label_file",
            Self::UnknownFormat { .. } => "unknown_format",
            Self::Combination { .. } => "combination",
            Self::Unmapped { .. } => "unmapped",
            Self::Mapping { .. } => "mapping",
        }
    }
}

/// Where in `file` position `n` is: "row n" in a Parquet file (which has rows, not lines),
/// "line n" in text; position 0 is the file as a whole.
pub fn at(file: &str, n: usize) -> String {
    let rows = file.to_ascii_lowercase().ends_with(".parquet");
    match (n, rows) {
        (0, _) => "(the file)".into(),
        (n, true) => format!("row {n}"),
        (n, false) => format!("line {n}"),
    }
}

/// `1536` → `1.5 KB`, `3_500_000_000` → `3.3 GB` (binary units, one decimal).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(512 << 20), "512.0 MB");
        assert_eq!(human_bytes(3 << 30), "3.0 GB");
    }

    #[test]
    fn messages_name_file_and_line() {
        let e = ImportError::Malformed {
            file: "a.jsonl".into(),
            line: 3,
            format: "JSONL".into(),
            message: "expected value".into(),
        };
        assert_eq!(
            e.to_string(),
            "a.jsonl line 3: malformed JSONL: expected value"
        );
        assert_eq!(e.kind(), "malformed");
        let e = ImportError::DuplicateId {
            file: "r.csv".into(),
            id: "x".into(),
            first_line: 2,
            second_line: 9,
        };
        assert_eq!(
            e.to_string(),
            "r.csv: duplicate id `x` on line 2 and line 9"
        );
    }
}
