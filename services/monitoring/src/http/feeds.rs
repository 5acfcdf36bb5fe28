//! Departmental feeds over HTTP: many records as a CSV body of `POST /v1/feeds/{source}`, read
//! row by row as the body arrives (memory bounded by one chunk of [`CHUNK`] rows and one line
//! of at most [`MAX_LINE`] bytes), applied chunk by chunk (`ops::feeds::apply_rows`) and
//! answered with a report.

use crate::domain::feeds::validate;
use crate::domain::Via;
use crate::ops::feeds::{apply_rows, ActionCounts, By, ChunkOutcome, Row};
use crate::state::State;
use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use chrono::NaiveDate;
use contract::{FeedRecord, FeedSource, HouseDamage};
use futures::{Stream, StreamExt};
use mesh::auth::allow;
use mesh::http::ApiError;
use mesh::http::Path;
use mesh::{Acting, Mesh, Role};
use policy::RegionCode;
use serde::Serialize;
use serde_json::json;

/// Rows matched and applied per transaction.
pub const CHUNK: usize = 2000;
/// The longest CSV line accepted, in bytes; a longer one is rejected without being kept.
pub const MAX_LINE: usize = 4096;
/// Rejected rows listed in a report; beyond these only the count goes on.
pub const MAX_REJECTIONS_LISTED: usize = 1000;

pub fn routes(state: State) -> Router<Mesh> {
    Router::new()
        .route(
            "/v1/feeds/{source}",
            post(post_feed).layer(allow(&[Role::CitySupervisor])),
        )
        .with_state(state)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejected {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    pub reason: String,
}

/// What a feed did: rows read, matched, actions taken, rejected rows with their reasons.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub source: FeedSource,
    /// Data rows read (the header and blank lines not counted).
    pub rows_read: u64,
    /// Valid rows not seen before: compared and acted on.
    pub applied: u64,
    /// Valid rows whose record (source + record id) was already applied, by a message or a file.
    pub duplicates: u64,
    /// Applied rows whose person is in the low-income population database.
    pub matched: u64,
    /// Applied rows whose person is not (or no longer) assisted.
    pub not_covered: u64,
    pub actions: ActionCounts,
    pub rejected_count: u64,
    /// The first [`MAX_REJECTIONS_LISTED`] rejected rows, by line.
    pub rejected: Vec<Rejected>,
    pub rejected_truncated: bool,
}

impl FeedReport {
    pub fn new(source: FeedSource) -> Self {
        Self {
            source,
            rows_read: 0,
            applied: 0,
            duplicates: 0,
            matched: 0,
            not_covered: 0,
            actions: ActionCounts::default(),
            rejected_count: 0,
            rejected: Vec::new(),
            rejected_truncated: false,
        }
    }

    fn reject(&mut self, line: u64, record_id: Option<String>, reason: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_REJECTIONS_LISTED {
            self.rejected.push(Rejected {
                line,
                record_id,
                reason,
            });
        } else {
            self.rejected_truncated = true;
        }
    }

    fn add(&mut self, c: &ChunkOutcome) {
        self.applied += c.applied;
        self.duplicates += c.duplicates;
        self.matched += c.matched;
        self.not_covered += c.not_covered;
        self.actions.household_changed += c.actions.household_changed;
        self.actions.referrals += c.actions.referrals;
        self.actions.warnings += c.actions.warnings;
    }
}
/// A feed file posted by the city's supervisor: rows whose region lies outside the token's areas
/// are rejected; the supervisor is recorded with every record and named in the events and the
/// audit records the file causes.
async fn post_feed(
    AxState(state): AxState<State>,
    acting: Acting,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FeedReport>, ApiError> {
    let Some(source) = FeedSource::parse(&source) else {
        return Err(ApiError::NotFound(format!(
            "no such feed; feeds are {}",
            FeedSource::ALL.map(FeedSource::as_str).join(", ")
        )));
    };
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !csv {
        return Err(ApiError::BadRequest(
            "the body must be CSV (Content-Type: text/csv) with a header row".into(),
        ));
    }
    let report = ingest_csv(&state, source, &acting, &headers, body.into_data_stream()).await?;
    tracing::info!(
        source = %source,
        rows_read = report.rows_read,
        applied = report.applied,
        duplicates = report.duplicates,
        matched = report.matched,
        rejected = report.rejected_count,
        "Feed file compared."
    );
    Ok(Json(report))
}

/// Reads a CSV feed as it arrives and applies it chunk by chunk, for `acting` (rows outside its
/// areas are rejected; `headers` may state the purpose). The header must come first; a header
/// that is wrong fails the whole request before anything is applied.
pub async fn ingest_csv<S, E>(
    state: &State,
    source: FeedSource,
    acting: &Acting,
    headers: &HeaderMap,
    body: S,
) -> Result<FeedReport, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let by = By::person(acting.actor(), headers);
    let in_area = |r: FeedRecord| {
        if acting.covers(r.region_code.as_str()) {
            Ok(r)
        } else {
            Err("region_code: outside the areas of the access token".to_owned())
        }
    };
    let today = state.mesh.today();
    let mut report = FeedReport::new(source);
    let mut lines = Lines::new(body);
    let columns = loop {
        match lines.next().await? {
            None => {
                return Err(ApiError::BadRequest(
                    "the CSV body is empty: a header row is required".into(),
                ))
            }
            Some((_, Line::Text(t))) if t.trim().is_empty() => continue,
            Some((_, Line::Text(t))) => break Columns::parse(t.trim_start_matches('\u{feff}'))?,
            Some((_, Line::Bad(reason))) => {
                return Err(ApiError::BadRequest(format!("the header row {reason}")))
            }
        }
    };
    let mut chunk: Vec<Row> = Vec::with_capacity(CHUNK);
    while let Some((line, text)) = lines.next().await? {
        let parsed = match text {
            Line::Text(t) if t.trim().is_empty() => continue,
            Line::Text(t) => columns.record(&t),
            Line::Bad(reason) => Err(reason),
        };
        report.rows_read += 1;
        match parsed
            .and_then(|r| validate(source, &r, &state.policy, today))
            .and_then(in_area)
        {
            Ok(record) => chunk.push(Row { line, record }),
            Err(reason) => {
                let record_id = columns.record_id_of(&lines.last);
                report.reject(line, record_id, reason);
            }
        }
        if chunk.len() >= CHUNK {
            flush(state, source, &mut chunk, &mut report, &by, today).await?;
        }
    }
    flush(state, source, &mut chunk, &mut report, &by, today).await?;
    Ok(report)
}

async fn flush(
    state: &State,
    source: FeedSource,
    chunk: &mut Vec<Row>,
    report: &mut FeedReport,
    by: &By,
    today: NaiveDate,
) -> Result<(), ApiError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let mut tx = state.mesh.db.begin().await?;
    let done = apply_rows(state, &mut tx, source, chunk, Via::Csv, None, by, today)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    tx.commit().await?;
    report.add(&done);
    chunk.clear();
    Ok(())
}

/// The columns of a feed file, by their header names (those of [`FeedRecord`]).
struct Columns {
    index: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    RecordId,
    IdNumber,
    RegionCode,
    OccurredOn,
    Illness,
    HouseDamage,
    Displaced,
    DisabilityGrade,
}

impl Columns {
    fn parse(header: &str) -> Result<Columns, ApiError> {
        let names = split_csv(header)
            .map_err(|reason| ApiError::BadRequest(format!("the header row {reason}")))?;
        let mut index = Vec::new();
        for n in names {
            let f = match n.trim() {
                "record_id" => Field::RecordId,
                "id_number" => Field::IdNumber,
                "region_code" => Field::RegionCode,
                "occurred_on" => Field::OccurredOn,
                "illness" => Field::Illness,
                "house_damage" => Field::HouseDamage,
                "displaced" => Field::Displaced,
                "disability_grade" => Field::DisabilityGrade,
                _ => {
                    return Err(ApiError::BadRequest(
                        "the header names an unknown column; columns are record_id, id_number, region_code, occurred_on, illness, house_damage, displaced, disability_grade".into()
                    ));
                }
            };
            if index.contains(&f) {
                return Err(ApiError::BadRequest(format!(
                    "the header names column {} twice",
                    n.trim()
                )));
            }
            index.push(f);
        }
        for required in [
            Field::RecordId,
            Field::IdNumber,
            Field::RegionCode,
            Field::OccurredOn,
        ] {
            if !index.contains(&required) {
                return Err(ApiError::BadRequest(
                    "the header must name record_id, id_number, region_code and occurred_on".into(),
                ));
            }
        }
        Ok(Columns { index })
    }

    fn record_id_of(&self, line: &str) -> Option<String> {
        let i = self.index.iter().position(|f| *f == Field::RecordId)?;
        let fields = split_csv(line).ok()?;
        let id = fields.get(i)?.trim();
        (!id.is_empty() && id.len() <= 64).then(|| id.to_owned())
    }

    fn record(&self, line: &str) -> Result<FeedRecord, String> {
        let fields = split_csv(line)?;
        if fields.len() != self.index.len() {
            return Err(format!(
                "has {} fields where the header has {}",
                fields.len(),
                self.index.len()
            ));
        }
        /// The record as its fields are read; the region is parsed where its field is read.
        struct Draft {
            record_id: String,
            id_number: String,
            region_code: Option<RegionCode>,
            occurred_on: NaiveDate,
            illness: Option<String>,
            house_damage: Option<HouseDamage>,
            displaced: bool,
            disability_grade: Option<u8>,
        }
        let mut r = Draft {
            record_id: String::new(),
            id_number: String::new(),
            region_code: None,
            occurred_on: NaiveDate::MIN,
            illness: None,
            house_damage: None,
            displaced: false,
            disability_grade: None,
        };
        for (f, v) in self.index.iter().zip(fields) {
            let v = v.trim();
            match f {
                Field::RecordId => r.record_id = v.to_owned(),
                Field::IdNumber => r.id_number = v.to_owned(),
                Field::RegionCode => {
                    r.region_code =
                        Some(RegionCode::parse(v).map_err(|e| format!("region_code: {e}"))?)
                }
                Field::OccurredOn => {
                    r.occurred_on = v
                        .parse()
                        .map_err(|_| "occurred_on: is not a date (YYYY-MM-DD)".to_owned())?
                }
                Field::Illness => r.illness = (!v.is_empty()).then(|| v.to_owned()),
                Field::HouseDamage if v.is_empty() => {}
                Field::HouseDamage => {
                    r.house_damage = Some(serde_json::from_value::<HouseDamage>(json!(v)).map_err(
                        |_| {
                            "house_damage: is not one of none, damaged, severely_damaged, collapsed"
                                .to_owned()
                        },
                    )?)
                }
                Field::Displaced => {
                    r.displaced = match v {
                        "" | "false" | "0" | "no" => false,
                        "true" | "1" | "yes" => true,
                        _ => return Err("displaced: is not true or false".into()),
                    }
                }
                Field::DisabilityGrade if v.is_empty() => {}
                Field::DisabilityGrade => {
                    r.disability_grade = Some(
                        v.parse()
                            .map_err(|_| "disability_grade: is not a grade 1 to 4".to_owned())?,
                    )
                }
            }
        }
        Ok(FeedRecord {
            record_id: r.record_id,
            id_number: r.id_number,
            region_code: r
                .region_code
                .ok_or_else(|| "region_code: is required".to_owned())?,
            occurred_on: r.occurred_on,
            illness: r.illness,
            house_damage: r.house_damage,
            displaced: r.displaced,
            disability_grade: r.disability_grade,
        })
    }
}

/// A data line of a feed body: its number, and its record or why it is refused.
pub type ReadLine = (u64, Result<FeedRecord, String>);

/// Reads a feed CSV `body` as `POST /v1/feeds/{source}` does, arriving in pieces of `chunk`
/// bytes, without comparing it with anything: the header's error, or each data line's record or
/// the reason it is refused, by line number. For the fuzz target (`tests/fuzz`) and tests; it
/// must answer every input without panicking.
pub fn read_csv(body: &[u8], chunk: usize) -> Result<Vec<ReadLine>, String> {
    use futures::FutureExt as _;
    let pieces: Vec<Result<Bytes, std::convert::Infallible>> = body
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut lines = Lines::new(futures::stream::iter(pieces));
    let read = async {
        let columns = loop {
            match lines.next().await.map_err(|e| e.to_string())? {
                None => return Err("the CSV body is empty".to_owned()),
                Some((_, Line::Text(t))) if t.trim().is_empty() => continue,
                Some((_, Line::Text(t))) => {
                    break Columns::parse(t.trim_start_matches('\u{feff}'))
                        .map_err(|e| e.to_string())?
                }
                Some((_, Line::Bad(reason))) => return Err(format!("the header row {reason}")),
            }
        };
        let mut out = Vec::new();
        while let Some((line, text)) = lines.next().await.map_err(|e| e.to_string())? {
            match text {
                Line::Text(t) if t.trim().is_empty() => continue,
                Line::Text(t) => out.push((line, columns.record(&t))),
                Line::Bad(reason) => out.push((line, Err(reason))),
            }
        }
        Ok(out)
    };
    // Every piece is at hand, so the reading never waits.
    read.now_or_never()
        .unwrap_or_else(|| Err("the body could not be read at once".to_owned()))
}

/// Fields of one CSV line (RFC 4180 quoting, no line breaks inside a field).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                ',' => {
                    out.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '"' if field.is_empty() && !was_quoted => {
                    quoted = true;
                    was_quoted = true;
                }
                '"' => return Err("has a quote inside an unquoted field".into()),
                _ if was_quoted => {
                    return Err("has a character after a closing quote".into());
                }
                c => field.push(c),
            }
        }
    }
    if quoted {
        return Err("has a quoted field that does not end on the line".into());
    }
    out.push(field);
    Ok(out)
}

/// One line of the body.
enum Line {
    Text(String),
    /// A line that cannot be read, with the reason.
    Bad(String),
}

/// Lines of a byte stream, as they arrive; at most one body chunk and [`MAX_LINE`] bytes of an
/// unfinished line are held.
struct Lines<S> {
    body: S,
    buf: Vec<u8>,
    /// Where the unread part of `buf` begins.
    pos: usize,
    /// The current line is too long: its bytes are skipped up to its end.
    skipping: bool,
    line: u64,
    done: bool,
    /// The last line returned (for the record id of a rejected row).
    last: String,
}

impl<S> Lines<S> {
    fn new(body: S) -> Self {
        Self {
            body,
            buf: Vec::new(),
            pos: 0,
            skipping: false,
            line: 0,
            done: false,
            last: String::new(),
        }
    }
}

impl<S, E> Lines<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn next(&mut self) -> Result<Option<(u64, Line)>, ApiError> {
        loop {
            if let Some(n) = self.buf[self.pos..].iter().position(|b| *b == b'\n') {
                let (from, to) = (self.pos, self.pos + n);
                self.pos = to + 1;
                let line = self.finish(from, to);
                return Ok(Some(line));
            }
            // No end of line in what is left: keep only that, and only if it can still be a line.
            self.buf.drain(..self.pos);
            self.pos = 0;
            if self.buf.len() > MAX_LINE {
                self.buf.clear();
                self.skipping = true;
            }
            if self.done {
                if self.buf.is_empty() && !self.skipping {
                    return Ok(None);
                }
                let to = self.buf.len();
                self.pos = to;
                return Ok(Some(self.finish(0, to)));
            }
            match self.body.next().await {
                Some(Ok(chunk)) if self.skipping => {
                    if let Some(n) = chunk.iter().position(|b| *b == b'\n') {
                        // The rest of the long line is dropped; what follows is kept.
                        self.buf.extend_from_slice(&chunk[n + 1..]);
                        return Ok(Some(self.finish(0, 0)));
                    }
                }
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(ApiError::BadRequest(format!(
                        "the body could not be read to its end: {e}"
                    )))
                }
                None => self.done = true,
            }
        }
    }

    /// The line `buf[from..to]` (without its newline), or the long line being skipped.
    fn finish(&mut self, from: usize, to: usize) -> (u64, Line) {
        self.line += 1;
        self.last.clear();
        if self.skipping {
            self.skipping = false;
            return (
                self.line,
                Line::Bad(format!("is longer than {MAX_LINE} bytes")),
            );
        }
        let mut bytes = &self.buf[from..to];
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        if bytes.len() > MAX_LINE {
            return (
                self.line,
                Line::Bad(format!("is longer than {MAX_LINE} bytes")),
            );
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                self.last.push_str(s);
                (self.line, Line::Text(s.to_owned()))
            }
            Err(_) => (self.line, Line::Bad("is not UTF-8".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: &[&str]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::copy_from_slice(p.as_bytes())))
                .collect::<Vec<_>>(),
        )
    }

    async fn all_lines(parts: &[&str]) -> Vec<(u64, Result<String, String>)> {
        let mut l = Lines::new(stream(parts));
        let mut out = Vec::new();
        while let Some((n, line)) = l.next().await.unwrap() {
            out.push((
                n,
                match line {
                    Line::Text(t) => Ok(t),
                    Line::Bad(r) => Err(r),
                },
            ));
        }
        out
    }

    #[tokio::test]
    async fn lines_are_read_across_chunks_and_long_lines_are_rejected_not_kept() {
        let long = "x".repeat(MAX_LINE * 3);
        let got = all_lines(&["a,b\r\nc", ",d\n", &long, &long, "\nlast"]).await;
        assert_eq!(got[0], (1, Ok("a,b".into())));
        assert_eq!(got[1], (2, Ok("c,d".into())));
        assert_eq!(got[2].0, 3);
        assert!(got[2].1.as_ref().unwrap_err().contains("longer"));
        assert_eq!(got[3], (4, Ok("last".into())));
        assert_eq!(got.len(), 4);
    }

    #[tokio::test]
    async fn a_long_line_inside_one_chunk_and_bytes_that_are_not_utf8_are_rejected() {
        let long = "y".repeat(MAX_LINE + 1);
        let mut l = Lines::new(futures::stream::iter(vec![Ok::<_, std::io::Error>(
            Bytes::from(
                [
                    b"a\n".as_slice(),
                    long.as_bytes(),
                    b"\n\xff\xfe\nb".as_slice(),
                ]
                .concat(),
            ),
        )]));
        let mut got = Vec::new();
        while let Some((n, line)) = l.next().await.unwrap() {
            got.push(match line {
                Line::Text(t) => format!("{n}:{t}"),
                Line::Bad(r) => format!("{n}!{r}"),
            });
        }
        assert_eq!(
            got,
            [
                "1:a".to_owned(),
                format!("2!is longer than {MAX_LINE} bytes"),
                "3!is not UTF-8".to_owned(),
                "4:b".to_owned()
            ]
        );
    }

    #[test]
    fn csv_fields_follow_rfc_4180_quoting() {
        assert_eq!(
            split_csv("a,\"b,c\",\"d\"\"e\",").unwrap(),
            vec!["a", "b,c", "d\"e", ""]
        );
        assert!(split_csv("a,\"b").is_err());
        assert!(split_csv("a,b\"c").is_err());
    }

    #[test]
    fn a_body_reads_the_same_in_pieces_of_any_size() {
        let body = "\u{feff}record_id,id_number,region_code,occurred_on\r\nr-1,410102198001010011,410102001,2026-01-02\n\nr-2,x,4101,2026-01-02\n";
        let whole = read_csv(body.as_bytes(), body.len()).unwrap();
        assert_eq!(whole.len(), 2, "{whole:?}");
        assert_eq!(whole[0].0, 2);
        assert!(whole[0].1.is_ok(), "{whole:?}");
        assert!(
            whole[1].1.as_ref().unwrap_err().contains("region_code"),
            "{whole:?}"
        );
        for chunk in 1..body.len() {
            let pieces = read_csv(body.as_bytes(), chunk).unwrap();
            assert_eq!(
                format!("{pieces:?}"),
                format!("{whole:?}"),
                "pieces of {chunk}"
            );
        }
        assert!(read_csv(b"", 7).is_err());
        assert!(read_csv(b"record_id,bogus\n", 7)
            .unwrap_err()
            .contains("unknown column"));
    }

    #[test]
    fn a_row_is_read_by_the_header_names() {
        let c =
            Columns::parse("id_number,record_id,region_code,occurred_on,house_damage,displaced")
                .unwrap();
        let r = c
            .record("410102198001010011,r-9,410102001,2026-01-02,collapsed,true")
            .unwrap();
        assert_eq!(r.record_id, "r-9");
        assert_eq!(r.house_damage, Some(HouseDamage::Collapsed));
        assert!(r.displaced);
        assert!(c.record("a,b").unwrap_err().contains("fields"));
        assert!(c
            .record("x,r,410102001,2026-13-01,,")
            .unwrap_err()
            .contains("occurred_on"));
        assert!(Columns::parse("record_id,id_number").is_err());
        assert!(Columns::parse("record_id,id_number,region_code,occurred_on,name").is_err());
    }
}
