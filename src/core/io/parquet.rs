//! Parquet in and out, with arrow-rs's `parquet` crate (its row API, without arrow arrays:
//! the page and the jobs worker stay small).
//!
//! - [`read_objects`] turns every row of a Parquet file into a JSON object, nested columns
//!   included (a `list<struct<role, content>>` column becomes a list of objects), so Parquet
//!   rows go through the same record reading as JSON lines. Files as pyarrow and Hugging Face
//!   `datasets` write them: snappy, zstd, gzip, lz4 or no compression, any number of row
//!   groups.
//! - [`ParquetSink`] writes a [`Table`] (the columns of a training set) one row group at a
//!   time, so a long export can yield between groups. Lists of chat turns are written as
//!   `list<struct<role: string, content: string>>`, which `datasets` reads back as a list of
//!   `{role, content}` dicts.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, Repetition};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::Type;
use serde_json::{Map, Value};

use crate::core::io::error::ImportError;

/// The magic bytes a Parquet file starts (and ends) with.
pub const MAGIC: &[u8; 4] = b"PAR1";

/// Whether `bytes` look like a Parquet file (by its first four bytes).
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn malformed(file: &str, row: usize, message: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        file: file.to_string(),
        line: row,
        format: "Parquet".into(),
        message: message.into(),
    }
}

/// Every row of a Parquet file as a (1-based row, JSON object) pair, in file order.
///
/// The `parquet` crate asserts on some damaged page data instead of returning an error
/// (found by fuzzing: bit-flipped levels, negative column offsets). Where panics unwind
/// (native builds, tests, the CLI) such a panic becomes an error naming the file; in the
/// browser's wasm build panics abort, so the page shows that it failed (see `main.rs`).
pub fn read_objects(file: &str, bytes: Vec<u8>) -> Result<Vec<(usize, Value)>, ImportError> {
    #[cfg(panic = "unwind")]
    {
        let f = file.to_string();
        std::panic::catch_unwind(move || read_rows(&f, bytes)).unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(malformed(
                file,
                0,
                format!("the file is damaged: the Parquet reader failed ({why})"),
            ))
        })
    }
    #[cfg(not(panic = "unwind"))]
    read_rows(file, bytes)
}

fn read_rows(file: &str, bytes: Vec<u8>) -> Result<Vec<(usize, Value)>, ImportError> {
    if bytes.len() < 12 || !is_parquet(&bytes) || !bytes.ends_with(MAGIC) {
        return Err(malformed(
            file,
            0,
            "not a complete Parquet file (it must start and end with `PAR1`; was it cut short?)",
        ));
    }
    let reader = SerializedFileReader::new(Bytes::from(bytes))
        .map_err(|e| malformed(file, 0, format!("cannot read the file's footer: {e}")))?;
    let total = reader.metadata().file_metadata().num_rows().max(0) as usize;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| malformed(file, 1, format!("cannot read its rows: {e}")))?;
    // The footer's row count is not trusted for the allocation (a damaged file can claim any).
    let mut out = Vec::with_capacity(total.min(1 << 16));
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| malformed(file, i + 1, e.to_string()))?;
        out.push((i + 1, row.to_json_value()));
    }
    Ok(out)
}

/// One chat turn of a column of conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
}

/// A column of a training set; every column of a [`Table`] has one value per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Text.
    Text(Vec<String>),
    /// Text or null.
    OptText(Vec<Option<String>>),
    /// A truth value.
    Bool(Vec<bool>),
    /// A number.
    Number(Vec<f64>),
    /// A whole number.
    Int(Vec<i64>),
    /// A conversation: a list of turns.
    Turns(Vec<Vec<Turn>>),
    /// A list of texts.
    TextList(Vec<Vec<String>>),
    /// A list of truth values.
    BoolList(Vec<Vec<bool>>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::OptText(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Number(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Turns(v) => v.len(),
            Column::TextList(v) => v.len(),
            Column::BoolList(v) => v.len(),
        }
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` as JSON.
    pub fn json(&self, i: usize) -> Value {
        match self {
            Column::Text(v) => Value::String(v[i].clone()),
            Column::OptText(v) => v[i].clone().map_or(Value::Null, Value::String),
            Column::Bool(v) => Value::Bool(v[i]),
            Column::Number(v) => {
                serde_json::Number::from_f64(v[i]).map_or(Value::Null, Value::Number)
            }
            Column::Int(v) => Value::from(v[i]),
            Column::Turns(v) => Value::Array(
                v[i].iter()
                    .map(|t| {
                        let mut o = Map::new();
                        o.insert("role".into(), Value::String(t.role.clone()));
                        o.insert("content".into(), Value::String(t.content.clone()));
                        Value::Object(o)
                    })
                    .collect(),
            ),
            Column::TextList(v) => Value::Array(v[i].iter().cloned().map(Value::String).collect()),
            Column::BoolList(v) => Value::Array(v[i].iter().copied().map(Value::Bool).collect()),
        }
    }

    fn schema(&self, name: &str) -> Type {
        use parquet::basic::{LogicalType, Type as Physical};
        let string = |name: &str, rep: Repetition| {
            Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
                .with_repetition(rep)
                .with_logical_type(Some(LogicalType::String))
                .build()
                .expect("a string leaf")
        };
        let list = |name: &str, element: Type| {
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![Arc::new(element)])
                .build()
                .expect("a list group");
            Type::group_type_builder(name)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
                .expect("a LIST column")
        };
        let leaf = |name: &str, t: Physical| {
            Type::primitive_type_builder(name, t)
                .with_repetition(Repetition::REQUIRED)
                .build()
                .expect("a leaf")
        };
        match self {
            Column::Text(_) => string(name, Repetition::REQUIRED),
            Column::OptText(_) => string(name, Repetition::OPTIONAL),
            Column::Bool(_) => leaf(name, Physical::BOOLEAN),
            Column::Number(_) => leaf(name, Physical::DOUBLE),
            Column::Int(_) => leaf(name, Physical::INT64),
            Column::Turns(_) => {
                let element = Type::group_type_builder("element")
                    .with_repetition(Repetition::REQUIRED)
                    .with_fields(vec![
                        Arc::new(string("role", Repetition::REQUIRED)),
                        Arc::new(string("content", Repetition::REQUIRED)),
                    ])
                    .build()
                    .expect("a turn struct");
                list(name, element)
            }
            Column::TextList(_) => list(name, string("element", Repetition::REQUIRED)),
            Column::BoolList(_) => list(name, leaf("element", Physical::BOOLEAN)),
        }
    }
}

/// Named columns of equal length: a training set, or a part of one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names, in order.
    pub names: Vec<String>,
    /// The columns, in the order of `names`.
    pub columns: Vec<Column>,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Row `i` as a JSON object, columns in order.
    pub fn row_json(&self, i: usize) -> Map<String, Value> {
        self.names
            .iter()
            .zip(&self.columns)
            .map(|(n, c)| (n.clone(), c.json(i)))
            .collect()
    }

    /// Every row as one line of JSON (JSONL), each ending in a newline.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for i in 0..self.rows() {
            out.push_str(&Value::Object(self.row_json(i)).to_string());
            out.push('\n');
        }
        out
    }

    fn schema(&self) -> Type {
        Type::group_type_builder("schema")
            .with_fields(
                self.names
                    .iter()
                    .zip(&self.columns)
                    .map(|(n, c)| Arc::new(c.schema(n)))
                    .collect(),
            )
            .build()
            .expect("a message type")
    }
}

/// Definition and repetition levels of a required list of `lens[i]` required elements per
/// row: an empty list is one (0, 0) slot without a value.
fn list_levels(lens: impl Iterator<Item = usize>) -> (Vec<i16>, Vec<i16>) {
    let (mut def, mut rep) = (Vec::new(), Vec::new());
    for n in lens {
        if n == 0 {
            def.push(0);
            rep.push(0);
        }
        for j in 0..n {
            def.push(1);
            rep.push(i16::from(j > 0));
        }
    }
    (def, rep)
}

/// Writes the next leaf column of a row group: its values and, for optional and list
/// columns, their definition and repetition levels.
fn leaf<T: DataType>(
    group: &mut SerializedRowGroupWriter<'_, Vec<u8>>,
    values: &[T::T],
    def: Option<&[i16]>,
    rep: Option<&[i16]>,
) -> Result<(), String> {
    let e = |e: parquet::errors::ParquetError| e.to_string();
    let mut w = group.next_column().map_err(e)?.ok_or("too few columns")?;
    w.typed::<T>().write_batch(values, def, rep).map_err(e)?;
    w.close().map_err(e)
}

/// Writes a Parquet file (snappy) one row group at a time; every group must have the
/// columns, names and types of the first.
pub struct ParquetSink {
    writer: SerializedFileWriter<Vec<u8>>,
    names: Vec<String>,
}

impl ParquetSink {
    /// A file whose schema is `like`'s (its rows are not written).
    pub fn new(like: &Table) -> Result<Self, String> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("cotlabel {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer =
            SerializedFileWriter::new(Vec::new(), Arc::new(like.schema()), Arc::new(props))
                .map_err(|e| e.to_string())?;
        Ok(Self {
            writer,
            names: like.names.clone(),
        })
    }

    /// Appends `table`'s rows as one row group.
    pub fn write(&mut self, table: &Table) -> Result<(), String> {
        if table.names != self.names {
            return Err("a row group's columns differ from the file's".into());
        }
        if table.rows() == 0 {
            return Ok(());
        }
        let e = |e: parquet::errors::ParquetError| e.to_string();
        let mut group = self.writer.next_row_group().map_err(e)?;
        let text = |v: &mut dyn Iterator<Item = &str>| -> Vec<ByteArray> {
            v.map(ByteArray::from).collect()
        };
        for column in &table.columns {
            // one call per leaf of the column, in schema order
            match column {
                Column::Text(v) => leaf::<ByteArrayType>(
                    &mut group,
                    &text(&mut v.iter().map(String::as_str)),
                    None,
                    None,
                )?,
                Column::OptText(v) => {
                    let def: Vec<i16> = v.iter().map(|s| i16::from(s.is_some())).collect();
                    let vals = text(&mut v.iter().flatten().map(String::as_str));
                    leaf::<ByteArrayType>(&mut group, &vals, Some(&def), None)?
                }
                Column::Bool(v) => leaf::<BoolType>(&mut group, v, None, None)?,
                Column::Number(v) => leaf::<DoubleType>(&mut group, v, None, None)?,
                Column::Int(v) => leaf::<Int64Type>(&mut group, v, None, None)?,
                Column::Turns(v) => {
                    let (def, rep) = list_levels(v.iter().map(Vec::len));
                    let roles = text(&mut v.iter().flatten().map(|t| t.role.as_str()));
                    leaf::<ByteArrayType>(&mut group, &roles, Some(&def), Some(&rep))?;
                    let contents = text(&mut v.iter().flatten().map(|t| t.content.as_str()));
                    leaf::<ByteArrayType>(&mut group, &contents, Some(&def), Some(&rep))?
                }
                Column::TextList(v) => {
                    let (def, rep) = list_levels(v.iter().map(Vec::len));
                    let vals = text(&mut v.iter().flatten().map(String::as_str));
                    leaf::<ByteArrayType>(&mut group, &vals, Some(&def), Some(&rep))?
                }
                Column::BoolList(v) => {
                    let (def, rep) = list_levels(v.iter().map(Vec::len));
                    let vals: Vec<bool> = v.iter().flatten().copied().collect();
                    leaf::<BoolType>(&mut group, &vals, Some(&def), Some(&rep))?
                }
            }
        }
        group.close().map_err(e)?;
        Ok(())
    }

    /// Closes the file and returns its bytes.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.writer.into_inner().map_err(|e| e.to_string())
    }
}

/// A whole table as one Parquet file, `group` rows per row group.
pub fn write_table(table: &Table, group: usize) -> Result<Vec<u8>, String> {
    let mut sink = ParquetSink::new(table)?;
    let group = group.max(1);
    let mut start = 0;
    while start < table.rows() {
        let end = (start + group).min(table.rows());
        sink.write(&table.slice(start..end))?;
        start = end;
    }
    sink.finish()
}

impl Table {
    /// Rows `range` as a table of their own.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Table {
        fn part<T: Clone>(v: &[T], r: &std::ops::Range<usize>) -> Vec<T> {
            v[r.clone()].to_vec()
        }
        Table {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| match c {
                    Column::Text(v) => Column::Text(part(v, &range)),
                    Column::OptText(v) => Column::OptText(part(v, &range)),
                    Column::Bool(v) => Column::Bool(part(v, &range)),
                    Column::Number(v) => Column::Number(part(v, &range)),
                    Column::Int(v) => Column::Int(part(v, &range)),
                    Column::Turns(v) => Column::Turns(part(v, &range)),
                    Column::TextList(v) => Column::TextList(part(v, &range)),
                    Column::BoolList(v) => Column::BoolList(part(v, &range)),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            names: vec![
                "prompt".into(),
                "messages".into(),
                "ok".into(),
                "p".into(),
                "maybe".into(),
                "steps".into(),
                "labels".into(),
            ],
            columns: vec![
                Column::Text(vec!["a".into(), "b".into(), "c".into()]),
                Column::Turns(vec![
                    vec![
                        Turn {
                            role: "user".into(),
                            content: "q".into(),
                        },
                        Turn {
                            role: "assistant".into(),
                            content: "r".into(),
                        },
                    ],
                    vec![],
                    vec![Turn {
                        role: "system".into(),
                        content: "s".into(),
                    }],
                ]),
                Column::Bool(vec![true, false, true]),
                Column::Number(vec![0.5, 1.0, 0.75]),
                Column::OptText(vec![None, Some("x".into()), None]),
                Column::TextList(vec![vec!["1".into(), "2".into()], vec![], vec!["3".into()]]),
                Column::BoolList(vec![vec![true, false], vec![], vec![true]]),
            ],
        }
    }

    #[test]
    fn written_tables_read_back_row_for_row() {
        let t = table();
        for group in [1, 2, 3] {
            let bytes = write_table(&t, group).unwrap();
            let rows = read_objects("t.parquet", bytes).unwrap();
            assert_eq!(rows.len(), 3);
            for (i, (n, v)) in rows.iter().enumerate() {
                assert_eq!(*n, i + 1);
                assert_eq!(
                    v,
                    &Value::Object(t.row_json(i)),
                    "row {i}, groups of {group}"
                );
            }
        }
    }

    #[test]
    fn list_levels_mark_empty_lists_and_continuations() {
        assert_eq!(
            list_levels([2, 0, 1].into_iter()),
            (vec![1, 1, 0, 1], vec![0, 1, 0, 0])
        );
    }

    #[test]
    fn truncated_and_foreign_bytes_are_errors_not_panics() {
        let bytes = write_table(&table(), 2).unwrap();
        for cut in [0, 4, 11, bytes.len() / 2, bytes.len() - 1] {
            let e = read_objects("t.parquet", bytes[..cut].to_vec()).unwrap_err();
            assert!(e.to_string().starts_with("t.parquet"), "{e}");
        }
        assert!(read_objects("t.parquet", b"PAR1 hello PAR1".to_vec()).is_err());
    }

    #[test]
    fn every_flipped_byte_is_an_error_or_rows_never_a_panic() {
        // Bit flips in pages reach assertions inside the parquet crate (fuzzing found
        // them); read_objects turns those into errors naming the file.
        let bytes = write_table(&table(), 2).unwrap();
        let mut failed_inside = 0;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            if let Err(e) = read_objects("t.parquet", b) {
                let e = e.to_string();
                assert!(e.starts_with("t.parquet"), "{e}");
                failed_inside += usize::from(e.contains("the Parquet reader failed"));
            }
        }
        eprintln!(
            "{failed_inside} of {} flips reached a panic inside the parquet crate",
            bytes.len()
        );
    }

    #[test]
    fn jsonl_has_one_object_per_row() {
        let text = table().to_jsonl();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["messages"][1]["content"], "r");
        assert_eq!(lines[1]["maybe"], "x");
        assert_eq!(lines[2]["labels"], serde_json::json!([true]));
    }
}
