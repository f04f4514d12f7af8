//! Reading what the user drops: records (JSON array, JSONL, CSV), embeddings (`.npy`, JSON
//! array of arrays, or inline) and label files, validated with errors that name the file and
//! the line.
//!
//! [`plan_import`] turns a set of files dropped together into an [`ImportPlan`] or a list
//! of errors, and changes nothing: the caller applies the plan whole (see
//! [`crate::core::Session::apply`]), so an import is atomic.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::core::data::{Dataset, Embeddings, Record, COT_ALIASES, REFERENCE_ALIASES};
use crate::core::export::labelfile::LabelFile;
use crate::core::io::error::{ImportError, MAX_ERRORS};
use crate::core::io::mapping::{Mapping, Survey};
use crate::core::labels::share::{Share, ShareError};

/// The largest file cotlabel reads in a browser tab (wasm32 has a 4 GiB address space and a
/// file is held as bytes, text and parsed values at once).
#[cfg(target_arch = "wasm32")]
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// The largest file the CLI and the Python package read: memory is the machine's, and the
/// bound only stops a damaged header from asking for more than any machine holds.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_FILE_BYTES: u64 = 64 << 30;

/// A file as the user gave it.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The file's name (only its extension is interpreted).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl InputFile {
    /// A file from a name and bytes.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

/// Refuses a file before it is read when it is too large to hold.
pub fn check_size(name: &str, bytes: u64) -> Result<(), ImportError> {
    if bytes > MAX_FILE_BYTES {
        Err(ImportError::TooLarge {
            file: name.to_string(),
            bytes,
            limit: MAX_FILE_BYTES,
        })
    } else {
        Ok(())
    }
}

/// What one file turned out to hold.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Records, with their inline embeddings when every record had one.
    Records {
        /// The records in file order.
        records: Vec<Record>,
        /// Inline `embedding` fields, when present.
        embeddings: Option<Embeddings>,
        /// Problems that do not stop the import (a field ignored), each naming its line.
        warnings: Vec<ImportError>,
    },
    /// A matrix of embeddings.
    Embeddings(Embeddings),
    /// A label file.
    Labels(LabelFile),
    /// One annotator's share of a data set (`cotlabel.share`).
    Share(Share),
}

/// What applying a set of files will do.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The data set after the import, when it changes: new records, or the current records
    /// with new embeddings. `None`: the data set stays as it is.
    pub dataset: Option<Dataset>,
    /// Label files to merge into the labels of the resulting data set, with their names.
    pub label_files: Vec<(String, LabelFile)>,
    /// A share of the resulting data set to open (checked against its fingerprint).
    pub share: Option<Share>,
    /// Names of the files that provided records and embeddings, for the summary.
    pub sources: Vec<String>,
    /// Problems that did not stop the import (a field ignored), each naming file and line.
    pub warnings: Vec<ImportError>,
    /// The mapping the records were read through (given, or from a mapping file dropped
    /// with them): kept with the files, so that reading them again gives the same records.
    pub mapping: Option<Mapping>,
}

/// Reads one file; the kind is decided by extension and, for `.json`, by its content.
pub fn parse_file(file: &InputFile) -> Result<Parsed, Vec<ImportError>> {
    parse_file_mapped(file, None)
}

/// [`parse_file`], reading records through `mapping` when one is given. Without one, a
/// records file whose first record names no question and CoT (and is no training shape)
/// is refused with [`ImportError::Unmapped`], which carries its fields and a proposal.
pub fn parse_file_mapped(
    file: &InputFile,
    mapping: Option<&Mapping>,
) -> Result<Parsed, Vec<ImportError>> {
    let name = file.name.as_str();
    check_size(name, file.bytes.len() as u64).map_err(|e| vec![e])?;
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "parquet" || (ext != "npy" && crate::core::io::parquet::is_parquet(&file.bytes)) {
        if file.bytes.is_empty() {
            return Err(vec![ImportError::Empty {
                file: name.to_string(),
            }]);
        }
        let rows = crate::core::io::parquet::read_objects(name, file.bytes.clone())
            .map_err(|e| vec![e])?;
        return build_records(name, rows.into_iter(), mapping);
    }
    if ext == "npy" {
        return parse_npy(name, &file.bytes)
            .map(Parsed::Embeddings)
            .map_err(|e| vec![e]);
    }
    let text = decode_text(name, &file.bytes).map_err(|e| vec![e])?;
    if text.trim().is_empty() {
        return Err(vec![ImportError::Empty {
            file: name.to_string(),
        }]);
    }
    match ext.as_str() {
        "jsonl" | "ndjson" => parse_jsonl(name, text, mapping),
        "csv" => parse_csv(name, text, mapping),
        "json" => parse_json(name, text, mapping),
        _ => Err(vec![ImportError::UnknownFormat {
            file: name.to_string(),
        }]),
    }
}

/// Reads a set of files dropped together and checks that they fit with each other and with
/// the data set already loaded. Nothing changes: apply the plan to take it.
pub fn plan_import(
    files: &[InputFile],
    current: Option<&Dataset>,
) -> Result<ImportPlan, Vec<ImportError>> {
    plan_import_mapped(files, current, None)
}

/// [`plan_import`], reading the records file through `mapping` when one is given.
pub fn plan_import_mapped(
    files: &[InputFile],
    current: Option<&Dataset>,
    mapping: Option<&Mapping>,
) -> Result<ImportPlan, Vec<ImportError>> {
    if files.is_empty() {
        return Err(vec![ImportError::Combination {
            message: "no files were given".into(),
        }]);
    }
    let mut errors = Vec::new();
    // A mapping file dropped with the records maps them.
    let mut mapping = mapping.cloned();
    let mut data_files = Vec::new();
    for f in files {
        if is_mapping_file(f) {
            let text = String::from_utf8_lossy(&f.bytes);
            match Mapping::parse(&f.name, &text) {
                Ok(m) => mapping = Some(m),
                Err(e) => errors.push(e),
            }
        } else {
            data_files.push(f);
        }
    }
    let mapping_used = mapping.clone();
    let mapping = mapping.as_ref();
    let files = data_files;
    if files.is_empty() && errors.is_empty() {
        return Err(vec![ImportError::Combination {
            message: "a mapping file maps a records file: drop it together with one".into(),
        }]);
    }
    let mut records: Vec<(String, Vec<Record>, Option<Embeddings>)> = Vec::new();
    let mut matrices: Vec<(String, Embeddings)> = Vec::new();
    let mut label_files = Vec::new();
    let mut shares: Vec<(String, Share)> = Vec::new();
    let mut warnings = Vec::new();
    for f in files {
        match parse_file_mapped(f, mapping) {
            Ok(Parsed::Records {
                records: r,
                embeddings,
                warnings: mut w,
            }) => {
                warnings.append(&mut w);
                records.push((f.name.clone(), r, embeddings))
            }
            Ok(Parsed::Embeddings(e)) => matrices.push((f.name.clone(), e)),
            Ok(Parsed::Labels(l)) => label_files.push((f.name.clone(), l)),
            Ok(Parsed::Share(s)) => shares.push((f.name.clone(), s)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        errors.truncate(MAX_ERRORS);
        return Err(errors);
    }
    let combination = |message: String| Err(vec![ImportError::Combination { message }]);
    if records.len() > 1 {
        let names: Vec<_> = records.iter().map(|r| r.0.as_str()).collect();
        return combination(format!(
            "{} hold records; drop one records file at a time (with its embeddings and labels)",
            names.join(" and ")
        ));
    }
    if matrices.len() > 1 {
        let names: Vec<_> = matrices.iter().map(|m| m.0.as_str()).collect();
        return combination(format!(
            "{} are all embeddings; drop one embeddings file",
            names.join(" and ")
        ));
    }
    let mut sources = Vec::new();
    let matrix = matrices.pop();
    let dataset = match (records.pop(), matrix) {
        (Some((name, recs, inline)), matrix) => {
            sources.push(name.clone());
            let embeddings = match (inline, matrix) {
                (Some(_), Some((ename, _))) => {
                    return combination(format!(
                        "{name} already has an `embedding` in every record and {ename} holds \
                         embeddings too; drop only one of them"
                    ))
                }
                (Some(e), None) => Some(e),
                (None, Some((ename, e))) => {
                    check_rows(&ename, &e, recs.len(), &name)?;
                    sources.push(ename);
                    Some(e)
                }
                (None, None) => None,
            };
            Some(Dataset::new(name, recs, embeddings))
        }
        (None, Some((ename, e))) => match current {
            Some(cur) => {
                check_rows(&ename, &e, cur.len(), cur.name())?;
                sources.push(ename);
                Some(cur.with_embeddings(Some(e)))
            }
            None => {
                return combination(format!(
                    "{ename} holds embeddings but no records are loaded; drop it together with its records file"
                ))
            }
        },
        (None, None) => None,
    };
    let target = dataset.as_ref().or(current);
    for (name, file) in &label_files {
        match target {
            None => {
                return combination(format!(
                    "{name} is a label file but no records are loaded; drop it together with its records file"
                ))
            }
            Some(ds) => {
                let known = file.labels.iter().filter(|(id, _)| ds.position(id).is_some()).count();
                if known == 0 && !file.labels.is_empty() {
                    return Err(vec![ImportError::LabelFile {
                        file: name.clone(),
                        message: format!(
                            "none of its {} labels names a record of {} (ids such as `{}`); \
                             is it the label file of another data set?",
                            file.labels.len(),
                            ds.name(),
                            file.labels[0].0
                        ),
                    }]);
                }
            }
        }
    }
    if shares.len() > 1 {
        let names: Vec<&str> = shares.iter().map(|s| s.0.as_str()).collect();
        return combination(format!(
            "{} are shares; open one share at a time",
            names.join(" and ")
        ));
    }
    let share = match (shares.pop(), target) {
        (None, _) => None,
        (Some((name, _)), None) => {
            return combination(format!(
                "{name} is a share of a data set but no records are loaded; drop it together with its records file"
            ))
        }
        (Some((name, s)), Some(ds)) => match s.mismatch(ds) {
            Some(why) => {
                return Err(vec![ImportError::LabelFile {
                    file: name,
                    message: why,
                }])
            }
            None => Some(s),
        },
    };
    Ok(ImportPlan {
        mapping: mapping_used.filter(|_| dataset.is_some()),
        dataset,
        label_files,
        share,
        sources,
        warnings,
    })
}

/// A `.json` file that says it is a cotlabel mapping (in its first 256 bytes).
fn is_mapping_file(f: &InputFile) -> bool {
    f.name.to_ascii_lowercase().ends_with(".json")
        && f.bytes.trim_ascii_start().starts_with(b"{")
        && f.bytes[..f.bytes.len().min(256)]
            .windows(18)
            .any(|w| w == b"\"cotlabel-mapping\"")
}

fn check_rows(
    file: &str,
    e: &Embeddings,
    records: usize,
    records_file: &str,
) -> Result<(), Vec<ImportError>> {
    if e.rows() == records {
        Ok(())
    } else {
        Err(vec![ImportError::RowCount {
            file: file.to_string(),
            rows: e.rows(),
            records,
            records_file: records_file.to_string(),
        }])
    }
}

fn decode_text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        ImportError::Malformed {
            file: name.to_string(),
            line: 1 + good.iter().filter(|&&b| b == b'\n').count(),
            format: "text".into(),
            message: "the file is not UTF-8 text".into(),
        }
    })
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn json_error(
    file: &str,
    format: &str,
    line_offset: usize,
    e: &serde_json::Error,
    text: &str,
) -> ImportError {
    let mut message = json_message(e);
    // Python's json.dump writes NaN and Infinity, which JSON does not allow: say so.
    if let Some(l) = text.lines().nth(e.line().saturating_sub(1)) {
        let at = l.get(e.column().saturating_sub(1)..).unwrap_or("");
        let at = at.trim_start_matches(['-', '+']);
        if at.starts_with("NaN") || at.starts_with("Infinity") || at.starts_with("inf") {
            message =
                "NaN and Infinity are not JSON numbers (replace them with finite values)".into();
        }
    }
    ImportError::Malformed {
        file: file.to_string(),
        line: line_offset + e.line(),
        format: format.to_string(),
        message: format!("{message} (column {})", e.column()),
    }
}

/// Counts lines incrementally over increasing byte offsets of one text.
struct LineCounter<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }
    /// 1-based line of byte `offset` (offsets must not decrease between calls).
    fn line_of(&mut self, offset: usize) -> usize {
        self.line += self.text.as_bytes()[self.pos..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = offset;
        self.line
    }
    /// Line of a slice borrowed from the text.
    fn line_of_slice(&mut self, s: &str) -> usize {
        self.line_of(s.as_ptr() as usize - self.text.as_ptr() as usize)
    }
}

fn parse_json(
    name: &str,
    text: &str,
    mapping: Option<&Mapping>,
) -> Result<Parsed, Vec<ImportError>> {
    let first = text.trim_start().as_bytes()[0];
    match first {
        b'{' if Share::is_share(text) => Share::parse(name, text).map(Parsed::Share).map_err(|e| {
            vec![ImportError::LabelFile {
                file: name.to_string(),
                message: match e {
                    ShareError::File { message, .. } => message,
                    other => other.to_string(),
                },
            }]
        }),
        b'{' => LabelFile::parse(name, text).map(Parsed::Labels),
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| vec![json_error(name, "JSON", 0, &e, text)])?;
            let Some(head) = items.first() else {
                return Err(vec![ImportError::Empty {
                    file: name.to_string(),
                }]);
            };
            let mut lines = LineCounter::new(text);
            match head.get().as_bytes()[0] {
                b'[' => parse_json_matrix(name, &items, text)
                    .map(Parsed::Embeddings)
                    .map_err(|e| vec![e]),
                b'{' => {
                    // RawValue checks the syntax only: a number such as 1e999 is valid
                    // JSON that no f64 holds (found by fuzzing), so each item may still fail.
                    let mut objects = Vec::with_capacity(items.len());
                    for raw in &items {
                        let line = lines.line_of_slice(raw.get());
                        match serde_json::from_str::<Value>(raw.get()) {
                            Ok(v) => objects.push((line, v)),
                            Err(e) => {
                                return Err(vec![json_error(name, "JSON", line - 1, &e, raw.get())])
                            }
                        }
                    }
                    build_records(name, objects.into_iter(), mapping)
                }
                _ => Err(vec![ImportError::Malformed {
                    file: name.to_string(),
                    line: lines.line_of_slice(head.get()),
                    format: "JSON".into(),
                    message: "expected an array of record objects or of embedding rows".into(),
                }]),
            }
        }
        _ => Err(vec![ImportError::Malformed {
            file: name.to_string(),
            line: 1 + text[..text.len() - text.trim_start().len()]
                .matches('\n')
                .count(),
            format: "JSON".into(),
            message: "expected `[` (records or embeddings) or `{` (a label file)".into(),
        }]),
    }
}

fn parse_json_matrix(
    name: &str,
    items: &[&RawValue],
    text: &str,
) -> Result<Embeddings, ImportError> {
    let mut lines = LineCounter::new(text);
    let mut data = Vec::new();
    let mut dim = 0;
    for (i, raw) in items.iter().enumerate() {
        let line = lines.line_of_slice(raw.get());
        let row: Vec<Value> =
            serde_json::from_str(raw.get()).map_err(|_| ImportError::Malformed {
                file: name.to_string(),
                line,
                format: "JSON".into(),
                message: format!("embedding row {} is not an array of numbers", i + 1),
            })?;
        if i == 0 {
            dim = row.len();
            if dim == 0 {
                return Err(ImportError::zero_dimension(name));
            }
            data.reserve(dim * items.len());
        } else if row.len() != dim {
            return Err(ImportError::Dimension {
                file: name.into(),
                row: i + 1,
                expected: dim,
                found: row.len(),
            });
        }
        push_row(name, i + 1, line, "JSON", &row, &mut data)?;
    }
    Ok(Embeddings::new(items.len(), dim, data).expect("rows × dim values"))
}

/// Appends one row of JSON numbers as f32, refusing non-numbers and non-finite values.
fn push_row(
    file: &str,
    row: usize,
    line: usize,
    format: &str,
    values: &[Value],
    out: &mut Vec<f32>,
) -> Result<(), ImportError> {
    for (c, v) in values.iter().enumerate() {
        let Some(x) = v.as_f64() else {
            return Err(ImportError::Malformed {
                file: file.into(),
                line,
                format: format.into(),
                message: format!("embedding row {row}, column {}: {v} is not a number", c + 1),
            });
        };
        out.push(finite_f32(file, row, c + 1, x)?);
    }
    Ok(())
}

fn finite_f32(file: &str, row: usize, col: usize, x: f64) -> Result<f32, ImportError> {
    let y = x as f32;
    if y.is_finite() {
        Ok(y)
    } else {
        Err(ImportError::NonFinite {
            file: file.into(),
            row,
            col,
            value: format!("{x:?}"),
        })
    }
}

fn parse_jsonl(
    name: &str,
    text: &str,
    mapping: Option<&Mapping>,
) -> Result<Parsed, Vec<ImportError>> {
    // Lines are parsed as the records are built, so only one line's JSON value is held at
    // a time (a million-line file would otherwise hold every value at once). A malformed
    // line refuses the file whole, as before: its errors (at most MAX_ERRORS) replace what
    // was built.
    let errors = std::cell::RefCell::new(Vec::new());
    let mut lines = text.lines().enumerate();
    let mut objects = std::iter::from_fn(|| loop {
        if errors.borrow().len() >= MAX_ERRORS {
            return None;
        }
        let (i, line) = lines.next()?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => return Some((i + 1, v)),
            Err(e) => errors
                .borrow_mut()
                .push(json_error(name, "JSONL", i, &e, line)),
        }
    });
    let built = build_records(name, &mut objects, mapping);
    // the lines the build did not read (it stopped at its own errors) may be malformed
    objects.for_each(drop);
    let errors = errors.into_inner();
    if !errors.is_empty() {
        return Err(errors);
    }
    built
}

fn parse_csv(
    name: &str,
    text: &str,
    mapping: Option<&Mapping>,
) -> Result<Parsed, Vec<ImportError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
            _ => e.to_string(),
        };
        ImportError::Malformed {
            file: name.to_string(),
            line,
            format: "CSV".into(),
            message,
        }
    };
    let headers = reader.headers().map_err(|e| vec![csv_error(e)])?.clone();
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for row in reader.records() {
        match row {
            Ok(row) => {
                let line = row.position().map(|p| p.line() as usize).unwrap_or(0);
                let mut obj = Map::new();
                for (h, v) in headers.iter().zip(row.iter()) {
                    obj.insert(h.trim().to_string(), Value::String(v.to_string()));
                }
                objects.push((line, Value::Object(obj)));
            }
            Err(e) => {
                errors.push(csv_error(e));
                if errors.len() >= MAX_ERRORS {
                    break;
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if objects.is_empty() {
        return Err(vec![ImportError::Empty {
            file: name.to_string(),
        }]);
    }
    build_records(name, objects.into_iter(), mapping)
}

/// Turns (line, JSON value) pairs into records: fields, aliases, types, generated ids,
/// duplicate ids and inline embeddings, collecting up to [`MAX_ERRORS`] errors.
fn build_records(
    name: &str,
    objects: impl Iterator<Item = (usize, Value)>,
    mapping: Option<&Mapping>,
) -> Result<Parsed, Vec<ImportError>> {
    let mut objects = objects.peekable();
    if mapping.is_none() {
        if let Some((_, Value::Object(first))) = objects.peek() {
            if !crate::core::io::mapping::readable(first) {
                let rest: Vec<(usize, Value)> = objects.collect();
                let survey = Survey::of(name, rest.iter().filter_map(|(_, v)| v.as_object()));
                return Err(vec![ImportError::Unmapped {
                    file: name.to_string(),
                    survey: Box::new(survey),
                }]);
            }
        }
    }
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut inline: Vec<f32> = Vec::new();
    // (line of the first record, whether it had an embedding, dimension)
    let mut first_embedding: Option<(usize, bool, usize)> = None;
    for (n, (line, value)) in objects.enumerate() {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let Value::Object(mut obj) = value else {
            errors.push(ImportError::Malformed {
                file: name.into(),
                line,
                format: "record".into(),
                message: "expected a JSON object with the fields `question` and `cot`".into(),
            });
            continue;
        };
        if let Some(m) = mapping {
            m.apply(&mut obj);
        }
        let (record, embedding) = match record_from_object(name, line, n + 1, obj, &mut warnings) {
            Ok(r) => r,
            Err(mut e) => {
                errors.append(&mut e);
                continue;
            }
        };
        if let Some(first) = seen.insert(record.id.clone(), line) {
            seen.insert(record.id.clone(), first);
            errors.push(ImportError::DuplicateId {
                file: name.into(),
                id: record.id,
                first_line: first,
                second_line: line,
            });
            continue;
        }
        match (&first_embedding, embedding) {
            (None, e) => {
                let dim = e.as_ref().map_or(0, Vec::len);
                first_embedding = Some((line, e.is_some(), dim));
                inline.extend(e.unwrap_or_default());
            }
            (Some((_, true, dim)), Some(e)) if e.len() == *dim => inline.extend(e),
            (Some((_, true, dim)), Some(e)) => errors.push(ImportError::Dimension {
                file: name.into(),
                row: n + 1,
                expected: *dim,
                found: e.len(),
            }),
            (Some((first, true, _)), None) => errors.push(ImportError::BadField {
                file: name.into(),
                line,
                field: "embedding".into(),
                problem: format!(
                    "is missing here but given on line {first}; give an embedding in every record or in none"
                ),
            }),
            (Some((first, false, _)), Some(_)) => errors.push(ImportError::BadField {
                file: name.into(),
                line,
                field: "embedding".into(),
                problem: format!(
                    "is given here but not on line {first}; give an embedding in every record or in none"
                ),
            }),
            (Some((_, false, _)), None) => {}
        }
        records.push(record);
    }
    if !errors.is_empty() {
        errors.truncate(MAX_ERRORS);
        return Err(errors);
    }
    if records.is_empty() {
        return Err(vec![ImportError::Empty { file: name.into() }]);
    }
    let embeddings = match first_embedding {
        Some((_, true, dim)) => {
            if dim == 0 {
                return Err(vec![ImportError::zero_dimension(name)]);
            }
            Embeddings::new(records.len(), dim, inline)
        }
        _ => None,
    };
    warnings.truncate(MAX_ERRORS);
    Ok(Parsed::Records {
        records,
        embeddings,
        warnings,
    })
}

fn text_field(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => None,
    }
}

/// Records from `(row number, JSON object)` pairs that come from elsewhere than a file (an
/// Arrow table handed to the Python package, one object per row, numbered from 1): the
/// same fields, aliases, validation, generated ids, duplicate ids and inline embeddings as
/// a records file, with errors that name `name`, the row and the field. No mapping step:
/// rows that name no question and CoT are refused with [`ImportError::Unmapped`].
pub fn records_from_rows(
    name: &str,
    rows: impl Iterator<Item = (usize, Value)>,
) -> Result<Parsed, Vec<ImportError>> {
    build_records(name, rows, None)
}

/// One record from one JSON object (or CSV row, whose cells are all strings).
fn record_from_object(
    file: &str,
    line: usize,
    n: usize,
    mut obj: Map<String, Value>,
    warnings: &mut Vec<ImportError>,
) -> Result<(Record, Option<Vec<f32>>), Vec<ImportError>> {
    let mut errors = Vec::new();
    let bad = |field: &str, problem: &str| ImportError::BadField {
        file: file.into(),
        line,
        field: field.into(),
        problem: problem.into(),
    };
    let missing = |field: &str| ImportError::MissingField {
        file: file.into(),
        line,
        field: field.into(),
    };
    // An empty CSV cell (or JSON null) of an optional field means "absent".
    let mut optional = |obj: &mut Map<String, Value>, field: &str| -> Option<String> {
        match obj.shift_remove(field).as_ref().map(text_field) {
            None => None,
            Some(Some(v)) => v.filter(|s| !s.is_empty()),
            Some(None) => {
                errors.push(bad(field, "must be text"));
                None
            }
        }
    };
    // A reference answer that is not text (or a number) is ignored with a warning: it stays
    // in the record, untouched, and the record has no reference.
    for field in REFERENCE_ALIASES {
        if let Some(v @ (Value::Bool(_) | Value::Array(_) | Value::Object(_))) = obj.get(field) {
            let kind = match v {
                Value::Bool(_) => "true/false",
                Value::Array(_) => "a list",
                _ => "an object",
            };
            warnings.push(bad(
                field,
                &format!("is {kind}, not text; ignored (this record has no reference answer)"),
            ));
        }
    }
    // Fine-tuning shapes (chat messages, ShareGPT, Alpaca, prompt/completion): their
    // question and CoT are read from the turns, which stay in the record as they were.
    let mut found_answer = None;
    if !obj.contains_key("question") && !COT_ALIASES.iter().any(|k| obj.contains_key(*k)) {
        match crate::core::io::shapes::read(&obj) {
            Ok(Some(t)) => {
                obj.insert("question".into(), Value::String(t.question));
                obj.insert("cot".into(), Value::String(t.cot));
                found_answer = t.answer;
            }
            Ok(None) => {}
            Err((field, problem)) => return Err(vec![bad(field, &problem)]),
        }
    }
    let id = optional(&mut obj, "id").unwrap_or_else(|| format!("row-{n}"));
    let answer = optional(&mut obj, "answer").or(found_answer);
    let question_id = optional(&mut obj, "question_id");
    let question = match obj.shift_remove("question") {
        None | Some(Value::Null) => {
            errors.push(missing("question"));
            String::new()
        }
        Some(Value::String(s)) => s,
        Some(_) => {
            errors.push(bad("question", "must be text"));
            String::new()
        }
    };
    let cot_key = COT_ALIASES
        .iter()
        .find(|k| obj.get(**k).is_some_and(|v| !v.is_null()));
    let cot = match cot_key {
        None => {
            errors.push(missing("cot"));
            String::new()
        }
        Some(k) => match obj.shift_remove(*k) {
            Some(Value::String(s)) => s,
            _ => {
                errors.push(bad(k, "must be text"));
                String::new()
            }
        },
    };
    let is_correct = match obj.shift_remove("is_correct") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(x)) if x.as_f64() == Some(1.0) => Some(true),
        Some(Value::Number(x)) if x.as_f64() == Some(0.0) => Some(false),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "true" | "1" | "yes" | "y" | "t" => Some(true),
            "false" | "0" | "no" | "n" | "f" => Some(false),
            _ => {
                errors.push(bad(
                    "is_correct",
                    &format!("must be true or false, not `{s}`"),
                ));
                None
            }
        },
        Some(v) => {
            errors.push(bad(
                "is_correct",
                &format!("must be true or false, not {v}"),
            ));
            None
        }
    };
    let embedding = match obj.shift_remove("embedding") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => {
            // CSV cells carry the vector as JSON text: "[0.1, 0.2, ...]".
            let v = match v {
                Value::String(s) => serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s)),
                v => v,
            };
            match v {
                Value::Array(values) => {
                    let mut row = Vec::with_capacity(values.len());
                    match push_row(file, n, line, "record", &values, &mut row) {
                        Ok(()) => Some(row),
                        Err(e) => {
                            errors.push(e);
                            None
                        }
                    }
                }
                _ => {
                    errors.push(bad("embedding", "must be an array of numbers"));
                    None
                }
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let record = Record {
        id,
        question,
        cot,
        answer,
        question_id,
        is_correct,
        meta: obj,
    };
    Ok((record, embedding))
}

/// Where the data of a `.npy` file starts, after checking its magic, version, header length
/// and that the header's brackets nest at most three deep.
fn npy_header_end(bytes: &[u8]) -> Result<usize, String> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err("it does not start with the .npy magic bytes".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("format version {v} is not one of 1, 2, 3")),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or("the header is longer than the file")?;
    let mut depth = 0usize;
    for &b in &bytes[start..end] {
        match b {
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > 3 {
                    return Err("the header nests too deep to be a .npy header".into());
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // npyz multiplies the shape's dimensions unchecked (an overflow, found by fuzzing).
    let header = String::from_utf8_lossy(&bytes[start..end]);
    if let Some(dims) = header
        .find("'shape'")
        .and_then(|k| header[k..].find('(').map(|o| k + o + 1))
        .and_then(|o| header[o..].find(')').map(|c| &header[o..o + c]))
    {
        // whole numbers only (Python 2's `3L` too): npyz reads odd spellings such as
        // `868---292` as numbers, which then overflow
        let parsed: Option<Vec<u64>> = dims
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.strip_suffix('L').unwrap_or(d).parse::<u64>().ok())
            .collect();
        let Some(v) = parsed else {
            return Err(format!(
                "its shape ({dims}) is not a tuple of whole numbers"
            ));
        };
        let product = v.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        if product.is_none() {
            return Err(format!(
                "its shape ({dims}) has more values than a 64-bit count holds"
            ));
        }
    }
    Ok(end)
}

/// Reads a 2-D float32/float64 `.npy` matrix in C order.
pub fn parse_npy(name: &str, bytes: &[u8]) -> Result<Embeddings, ImportError> {
    let err = |message: String| ImportError::Npy {
        file: name.to_string(),
        message,
    };
    if bytes.is_empty() {
        return Err(ImportError::Empty {
            file: name.to_string(),
        });
    }
    // The header is checked here first: npyz's header parser takes exponential time on
    // deeply nested brackets (found by fuzzing), and a valid header nests two deep.
    let data_start =
        npy_header_end(bytes).map_err(|m| err(format!("not a valid .npy file ({m})")))?;
    let npy = npyz::NpyFile::new(bytes).map_err(|e| err(format!("not a valid .npy file ({e})")))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 {
        let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
        return Err(err(format!(
            "expected a 2-D array (records × dimension), found shape ({})",
            dims.join(", ")
        )));
    }
    if npy.order() == npyz::Order::Fortran {
        return Err(err("the array is in Fortran (column) order; save it with \
                        np.save(path, np.ascontiguousarray(a))"
            .into()));
    }
    let (rows, dim) = (shape[0] as usize, shape[1] as usize);
    if rows == 0 {
        return Err(ImportError::Empty {
            file: name.to_string(),
        });
    }
    if dim == 0 {
        return Err(ImportError::zero_dimension(name));
    }
    let descr = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => {
            return Err(err(format!(
                "unsupported dtype {other:?}; expected float32 or float64"
            )))
        }
    };
    let width = match &descr[1..] {
        "f4" => 4,
        "f8" => 8,
        _ => {
            return Err(err(format!(
                "dtype {descr} is not supported; expected float32 (<f4) or float64 (<f8)"
            )))
        }
    };
    let needed = (rows as u64)
        .saturating_mul(dim as u64)
        .saturating_mul(width);
    if needed > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            file: name.to_string(),
            bytes: needed,
            limit: MAX_FILE_BYTES,
        });
    }
    // Before allocating for the shape the header claims, check the bytes are there.
    let available = (bytes.len() - data_start) as u64;
    if needed > available {
        return Err(err(format!(
            "the data is shorter than its header's shape {rows} × {dim} says \
             ({available} bytes for {needed}); is the file truncated?"
        )));
    }
    let truncated = |e: std::io::Error| {
        err(format!("the data is shorter than its header's shape {rows} × {dim} says ({e}); is the file truncated?"))
    };
    // float32 values are checked where they lie (one copy of the matrix besides the file's
    // bytes: a 1.5 GB matrix took four before); float64 ones are narrowed
    let data: Vec<f32> = if width == 4 {
        let data = npy.into_vec::<f32>().map_err(truncated)?;
        for (k, &x) in data.iter().enumerate() {
            finite_f32(name, k / dim + 1, k % dim + 1, f64::from(x))?;
        }
        data
    } else {
        let values = npy.into_vec::<f64>().map_err(truncated)?;
        let mut data = Vec::with_capacity(values.len());
        for (k, &x) in values.iter().enumerate() {
            data.push(finite_f32(name, k / dim + 1, k % dim + 1, x)?);
        }
        data
    };
    Ok(Embeddings::new(rows, dim, data).expect("shape checked"))
}

/// Writes embeddings as a float32 little-endian C-order `.npy` file (for persistence).
pub fn write_npy(e: &Embeddings) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&[e.rows() as u64, e.dim() as u64])
        .writer(&mut out)
        .begin_nd()
        .expect("writing to memory");
    w.extend(e.as_slice().iter().copied())
        .expect("writing to memory");
    w.finish().expect("writing to memory");
    out
}

/// Reading a mapping file is part of the import (it fails with the import's errors); the
/// mapping itself lives in [`crate::core::io::mapping`].
impl Mapping {
    /// Reads a mapping file, checking its targets and that no field is used twice.
    pub fn parse(file: &str, text: &str) -> Result<Self, ImportError> {
        let bad = |message: String| ImportError::Mapping {
            file: file.to_string(),
            message,
        };
        let m: Mapping = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if m.format != "cotlabel-mapping" {
            return Err(bad(format!(
                "`format` is `{}`, not `cotlabel-mapping`",
                m.format
            )));
        }
        if m.version != 1 {
            return Err(bad(format!(
                "version {} is not supported (1 is)",
                m.version
            )));
        }
        m.check().map_err(bad)?;
        Ok(m)
    }
}
