//! The Python package `cotlabel` (feature `python`; maturin builds it from
//! `python/pyproject.toml`, `scripts/pywheel` makes the wheel and a venv): the core's stages
//! for Python pipelines (Ray, pandas, Hugging Face `datasets`), taking and returning Arrow
//! through the PyCapsule interface (`__arrow_c_stream__` / `__arrow_c_array__`, via
//! arrow-rs's `arrow-pyarrow`; results are pyarrow objects).
//!
//! - `signatures(records)`: [`signature::group_signatures`], which reads only each
//!   question's own CoTs, so a `map_groups` by question gives the values of the whole set;
//!   `base_rate_shifts(...)` ([`signature::shifts_of`]) is the one gathering step;
//!   `finish_priors(table, shifts)` is [`signature::finish`] on those rows.
//! - `extract_answers(texts)`: [`signature::answer::find_in_text`].
//! - `label(...)`, `label_file(...)`: the CLI's labelling ([`crate::cli::label`]) and its
//!   label file; `export_rows(...)`: [`trainset::plan`]'s rows.
//!
//! Records are read by the importer's own validation ([`import::records_from_rows`]): a
//! bad row raises `ValueError` with the importer's message (`records row 3: missing
//! required field \`question\``). Heavy work runs with the GIL released.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{
    make_array, Array, ArrayRef, ArrowPrimitiveType, BooleanArray, FixedSizeListArray,
    Float32Array, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table as PyTable, ToPyArrow};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use pyo3::exceptions::{PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use serde_json::{Map, Number, Value};

use crate::core::base::Matrix;
use crate::core::data::{Dataset, Embeddings};
use crate::core::export::labelfile::LabelFile;
use crate::core::export::trainset::{self, Format};
use crate::core::graph::partition;
use crate::core::graph::propagate::{Config, Method};
use crate::core::graph::GraphConfig;
use crate::core::io::import::{self, ImportPlan, Parsed};
use crate::core::io::parquet::{self, Column};
use crate::core::labels::session::Session;
use crate::core::labels::{Millis, MIN_CONFIDENCE};
use crate::core::map::neighbours::Search;
use crate::core::signals::signature::{self, Siblings, DIM};
use crate::pipeline::{self, LabelOptions};

/// The name records are given in error messages (and, by default, in the label file).
const RECORDS: &str = "records";

fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

// ---------------------------------------------------------------------------------------
// Arrow in: tables, arrays, JSON values

/// The record batches of a table-like object: anything with `__arrow_c_stream__` (a
/// pyarrow Table, RecordBatchReader, polars frame…) or `__arrow_c_array__` (a
/// RecordBatch); otherwise what `pyarrow.table(obj)` makes of it (a dict of lists, a pandas
/// frame).
fn batches_of(obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    if obj.hasattr("__arrow_c_stream__")? {
        let t = PyTable::from_pyarrow_bound(obj)?;
        let (batches, schema) = t.into_inner();
        return Ok((schema, batches));
    }
    if obj.hasattr("__arrow_c_array__")? {
        let b = RecordBatch::from_pyarrow_bound(obj)?;
        return Ok((b.schema(), vec![b]));
    }
    let table = obj.py().import("pyarrow")?.call_method1("table", (obj,))?;
    batches_of(&table)
}

/// The chunks of an array-like object: `__arrow_c_array__` (a pyarrow Array), a pyarrow
/// ChunkedArray (a table's column), or what `pyarrow.array(obj)` makes of it (a list, a
/// numpy array, a pandas Series).
fn arrays_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ArrayRef>> {
    if obj.hasattr("__arrow_c_array__")? {
        let data = arrow_data::ArrayData::from_pyarrow_bound(obj)?;
        return Ok(vec![make_array(data)]);
    }
    if obj.hasattr("chunks")? && obj.hasattr("__arrow_c_stream__")? {
        let mut out = Vec::new();
        for chunk in obj.getattr("chunks")?.try_iter()? {
            out.extend(arrays_of(&chunk?)?);
        }
        return Ok(out);
    }
    let array = obj.py().import("pyarrow")?.call_method1("array", (obj,))?;
    arrays_of(&array)
}

fn float_json(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn primitive_json<T: ArrowPrimitiveType>(
    a: &dyn Array,
    f: impl Fn(T::Native) -> Value,
) -> Vec<Value> {
    let p = a.as_primitive::<T>();
    (0..a.len()).map(|i| f(p.value(i))).collect()
}

/// Every value of an Arrow array as JSON (nulls as `null`): the shapes records come in
/// (text, numbers, truth values, lists, structs, dictionary-encoded text).
fn column_json(a: &dyn Array) -> Result<Vec<Value>, String> {
    let n = a.len();
    let mut out: Vec<Value> = match a.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let b = a.as_boolean();
            (0..n).map(|i| Value::Bool(b.value(i))).collect()
        }
        DataType::Int8 => primitive_json::<Int8Type>(a, Value::from),
        DataType::Int16 => primitive_json::<Int16Type>(a, Value::from),
        DataType::Int32 => primitive_json::<Int32Type>(a, Value::from),
        DataType::Int64 => primitive_json::<Int64Type>(a, Value::from),
        DataType::UInt8 => primitive_json::<UInt8Type>(a, Value::from),
        DataType::UInt16 => primitive_json::<UInt16Type>(a, Value::from),
        DataType::UInt32 => primitive_json::<UInt32Type>(a, Value::from),
        DataType::UInt64 => primitive_json::<UInt64Type>(a, Value::from),
        DataType::Float32 => primitive_json::<Float32Type>(a, |x| float_json(f64::from(x))),
        DataType::Float64 => primitive_json::<Float64Type>(a, float_json),
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            (0..n).map(|i| Value::from(s.value(i))).collect()
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            (0..n).map(|i| Value::from(s.value(i))).collect()
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            (0..n).map(|i| Value::from(s.value(i))).collect()
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(Value::Array(column_json(l.value(i).as_ref())?));
            }
            v
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(Value::Array(column_json(l.value(i).as_ref())?));
            }
            v
        }
        DataType::FixedSizeList(..) => {
            let l = a.as_fixed_size_list();
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(Value::Array(column_json(l.value(i).as_ref())?));
            }
            v
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let columns = s
                .columns()
                .iter()
                .map(|c| column_json(c.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            (0..n)
                .map(|i| {
                    Value::Object(
                        fields
                            .iter()
                            .zip(&columns)
                            .map(|(f, c)| (f.name().clone(), c[i].clone()))
                            .collect(),
                    )
                })
                .collect()
        }
        DataType::Dictionary(..) => {
            let d = a.as_any_dictionary();
            let values = column_json(d.values().as_ref())?;
            d.normalized_keys()
                .into_iter()
                .map(|k| values.get(k).cloned().unwrap_or(Value::Null))
                .collect()
        }
        other => {
            return Err(format!(
                "has Arrow type {other}, which cotlabel does not read"
            ))
        }
    };
    if a.null_count() > 0 || a.logical_null_count() > 0 {
        for (i, v) in out.iter_mut().enumerate() {
            if a.is_null(i) {
                *v = Value::Null;
            }
        }
    }
    Ok(out)
}

/// The rows of a table as `(row number from 1, JSON object)`, leaving out `skip`.
fn table_rows(
    name: &str,
    batches: &[RecordBatch],
    skip: Option<&str>,
) -> Result<Vec<(usize, Value)>, String> {
    let mut rows = Vec::new();
    for b in batches {
        let schema = b.schema();
        let mut columns = Vec::new();
        for (f, c) in schema.fields().iter().zip(b.columns()) {
            if Some(f.name().as_str()) == skip {
                continue;
            }
            let values = column_json(c.as_ref())
                .map_err(|e| format!("{name}: column `{}` {e}", f.name()))?;
            columns.push((f.name().clone(), values));
        }
        for i in 0..b.num_rows() {
            let obj: Map<String, Value> = columns
                .iter_mut()
                .map(|(n, v)| (n.clone(), std::mem::take(&mut v[i])))
                .collect();
            rows.push((rows.len() + 1, Value::Object(obj)));
        }
    }
    Ok(rows)
}

/// A matrix of floats from list / fixed-size-list arrays of float32 or float64: `(rows,
/// dim, values)`.
fn matrix_of(what: &str, arrays: &[ArrayRef]) -> Result<(usize, usize, Vec<f32>), String> {
    let mut data = Vec::new();
    let (mut rows, mut dim) = (0usize, None::<usize>);
    for a in arrays {
        for i in 0..a.len() {
            rows += 1;
            if a.is_null(i) {
                return Err(format!("{what}: row {rows} is null"));
            }
            let row: ArrayRef = match a.data_type() {
                DataType::FixedSizeList(..) => a.as_fixed_size_list().value(i),
                DataType::List(_) => a.as_list::<i32>().value(i),
                DataType::LargeList(_) => a.as_list::<i64>().value(i),
                other => {
                    return Err(format!(
                        "{what}: expected a list of float32 per row, got Arrow type {other}"
                    ))
                }
            };
            let before = data.len();
            match row.data_type() {
                DataType::Float32 => {
                    data.extend(row.as_primitive::<Float32Type>().values().iter().copied())
                }
                DataType::Float64 => data.extend(
                    row.as_primitive::<Float64Type>()
                        .values()
                        .iter()
                        .map(|&x| x as f32),
                ),
                other => {
                    return Err(format!(
                        "{what}: expected float32 or float64 values, got {other}"
                    ))
                }
            }
            if row.null_count() > 0 {
                return Err(format!("{what}: row {rows} has a null value"));
            }
            let len = data.len() - before;
            match dim {
                None => dim = Some(len),
                Some(d) if d != len => {
                    return Err(format!(
                        "{what}: row {rows} has {len} values, the first row {d}"
                    ))
                }
                _ => {}
            }
        }
    }
    if let Some(k) = data.iter().position(|x| !x.is_finite()) {
        let d = dim.unwrap_or(1).max(1);
        return Err(format!(
            "{what}: row {} has a value that is NaN, infinite or beyond float32",
            k / d + 1
        ));
    }
    Ok((rows, dim.unwrap_or(0), data))
}

/// Embeddings from a numpy 2-D array (any float dtype: read as float32, C order) or an
/// Arrow column of float lists.
fn embeddings_of(obj: &Bound<'_, PyAny>) -> PyResult<Embeddings> {
    let arrow = obj.hasattr("__arrow_c_array__")?
        || (obj.hasattr("chunks")? && obj.hasattr("__arrow_c_stream__")?);
    let (rows, dim, data) = if arrow {
        matrix_of("embeddings", &arrays_of(obj)?).map_err(value_error)?
    } else {
        let np = obj.py().import("numpy")?;
        let kwargs = pyo3::types::PyDict::new(obj.py());
        kwargs.set_item("dtype", np.getattr("float32")?)?;
        let a = np.call_method("ascontiguousarray", (obj,), Some(&kwargs))?;
        let shape: Vec<usize> = a.getattr("shape")?.extract()?;
        if shape.len() != 2 {
            return Err(value_error(format!(
                "embeddings: expected a 2-D array (records × dimensions), got {} dimensions",
                shape.len()
            )));
        }
        let bytes = a.call_method0("tobytes")?;
        let bytes = bytes.cast::<PyBytes>()?.as_bytes();
        let data: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(k) = data.iter().position(|x| !x.is_finite()) {
            return Err(value_error(format!(
                "embeddings: row {} has a value that is NaN, infinite or beyond float32",
                k / shape[1].max(1) + 1
            )));
        }
        (shape[0], shape[1], data)
    };
    if dim == 0 {
        return Err(value_error("embeddings: the rows have no values"));
    }
    Embeddings::new(rows, dim, data).ok_or_else(|| value_error("embeddings: ragged rows"))
}

fn import_message(errors: &[crate::core::ImportError], name: &str) -> String {
    // the importer says "line" outside Parquet files; a table has rows
    let line = format!("{name} line ");
    let row = format!("{name} row ");
    errors
        .iter()
        .map(|e| e.to_string().replace(&line, &row))
        .collect::<Vec<_>>()
        .join("\n")
}

fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let category = py.get_type::<PyUserWarning>();
    PyErr::warn(
        py,
        category.as_any(),
        &std::ffi::CString::new(message.replace('\0', " "))?,
        1,
    )
}

/// Records (with an `embedding` column or `embeddings`, when given) as a data set named
/// `name`, validated as the importer validates a file.
fn dataset_of(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Dataset> {
    let (schema, batches) = batches_of(records)?;
    // a column of float lists is taken as a matrix, not row by row as JSON
    let inline_column = schema
        .fields()
        .iter()
        .position(|f| f.name() == "embedding")
        .filter(|&k| {
            matches!(
                schema.field(k).data_type(),
                DataType::FixedSizeList(..) | DataType::List(_) | DataType::LargeList(_)
            )
        });
    let inline = match inline_column {
        Some(k) => {
            let arrays: Vec<ArrayRef> = batches.iter().map(|b| b.column(k).clone()).collect();
            let (rows, dim, data) =
                matrix_of(&format!("{name}: column `embedding`"), &arrays).map_err(value_error)?;
            Embeddings::new(rows, dim, data)
        }
        None => None,
    };
    let skip = inline_column.map(|_| "embedding");
    let (records, parsed_inline, warnings) = py
        .detach(|| {
            let rows = table_rows(name, &batches, skip)?;
            match import::records_from_rows(name, rows.into_iter()) {
                Ok(Parsed::Records {
                    records,
                    embeddings,
                    warnings,
                }) => Ok((records, embeddings, warnings)),
                Ok(_) => Err(format!("{name}: not records")),
                Err(errors) => Err(import_message(&errors, name)),
            }
        })
        .map_err(value_error)?;
    if !warnings.is_empty() {
        warn(py, &import_message(&warnings, name))?;
    }
    let given = embeddings.filter(|e| !e.is_none());
    let matrix = match (inline.or(parsed_inline), given) {
        (Some(_), Some(_)) => {
            return Err(value_error(format!(
                "{name} already has an `embedding` column; give embeddings there or as \
                 `embeddings`, not both"
            )))
        }
        (Some(e), None) => Some(e),
        (None, Some(e)) => Some(embeddings_of(e)?),
        (None, None) => None,
    };
    if let Some(e) = &matrix {
        if e.rows() != records.len() {
            return Err(value_error(format!(
                "embeddings: {} rows, but {name} has {} records (one row per record, in order)",
                e.rows(),
                records.len()
            )));
        }
    }
    Ok(Dataset::new(name, records, matrix))
}

/// A label file from a path (contract §2) or an Arrow table with `id` and `label` (and
/// optionally `provenance`, human when absent; `confidence`, `from`, …): the table's rows
/// are read as the entries of a label file.
fn label_file_of(labels: &Bound<'_, PyAny>) -> PyResult<(String, LabelFile)> {
    let is_path =
        labels.is_instance_of::<pyo3::types::PyString>() || labels.hasattr("__fspath__")?;
    if is_path {
        let path: std::path::PathBuf = labels.extract()?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let text = std::fs::read_to_string(&path)
            .map_err(|e| value_error(format!("{}: cannot read: {e}", path.display())))?;
        let file = LabelFile::parse(&name, &text)
            .map_err(|errors| value_error(import_message(&errors, &name)))?;
        return Ok((name, file));
    }
    let name = "labels";
    let (_, batches) = batches_of(labels)?;
    let rows = table_rows(name, &batches, None).map_err(value_error)?;
    let entries: Vec<Value> = rows
        .into_iter()
        .map(|(_, mut v)| {
            if let Value::Object(o) = &mut v {
                o.retain(|_, x| !x.is_null());
                o.entry("provenance").or_insert_with(|| "human".into());
            }
            v
        })
        .collect();
    let text = serde_json::json!({
        "format": "cotlabel.labels",
        "version": 1,
        "labels": entries,
    })
    .to_string();
    let file = LabelFile::parse(name, &text)
        .map_err(|errors| value_error(import_message(&errors, name)))?;
    Ok((name.to_string(), file))
}

/// Records, embeddings and labels as the CLI reads them when dropped together
/// ([`crate::cli::read_inputs`]): the data set, then the label file merged into its labels.
fn session_of(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Session> {
    let dataset = dataset_of(py, records, embeddings, name)?;
    let label_files = match labels.filter(|l| !l.is_none()) {
        Some(l) => vec![label_file_of(l)?],
        None => Vec::new(),
    };
    for (file, labels) in &label_files {
        let known = labels
            .labels
            .iter()
            .filter(|(id, _)| dataset.position(id).is_some())
            .count();
        if known == 0 && !labels.labels.is_empty() {
            return Err(value_error(format!(
                "{file}: none of its {} labels names a record of {name} (ids such as `{}`); \
                 are they the labels of another data set?",
                labels.labels.len(),
                labels.labels[0].0
            )));
        }
    }
    let mut session = Session::new(Dataset::new("", Vec::new(), None));
    let report = session.apply(
        ImportPlan {
            dataset: Some(dataset),
            label_files,
            share: None,
            sources: vec![name.to_string()],
            warnings: Vec::new(),
            mapping: None,
        },
        None,
    );
    for (file, merged) in &report.merged {
        if !merged.unknown_ids.is_empty() {
            warn(py, &format!("{file}: {}", merged.summary()))?;
        }
    }
    Ok(session)
}

// ---------------------------------------------------------------------------------------
// Arrow out

fn to_table(py: Python<'_>, batch: RecordBatch) -> PyResult<Py<PyAny>> {
    let schema = batch.schema();
    let t = PyTable::try_new(vec![batch], schema).map_err(|e| value_error(e.to_string()))?;
    Ok(t.into_pyarrow(py)?.unbind())
}

fn batch(columns: Vec<(Field, ArrayRef)>) -> PyResult<RecordBatch> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| value_error(e.to_string()))
}

fn list_of(item: DataType, lens: impl Iterator<Item = usize>, values: ArrayRef) -> ArrayRef {
    Arc::new(ListArray::new(
        Arc::new(Field::new("item", item, true)),
        OffsetBuffer::from_lengths(lens),
        values,
        None,
    ))
}

fn strings(v: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

/// A training-set table ([`parquet::Table`]) as an Arrow record batch, column by
/// column (the same columns and types its Parquet writer writes; no Parquet round trip).
fn training_batch(t: &parquet::Table) -> PyResult<RecordBatch> {
    let mut columns = Vec::new();
    for (name, c) in t.names.iter().zip(&t.columns) {
        let (data_type, nullable, array): (DataType, bool, ArrayRef) = match c {
            Column::Text(v) => (DataType::Utf8, false, strings(v.iter().cloned())),
            Column::OptText(v) => (DataType::Utf8, true, Arc::new(StringArray::from(v.clone()))),
            Column::Bool(v) => (
                DataType::Boolean,
                false,
                Arc::new(BooleanArray::from(v.clone())),
            ),
            Column::Number(v) => (
                DataType::Float64,
                false,
                Arc::new(Float64Array::from(v.clone())),
            ),
            Column::Int(v) => (
                DataType::Int64,
                false,
                Arc::new(Int64Array::from(v.clone())),
            ),
            Column::Turns(v) => {
                let fields = Fields::from(vec![
                    Field::new("role", DataType::Utf8, false),
                    Field::new("content", DataType::Utf8, false),
                ]);
                let turns = v.iter().flatten();
                let roles = strings(turns.clone().map(|t| t.role.clone()));
                let contents = strings(turns.map(|t| t.content.clone()));
                let item = DataType::Struct(fields.clone());
                let structs: ArrayRef =
                    Arc::new(StructArray::new(fields, vec![roles, contents], None));
                let list = list_of(item.clone(), v.iter().map(Vec::len), structs);
                (list.data_type().clone(), false, list)
            }
            Column::TextList(v) => {
                let list = list_of(
                    DataType::Utf8,
                    v.iter().map(Vec::len),
                    strings(v.iter().flatten().cloned()),
                );
                (list.data_type().clone(), false, list)
            }
            Column::BoolList(v) => {
                let values: ArrayRef = Arc::new(BooleanArray::from(
                    v.iter().flatten().copied().collect::<Vec<bool>>(),
                ));
                let list = list_of(DataType::Boolean, v.iter().map(Vec::len), values);
                (list.data_type().clone(), false, list)
            }
        };
        columns.push((Field::new(name, data_type, nullable), array));
    }
    batch(columns)
}

// ---------------------------------------------------------------------------------------
// Signatures and priors

fn siblings_name(s: Siblings) -> &'static str {
    match s {
        Siblings::None => "none",
        Siblings::One => "one",
        Siblings::Many => "many",
    }
}

fn siblings_of(name: &str) -> Option<Siblings> {
    match name {
        "none" => Some(Siblings::None),
        "one" => Some(Siblings::One),
        "many" => Some(Siblings::Many),
        _ => None,
    }
}

/// `signatures(records, embeddings=None)`: one row per record, in order.
#[pyfunction]
#[pyo3(signature = (records, embeddings = None))]
fn signatures(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let dataset = dataset_of(py, records, embeddings, RECORDS)?;
    let sigs = py.detach(|| signature::group_signatures(&dataset));
    let ids = strings(dataset.records().iter().map(|r| r.id.clone()));
    let answers: StringArray = sigs
        .iter()
        .map(|s| s.trace.answer.as_ref().map(|a| a.key()))
        .collect();
    let siblings = strings(
        sigs.iter()
            .map(|s| siblings_name(s.shape.siblings).to_string()),
    );
    let fitted: BooleanArray = sigs.iter().map(|s| Some(s.shape.fitted)).collect();
    let matches: BooleanArray = sigs.iter().map(|s| s.matches_reference).collect();
    let lfp: Float64Array = sigs.iter().map(|s| Some(s.label_free_prior)).collect();
    let flat: Float32Array = sigs.iter().flat_map(|s| s.vector).map(Some).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let vector = FixedSizeListArray::new(item.clone(), DIM as i32, Arc::new(flat), None);
    let b = batch(vec![
        (Field::new("id", DataType::Utf8, false), ids),
        (
            Field::new("answer", DataType::Utf8, true),
            Arc::new(answers),
        ),
        (Field::new("siblings", DataType::Utf8, false), siblings),
        (
            Field::new("fitted", DataType::Boolean, false),
            Arc::new(fitted),
        ),
        (
            Field::new("matches_reference", DataType::Boolean, true),
            Arc::new(matches),
        ),
        (
            Field::new("label_free_prior", DataType::Float64, false),
            Arc::new(lfp),
        ),
        (
            Field::new("vector", DataType::FixedSizeList(item, DIM as i32), false),
            Arc::new(vector),
        ),
    ])?;
    to_table(py, b)
}

fn values_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Value>> {
    let mut out = Vec::new();
    for a in arrays_of(obj)? {
        out.extend(column_json(a.as_ref()).map_err(|e| value_error(format!("{what}: {e}")))?);
    }
    Ok(out)
}

fn siblings_values(v: &[Value], what: &str) -> PyResult<Vec<Siblings>> {
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str().and_then(siblings_of).ok_or_else(|| {
                value_error(format!(
                    "{what} row {}: siblings must be \"none\", \"one\" or \"many\", not {s}",
                    i + 1
                ))
            })
        })
        .collect()
}

fn bools(v: &[Value], what: &str, field: &str) -> PyResult<Vec<bool>> {
    v.iter()
        .enumerate()
        .map(|(i, b)| {
            b.as_bool().ok_or_else(|| {
                value_error(format!(
                    "{what} row {}: {field} must be true or false, not {b}",
                    i + 1
                ))
            })
        })
        .collect()
}

fn floats(v: &[Value], what: &str, field: &str) -> PyResult<Vec<f64>> {
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    value_error(format!(
                        "{what} row {}: {field} must be a number in [0, 1], not {x}",
                        i + 1
                    ))
                })
        })
        .collect()
}

/// `base_rate_shifts(siblings, fitted, label_free_prior) -> (float, float)`.
#[pyfunction]
fn base_rate_shifts(
    siblings: &Bound<'_, PyAny>,
    fitted: &Bound<'_, PyAny>,
    label_free_prior: &Bound<'_, PyAny>,
) -> PyResult<(f64, f64)> {
    let what = "base_rate_shifts";
    let s = siblings_values(&values_of(siblings, what)?, what)?;
    let f = bools(&values_of(fitted, what)?, what, "fitted")?;
    let p = floats(
        &values_of(label_free_prior, what)?,
        what,
        "label_free_prior",
    )?;
    if s.len() != f.len() || s.len() != p.len() {
        return Err(value_error(format!(
            "{what}: siblings, fitted and label_free_prior differ in length ({}, {}, {})",
            s.len(),
            f.len(),
            p.len()
        )));
    }
    let rows: Vec<(Siblings, f64)> = s
        .into_iter()
        .zip(f)
        .zip(p)
        .filter(|((_, f), _)| *f)
        .map(|((s, _), p)| (s, p))
        .collect();
    let [a, b] = signature::shifts_of(&rows);
    Ok((a, b))
}

/// `finish_priors(table, shifts) -> pyarrow.Table`: `table` plus `prior`.
#[pyfunction]
fn finish_priors(
    py: Python<'_>,
    table: &Bound<'_, PyAny>,
    shifts: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let what = "finish_priors";
    let s: Vec<f64> = shifts.extract()?;
    let shifts: [f64; 2] = s.try_into().map_err(|s: Vec<f64>| {
        value_error(format!(
            "{what}: shifts must be the 2 numbers base_rate_shifts returns, not {}",
            s.len()
        ))
    })?;
    let (schema, batches) = batches_of(table)?;
    let column = |b: &RecordBatch, name: &str| -> PyResult<Vec<Value>> {
        let c = b.column_by_name(name).ok_or_else(|| {
            value_error(format!(
                "{what}: the table has no column `{name}` (give it the table signatures returns)"
            ))
        })?;
        column_json(c.as_ref()).map_err(|e| value_error(format!("{what}: column `{name}` {e}")))
    };
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new("prior", DataType::Float64, false)));
    let out_schema = Arc::new(Schema::new(fields));
    let mut out = Vec::new();
    for b in &batches {
        let s = siblings_values(&column(b, "siblings")?, what)?;
        let f = bools(&column(b, "fitted")?, what, "fitted")?;
        let p = floats(&column(b, "label_free_prior")?, what, "label_free_prior")?;
        let m: Vec<Option<bool>> = column(b, "matches_reference")?
            .iter()
            .map(Value::as_bool)
            .collect();
        let prior: Float64Array = (0..b.num_rows())
            .map(|i| Some(signature::finished_prior(s[i], f[i], p[i], m[i], shifts).1))
            .collect();
        let mut columns = b.columns().to_vec();
        columns.push(Arc::new(prior));
        out.push(
            RecordBatch::try_new(out_schema.clone(), columns)
                .map_err(|e| value_error(e.to_string()))?,
        );
    }
    let t = PyTable::try_new(out, out_schema).map_err(|e| value_error(e.to_string()))?;
    Ok(t.into_pyarrow(py)?.unbind())
}

/// `extract_answers(texts) -> pyarrow.Array`.
#[pyfunction]
fn extract_answers(py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let values = values_of(texts, "extract_answers")?;
    let keys: StringArray = py.detach(|| {
        values
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(signature::answer::find_in_text)
                    .map(|a| a.key())
            })
            .collect()
    });
    Ok(keys.into_data().to_pyarrow(py)?.unbind())
}

// ---------------------------------------------------------------------------------------
// Labelling and export

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// [`LabelOptions`] from `label`'s Python arguments.
fn label_options(
    min_confidence: f64,
    method: &str,
    knn: &str,
    partitions: usize,
    seed: u64,
    shifts: Option<(f64, f64)>,
) -> PyResult<LabelOptions> {
    if !(0.5..=1.0).contains(&min_confidence) {
        return Err(value_error(format!(
            "min_confidence must be in [0.5, 1], not {min_confidence}"
        )));
    }
    let method = match method {
        "spreading" => Method::SPREADING,
        "trust" => Method::TRUST,
        other => {
            return Err(value_error(format!(
                "method must be \"spreading\" or \"trust\", not {other:?}"
            )))
        }
    };
    let search = match knn {
        "auto" => Search::Auto,
        "exact" => Search::Exact,
        "approximate" => Search::Approximate,
        other => {
            return Err(value_error(format!(
                "knn must be \"auto\", \"exact\" or \"approximate\", not {other:?}"
            )))
        }
    };
    if partitions == 0 {
        return Err(value_error("partitions must be at least 1"));
    }
    Ok(LabelOptions {
        graph: GraphConfig {
            search,
            ..GraphConfig::default()
        },
        config: Config {
            method,
            ..Config::default()
        },
        min_confidence,
        partitions,
        seed,
        shifts: shifts.map(|(a, b)| [a, b]),
        ..LabelOptions::default()
    })
}

#[allow(clippy::too_many_arguments)]
fn labelled(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    min_confidence: f64,
    method: &str,
    knn: &str,
    partitions: usize,
    seed: u64,
    shifts: Option<(f64, f64)>,
    name: &str,
) -> PyResult<LabelFile> {
    let opts = label_options(min_confidence, method, knn, partitions, seed, shifts)?;
    let session = session_of(py, records, embeddings, labels, name)?;
    let now = now_ms();
    // the function `cotlabel label` calls
    let (dataset, store) = py
        .detach(|| pipeline::label(session, &opts, now, &mut |_, _| true))
        .map_err(|e| value_error(e.to_string()))?;
    Ok(LabelFile::from_store(&dataset, &store, now))
}

/// `label(records, embeddings=None, labels=None, min_confidence=0.6, method="spreading",
/// knn="auto", partitions=1, seed=0, shifts=None, name="records") -> pyarrow.Table`.
#[pyfunction]
#[pyo3(signature = (records, embeddings = None, labels = None, min_confidence = MIN_CONFIDENCE,
    method = "spreading", knn = "auto", partitions = 1, seed = 0, shifts = None,
    name = RECORDS))]
#[allow(clippy::too_many_arguments)]
fn label(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    min_confidence: f64,
    method: &str,
    knn: &str,
    partitions: usize,
    seed: u64,
    shifts: Option<(f64, f64)>,
    name: &str,
) -> PyResult<Py<PyAny>> {
    let file = labelled(
        py,
        records,
        embeddings,
        labels,
        min_confidence,
        method,
        knn,
        partitions,
        seed,
        shifts,
        name,
    )?;
    let l = &file.labels;
    let item = DataType::Utf8;
    let from = list_of(
        item.clone(),
        l.iter().map(|(_, x)| x.from.len()),
        strings(l.iter().flat_map(|(_, x)| x.from.iter().cloned())),
    );
    let b = batch(vec![
        (
            Field::new("id", DataType::Utf8, false),
            strings(l.iter().map(|(id, _)| id.clone())),
        ),
        (
            Field::new("label", DataType::Utf8, false),
            strings(l.iter().map(|(_, x)| x.verdict.as_str().to_string())),
        ),
        (
            Field::new("provenance", DataType::Utf8, false),
            strings(l.iter().map(|(_, x)| x.provenance.as_str().to_string())),
        ),
        (
            Field::new("confidence", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                l.iter().map(|(_, x)| x.confidence),
            )),
        ),
        (Field::new("from", from.data_type().clone(), false), from),
    ])?;
    to_table(py, b)
}

/// `label_file(...)`: `label`'s labels as the label file `cotlabel label --out` writes.
#[pyfunction]
#[pyo3(signature = (records, embeddings = None, labels = None, min_confidence = MIN_CONFIDENCE,
    method = "spreading", knn = "auto", partitions = 1, seed = 0, shifts = None,
    name = RECORDS))]
#[allow(clippy::too_many_arguments)]
fn label_file(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    embeddings: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    min_confidence: f64,
    method: &str,
    knn: &str,
    partitions: usize,
    seed: u64,
    shifts: Option<(f64, f64)>,
    name: &str,
) -> PyResult<String> {
    let file = labelled(
        py,
        records,
        embeddings,
        labels,
        min_confidence,
        method,
        knn,
        partitions,
        seed,
        shifts,
        name,
    )?;
    Ok(file.to_json())
}

/// `export_rows(records, labels, format, human_only=False, min_confidence=0.8,
/// max_pairs=4) -> pyarrow.Table`: the rows of `cotlabel export`.
#[pyfunction]
#[pyo3(signature = (records, labels, format, human_only = false, min_confidence = 0.8,
    max_pairs = 4))]
fn export_rows(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyAny>,
    format: &str,
    human_only: bool,
    min_confidence: f64,
    max_pairs: usize,
) -> PyResult<Py<PyAny>> {
    let format = Format::parse(format).ok_or_else(|| {
        value_error(format!(
            "unknown format {format:?}: one of {}",
            Format::ALL.map(Format::as_str).join(", ")
        ))
    })?;
    let session = session_of(py, records, None, Some(labels), RECORDS)?;
    let options = trainset::Options {
        format,
        human_only,
        min_confidence,
        max_pairs_per_question: max_pairs.max(1),
        keep_flagged: false,
    };
    let table = py.detach(|| {
        let plan = trainset::plan(&session.dataset, &session.labels, &options);
        plan.table(&session.dataset, 0..plan.len())
    });
    to_table(py, training_batch(&table)?)
}

// ---------------------------------------------------------------------------------------
// Partitions (the CLI's `--partitions K`, [`crate::core::graph::partition`])

fn numpy_matrix<'py>(
    py: Python<'py>,
    data: &[f32],
    rows: usize,
    dim: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_ne_bytes()).collect();
    let np = py.import("numpy")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float32")?)?;
    np.call_method("frombuffer", (PyBytes::new(py, &bytes),), Some(&kwargs))?
        .call_method1("reshape", (rows, dim))?
        .call_method0("copy")
}

/// `question_means(records, embeddings=None) -> (pyarrow.Array, numpy.ndarray)`: each
/// record's question group (numbered in order of first appearance) and each group's mean
/// embedding, unit length, as `cotlabel label --partitions` computes them.
#[pyfunction]
#[pyo3(signature = (records, embeddings = None))]
fn question_means<'py>(
    py: Python<'py>,
    records: &Bound<'py, PyAny>,
    embeddings: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Py<PyAny>, Bound<'py, PyAny>)> {
    let dataset = dataset_of(py, records, embeddings, RECORDS)?;
    if dataset.embeddings().is_none() {
        return Err(value_error(
            "question_means needs embeddings (an `embedding` column or `embeddings`)",
        ));
    }
    let g = partition::group_means(&dataset);
    let group = arrow_array::UInt32Array::from(g.group);
    Ok((
        group.into_data().to_pyarrow(py)?.unbind(),
        numpy_matrix(py, &g.means, g.groups, g.dim)?,
    ))
}

/// `fit_partitions(means, k, seed) -> numpy.ndarray`: `k` centres (k × dim, float32) fitted
/// on the question means (k-means++, seeded), as the CLI fits them.
#[pyfunction]
fn fit_partitions<'py>(
    py: Python<'py>,
    means: &Bound<'py, PyAny>,
    k: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let m = embeddings_of(means)?;
    let centres = py
        .detach(|| {
            let x = Matrix::new(m.as_slice(), m.rows(), m.dim())?;
            partition::fit(x, k, seed)
        })
        .map_err(|e| value_error(format!("fit_partitions: {e}")))?;
    let rows = centres.len() / m.dim();
    numpy_matrix(py, &centres, rows, m.dim())
}

/// `assign_partitions(means, centroids) -> pyarrow.Array` (uint32): the nearest centre of
/// each row of `means`.
#[pyfunction]
fn assign_partitions(
    py: Python<'_>,
    means: &Bound<'_, PyAny>,
    centroids: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let m = embeddings_of(means)?;
    let c = embeddings_of(centroids)?;
    if c.dim() != m.dim() {
        return Err(value_error(format!(
            "assign_partitions: centroids have {} values per row, means {}",
            c.dim(),
            m.dim()
        )));
    }
    let x = Matrix::new(m.as_slice(), m.rows(), m.dim()).map_err(|e| value_error(e.to_string()))?;
    let part = arrow_array::UInt32Array::from(partition::assign(x, c.as_slice()));
    Ok(part.into_data().to_pyarrow(py)?.unbind())
}

/// The module: `import cotlabel`.
#[pymodule]
#[pyo3(name = "cotlabel")]
fn python_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "SIGNATURE_FEATURES",
        PyTuple::new(m.py(), signature::FEATURES)?,
    )?;
    m.add_function(wrap_pyfunction!(signatures, m)?)?;
    m.add_function(wrap_pyfunction!(base_rate_shifts, m)?)?;
    m.add_function(wrap_pyfunction!(finish_priors, m)?)?;
    m.add_function(wrap_pyfunction!(extract_answers, m)?)?;
    m.add_function(wrap_pyfunction!(label, m)?)?;
    m.add_function(wrap_pyfunction!(label_file, m)?)?;
    m.add_function(wrap_pyfunction!(export_rows, m)?)?;
    m.add_function(wrap_pyfunction!(question_means, m)?)?;
    m.add_function(wrap_pyfunction!(fit_partitions, m)?)?;
    m.add_function(wrap_pyfunction!(assign_partitions, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn rows(objects: Vec<Value>) -> Dataset {
        let rows = objects.into_iter().enumerate().map(|(i, v)| (i + 1, v));
        match import::records_from_rows(RECORDS, rows) {
            Ok(Parsed::Records { records, .. }) => Dataset::new(RECORDS, records, None),
            other => panic!("{other:?}"),
        }
    }

    /// Lone CoTs, pairs, groups, a reference answer and a yes/no answer.
    fn mixed() -> Dataset {
        let q = "Tom has 3 apples and buys 4 more, then doubles them. How many?";
        let mut v = Vec::new();
        let cots = [
            ("q1", "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14", None),
            ("q1", "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14", None),
            ("q1", "3 + 4 = 8\n8 * 2 = 16\nThe answer is 16", None),
            ("q1", "3 * 4 = 12\nThe answer is 12", None),
            ("q2", "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14", None),
            ("q2", "3 + 4 = 7\nThe answer is 7", None),
            ("q3", "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14", None),
            ("q4", "3 + 4 = 7\nThe answer is 7", Some("14")),
            ("q5", "Yes, it is.\nThe answer is yes", None),
            ("q6", "3 + 4 = 9\n9 * 2 = 18\nThe answer is 18", None),
            ("q7", "3 + 4 = 7\n7 * 2 = 14", None),
            ("q7", "3 + 4 = 7\n7 * 2 = 15", Some("14")),
        ];
        for (i, (qid, cot, gold)) in cots.iter().enumerate() {
            let mut o = serde_json::json!({"id": format!("r{i}"), "question_id": qid,
                "question": q, "cot": cot});
            if let Some(g) = gold {
                o["gold_answer"] = Value::from(*g);
            }
            v.push(o);
        }
        // enough lone CoTs and pairs for the base-rate shifts to move
        let variants = [
            "3 + 4 = 7\n7 * 2 = 14\nThe answer is 14",
            "3 + 4 = 8\n8 * 2 = 16\nThe answer is 16",
            "3 * 4 = 12\nThe answer is 12",
        ];
        for k in 0..60 {
            let group = if k < 30 {
                format!("lone{k}")
            } else {
                format!("pair{}", k / 2)
            };
            v.push(
                serde_json::json!({"id": format!("x{k}"), "question_id": group,
                "question": q, "cot": variants[k % 3]}),
            );
        }
        rows(v)
    }

    #[test]
    fn split_by_question_then_shifts_then_finish_is_the_whole_set() {
        let d = mixed();
        let whole = signature::signatures(&d);
        // per question, as a Ray map_groups would compute them
        let mut by_question: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in d.records().iter().enumerate() {
            by_question
                .entry(r.group_key().to_string())
                .or_default()
                .push(i);
        }
        let mut parts: Vec<Option<signature::Signature>> = vec![None; d.len()];
        for idx in by_question.values() {
            let sub = Dataset::new(
                "part",
                idx.iter().map(|&i| d.records()[i].clone()).collect(),
                None,
            );
            for (k, s) in signature::group_signatures(&sub).into_iter().enumerate() {
                parts[idx[k]] = Some(s);
            }
        }
        let parts: Vec<signature::Signature> = parts.into_iter().map(Option::unwrap).collect();
        let gathered: Vec<(Siblings, f64)> = parts
            .iter()
            .filter(|s| s.shape.fitted)
            .map(|s| (s.shape.siblings, s.label_free_prior))
            .collect();
        let shifts = signature::shifts_of(&gathered);
        assert_eq!(
            shifts,
            signature::base_rate_shifts(&signature::group_signatures(&d))
        );
        assert!(shifts.iter().any(|&s| s != 0.0), "{shifts:?}");
        for (p, w) in parts.iter().zip(&whole) {
            assert_eq!(p.vector, w.vector);
            let (_, prior) = signature::finished_prior(
                p.shape.siblings,
                p.shape.fitted,
                p.label_free_prior,
                p.matches_reference,
                shifts,
            );
            assert_eq!(prior, w.prior);
        }
        // the shapes the test means to cover are there
        let shapes: Vec<_> = whole
            .iter()
            .map(|s| (s.shape.siblings, s.shape.fitted))
            .collect();
        assert!(shapes.contains(&(Siblings::None, false)));
        assert!(shapes.contains(&(Siblings::One, true)));
        assert!(shapes.contains(&(Siblings::Many, true)));
        assert!(whole.iter().any(|s| s.matches_reference == Some(false)));
    }

    #[test]
    fn bad_rows_name_the_row_and_field() {
        let rows = vec![
            (1, serde_json::json!({"question": "q", "cot": "c"})),
            (2, serde_json::json!({"question": "q"})),
        ];
        let Err(errors) = import::records_from_rows(RECORDS, rows.into_iter()) else {
            panic!("accepted a row without a cot");
        };
        let m = import_message(&errors, RECORDS);
        assert_eq!(m, "records row 2: missing required field `cot`");
    }

    #[test]
    fn arrow_columns_read_as_json() {
        let list = list_of(
            DataType::Utf8,
            [2usize, 0].into_iter(),
            strings(["a".to_string(), "b".to_string()]),
        );
        assert_eq!(
            column_json(list.as_ref()).unwrap(),
            vec![serde_json::json!(["a", "b"]), serde_json::json!([])]
        );
        let f = Float64Array::from(vec![Some(0.5), None]);
        assert_eq!(
            column_json(&f).unwrap(),
            vec![serde_json::json!(0.5), Value::Null]
        );
    }
}
