//! A batch read as a stream: the seed's array, one element at a time, so an uploaded batch of
//! 50,000 transactions is never held whole. [`count`] reads it once to check it is a batch (and
//! how large) before anything is written; [`windows`] reads it again, on a blocking thread, and
//! hands the import [`WINDOW`] raw transactions at a time, at most one window ahead.

use std::io::Read;
use std::path::PathBuf;

use tokio::sync::mpsc;

use super::model::{BatchError, MAX_TRANSACTIONS};
use crate::fields::{Raw, Raws, Tape};
use crate::objects::ObjectError;

/// Transactions imported together: assessed, checked for duplicates, their documents fetched and
/// their records written before the next window is read. A multiple of the result chunk (200)
/// and of the records written at once (100), so windows never split either.
pub const WINDOW: usize = 1_000;

/// The largest transaction an upload may hold: a single-transaction request's limit. A larger
/// one rejects the batch as a whole (it would have to be held whole to be read).
pub const MAX_TRANSACTION_BYTES: usize = 1 << 20;

/// How many elements the batch holds, or why it is not a batch (not JSON, not an array of 1 to
/// [`MAX_TRANSACTIONS`]). Holds one element at a time: each is checked as the import will read
/// it, so a batch that counts is one that imports.
pub fn count(reader: impl Read) -> Result<usize, BatchError> {
    each(reader, |_| Ok(()))
}

/// The batch's elements in windows of [`WINDOW`], parsed from the file at `path` on a blocking
/// thread; an error ends the stream. Dropping the receiver stops the thread at its next window.
pub fn windows(path: PathBuf) -> mpsc::Receiver<Result<Raws, BatchError>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let read = std::fs::File::open(&path)
            .map_err(|e| BatchError::Objects(ObjectError::Backend(e.to_string())))
            .and_then(|file| {
                each_window(file, |window| {
                    // The import stopped reading (it failed): nobody wants the rest.
                    tx.blocking_send(Ok(window))
                        .map_err(|_| BatchError::Objects(ObjectError::Backend("the import stopped reading".into())))
                })
            });
        if let Err(e) = read {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// Reads the array from `reader`, handing `send` its elements a window of [`WINDOW`] at a time
/// (the last one shorter); the count, or why it is not a batch (see [`each`]).
pub fn each_window(
    reader: impl Read,
    mut send: impl FnMut(Raws) -> Result<(), BatchError>,
) -> Result<usize, BatchError> {
    let mut window = Raws::with_capacity(WINDOW, 0);
    let n = each(reader, |e| {
        window.push(e);
        if window.len() == WINDOW {
            // The next window sized as this one was: no growing on the way.
            let next = Raws::with_capacity(WINDOW, window.bytes());
            send(std::mem::replace(&mut window, next))?;
        }
        Ok(())
    })?;
    if !window.is_empty() {
        send(window)?;
    }
    Ok(n)
}

/// Reads the array from `reader`, handing each element to `f` as checked raw JSON; the count, or
/// why it is not a batch. Stops at the first element past [`MAX_TRANSACTIONS`], or at `f`'s
/// first error.
///
/// The array is split into its elements by a scan that only follows strings and brackets (fast,
/// one buffer of 64 KiB); each element is then checked on its own bytes as every API checks a
/// body ([`Raw::parse`]: no duplicate names, no lone surrogate, in one pass), so the batch is
/// read exactly as strictly as a whole-document parse.
pub fn each(reader: impl Read, mut f: impl FnMut(Raw<'_>) -> Result<(), BatchError>) -> Result<usize, BatchError> {
    let mut r = Scanner { inner: reader, buf: vec![0; 1 << 16], pos: 0, len: 0, offset: 0 };
    match r.skip_whitespace()? {
        Some(b'[') => r.advance(1),
        Some(_) => return Err(r.not_an_array()),
        None => return Err(BatchError::NotJson("EOF while parsing a value at byte 0".into())),
    }
    let mut n = 0;
    let mut element = Vec::new();
    let mut tape = Tape::new();
    if r.skip_whitespace()? == Some(b']') {
        r.advance(1);
        r.end()?;
        return Err(BatchError::NotArray);
    }
    loop {
        // An element the buffer holds whole, which the one pass vouches for, is read where it
        // lies; any other (one that runs past the buffer, or that the pass cannot vouch for) is
        // copied out and checked on its own -- the same answer and the same messages either way.
        if let Some((raw, len)) = Raw::parse_item(&r.buf[r.pos..r.len], &mut tape) {
            one_more(&mut n)?;
            f(raw)?;
            r.advance(len);
        } else {
            element.clear();
            r.element(&mut element, n + 1)?;
            one_more(&mut n)?;
            let raw =
                Raw::parse(&element, &mut tape).map_err(|e| BatchError::NotJson(format!("transaction {n}: {e}")))?;
            f(raw)?;
        }
        match r.skip_whitespace()? {
            Some(b',') => r.advance(1),
            Some(b']') => {
                r.advance(1);
                break;
            }
            Some(_) => return Err(r.error("expected ',' or ']'")),
            None => return Err(r.error("EOF while parsing the array")),
        }
        if r.skip_whitespace()? == Some(b']') {
            return Err(r.error("trailing comma"));
        }
    }
    r.end()?;
    Ok(n)
}

/// Counts one more element: a batch of more than [`MAX_TRANSACTIONS`] is not one.
fn one_more(n: &mut usize) -> Result<(), BatchError> {
    *n += 1;
    if *n > MAX_TRANSACTIONS {
        return Err(BatchError::NotArray);
    }
    Ok(())
}

/// A buffered reader that finds where each element of a JSON array ends.
struct Scanner<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes consumed before `buf[pos]`, for messages.
    offset: usize,
}

impl<R: Read> Scanner<R> {
    fn fill(&mut self) -> Result<(), BatchError> {
        if self.pos == self.len {
            self.len = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(BatchError::Objects(ObjectError::Backend(e.to_string()))),
                }
            };
            self.pos = 0;
        }
        Ok(())
    }

    fn advance(&mut self, n: usize) {
        self.pos += n;
        self.offset += n;
    }

    fn error(&self, what: &str) -> BatchError {
        BatchError::NotJson(format!("{what} at byte {}", self.offset))
    }

    /// Skips JSON whitespace; the next byte, `None` at the end.
    fn skip_whitespace(&mut self) -> Result<Option<u8>, BatchError> {
        loop {
            self.fill()?;
            if self.len == 0 {
                return Ok(None);
            }
            match self.buf[self.pos..self.len].iter().position(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t')) {
                Some(i) => {
                    self.advance(i);
                    return Ok(Some(self.buf[self.pos]));
                }
                None => self.advance(self.len - self.pos),
            }
        }
    }

    /// Only whitespace may follow the array.
    fn end(&mut self) -> Result<(), BatchError> {
        match self.skip_whitespace()? {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// Copies the bytes of the element that starts here (element `n`) into `out`: up to the end
    /// of its string or its closing bracket, or (a number or literal) up to the next `,`, `]` or
    /// whitespace. Whether the bytes are JSON is [`Raw::parse`]'s to say.
    fn element(&mut self, out: &mut Vec<u8>, n: usize) -> Result<(), BatchError> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            self.fill()?;
            if self.len == 0 {
                return Err(self.error("EOF while parsing the array"));
            }
            let chunk = &self.buf[self.pos..self.len];
            let mut end = None;
            let mut i = 0;
            while i < chunk.len() {
                let c = chunk[i];
                i += 1;
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if c == b'\\' {
                        escaped = true;
                    } else if c == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    } else {
                        // Most of a batch is text: jump to the string's next quote or backslash.
                        i += crate::json::quote_or_backslash(&chunk[i..]).unwrap_or(chunk.len() - i);
                    }
                    continue;
                }
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth == 0 => {
                        end = Some(i - 1);
                        break;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    b',' | b' ' | b'\n' | b'\r' | b'\t' if depth == 0 => {
                        end = Some(i - 1);
                        break;
                    }
                    _ => {}
                }
            }
            let take = end.unwrap_or(chunk.len());
            out.extend_from_slice(&chunk[..take]);
            self.advance(take);
            if out.len() > MAX_TRANSACTION_BYTES {
                return Err(BatchError::NotJson(format!(
                    "transaction {n} is larger than {MAX_TRANSACTION_BYTES} bytes"
                )));
            }
            if end.is_some() {
                return if out.is_empty() { Err(self.error("expected a value")) } else { Ok(()) };
            }
        }
    }

    /// The document does not start with `[`: not an array if it is JSON at all, else not JSON.
    fn not_an_array(self) -> BatchError {
        use serde::Deserialize as _;
        let rest = std::io::Cursor::new(self.buf[self.pos..self.len].to_vec()).chain(self.inner);
        let mut de = serde_json::Deserializer::from_reader(rest);
        match serde::de::IgnoredAny::deserialize(&mut de).and_then(|_| de.end()) {
            Ok(()) => BatchError::NotArray,
            Err(e) => BatchError::NotJson(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(text: &str) -> String {
        match count(text.as_bytes()) {
            Ok(n) => n.to_string(),
            Err(BatchError::NotArray) => "not array".into(),
            Err(BatchError::NotJson(_)) => "not json".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_batch_is_a_json_array_of_one_to_the_limit() {
        assert_eq!(counted(r#" [{"id": "1"}, {"id": [2, {"x": "]"}]}, 3] "#), "3");
        assert_eq!(counted("[]"), "not array");
        for other in [r#"{"a": [1]}"#, "1", "-1", "1.5", "\"[1]\"", "true", "null"] {
            assert_eq!(counted(other), "not array", "{other}");
        }
        for broken in ["", "[", "[1,]", "[1] x", "[1] [2]", r#"{"a": 1,}"#, "[\"\u{0}\"]", "nul"] {
            assert_eq!(counted(broken), "not json", "{broken:?}");
        }
        assert_eq!(counted(&format!("[{}0]", "0,".repeat(MAX_TRANSACTIONS - 1))), MAX_TRANSACTIONS.to_string());
        assert_eq!(counted(&format!("[{}0]", "0,".repeat(MAX_TRANSACTIONS))), "not array");
        assert!(matches!(count(&[b'[', b'"', 0xff, b'"', b']'][..]), Err(BatchError::NotJson(_))));
    }

    /// What a whole-document parse says of `doc`, in `counted`'s words.
    fn whole(doc: &[u8]) -> String {
        match crate::json::check(doc).map_err(|_| ()).and_then(|()| serde_json::from_slice(doc).map_err(|_| ())) {
            Err(()) => "not json".into(),
            Ok(serde_json::Value::Array(v)) if !v.is_empty() => v.len().to_string(),
            Ok(_) => "not array".into(),
        }
    }

    #[test]
    fn the_stream_reads_exactly_what_a_whole_document_parse_reads() {
        let long = "x".repeat(70_000);
        let docs: Vec<String> = vec![
            r#"["a\"]", {"x": "}\\"}, "[", "{", "\\"]"#.into(),
            r#"[[1, [2]], {"a": {"b": []}}, [], {}]"#.into(),
            "[1,2 ,3\n,\t4\r]".into(),
            r#"[-1.5e3, true, false, null, "s"]"#.into(),
            format!("[{}1]", " ".repeat(70_000)),
            format!(r#"[{{"long": "{long}"}}, "{long}"]"#),
            "[1,]".into(),
            "[,1]".into(),
            "[1 2]".into(),
            "[1]]".into(),
            "[1}".into(),
            "[{]}".into(),
            "[{\"a\" 1}]".into(),
            "[tru]".into(),
            "[truex]".into(),
            "[1.]".into(),
            "[01]".into(),
            r#"["unterminated]"#.into(),
            r#"["bad escape \q"]"#.into(),
            "[1,\n".into(),
            "\u{feff}[1]".into(),
            "  [ ]  ".into(),
            "[ ] ,".into(),
            r#"{"a": [1, 2]}"#.into(),
            r#""[1, 2]""#.into(),
        ];
        for doc in docs {
            assert_eq!(counted(&doc), whole(doc.as_bytes()), "{doc:?}");
        }
        for doc in [&b"[\"\xff\"]"[..], b"[1, \"\xc3\"]", b"[\"\xc3\xa9\"]"] {
            let got = match count(doc) {
                Ok(n) => n.to_string(),
                Err(BatchError::NotJson(_)) => "not json".into(),
                Err(e) => e.to_string(),
            };
            assert_eq!(got, whole(doc), "{doc:?}");
        }
        // A transaction too large to hold is refused, naming it.
        let big = format!(r#"[1, {{"x": "{}"}}]"#, "y".repeat(MAX_TRANSACTION_BYTES));
        match count(big.as_bytes()) {
            Err(BatchError::NotJson(m)) => assert!(m.contains("transaction 2 is larger than"), "{m}"),
            other => panic!("{:?}", other.map_err(|e| e.to_string())),
        }
    }

    /// A reader that hands over at most `step` bytes a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn elements_read_in_place_or_copied_out_are_the_same() {
        // Elements the one pass vouches for (read where they lie when the buffer holds them) and
        // elements it leaves to `check` (an escaped name, an exponent: always copied out).
        let items = [
            r#"{"id": "T1", "n": [1, -2.50, {"code": "POLIC", "url": "https://x/\u00e9?a=\"b\""}], "z": null}"#,
            r#"{"k\u0065y": 1}"#,
            "1e5",
            "-0.5",
            r#""s\n""#,
            "true",
            "[[], {}]",
        ];
        let doc = format!("[{}]", items.iter().cycle().take(70).copied().collect::<Vec<_>>().join(",\n "));
        for step in [1, 2, 3, 7, 40, 1 << 16] {
            let mut got = Vec::new();
            let n = each(Trickle(doc.as_bytes(), step), |raw| {
                got.push(raw.get().to_string());
                Ok(())
            })
            .unwrap();
            assert_eq!(n, 70, "step {step}");
            let want: Vec<String> = items.iter().cycle().take(70).map(|s| s.to_string()).collect();
            assert_eq!(got, want, "step {step}");
        }
        // The same errors, element by element, whichever way the element was read.
        for broken in ["[1, 2x]", r#"[{"a": 1, "a": 2}]"#, "[truex, 1]", r#"[{"a": "\ud800"}]"#] {
            let whole = count(broken.as_bytes()).map_err(|e| e.to_string());
            for step in [1, 3, 1 << 16] {
                assert_eq!(count(Trickle(broken.as_bytes(), step)).map_err(|e| e.to_string()), whole, "{broken}");
            }
            assert!(whole.is_err(), "{broken}");
        }
    }

    #[tokio::test]
    async fn windows_hand_over_every_element_in_order_and_end_with_an_error_when_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.json");
        let n = WINDOW * 2 + 7;
        let body: Vec<String> = (0..n).map(|i| format!(r#"{{"id": "{i}", "s": "a]b"}}"#)).collect();
        std::fs::write(&path, format!("[{}]", body.join(",\n"))).unwrap();
        let mut rx = windows(path.clone());
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Some(w) = rx.recv().await {
            let w = w.unwrap();
            sizes.push(w.len());
            got.extend(w.iter().map(|r| r.get().to_string()));
        }
        assert_eq!(sizes, vec![WINDOW, WINDOW, 7]);
        assert_eq!(got, body);

        std::fs::write(&path, format!("[{}, oops]", body[..WINDOW + 1].join(","))).unwrap();
        let mut rx = windows(path);
        let mut seen = Vec::new();
        while let Some(w) = rx.recv().await {
            seen.push(w.map(|w| w.len()).map_err(|e| matches!(e, BatchError::NotJson(_))));
        }
        assert_eq!(seen, vec![Ok(WINDOW), Err(true)]);
    }
}
