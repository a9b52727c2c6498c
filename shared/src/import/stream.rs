//! A batch read as a stream: the seed's array, one element at a time, so an uploaded batch of
//! 50,000 transactions is never held whole. [`count`] reads it once to check it is a batch (and
//! how large) before anything is written; [`windows`] reads it again, on a blocking thread, and
//! hands the import [`WINDOW`] raw transactions at a time, at most one window ahead.

use std::io::Read;
use std::path::PathBuf;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::service::{BatchError, MAX_TRANSACTIONS};

/// Transactions imported together: assessed, checked for duplicates, their documents fetched and
/// their records written before the next window is read. A multiple of the result chunk (200)
/// and of the records written at once (100), so windows never split either.
pub const WINDOW: usize = 1_000;

/// How many elements the batch holds, or why it is not a batch (not JSON, not an array of 1 to
/// [`MAX_TRANSACTIONS`]). Holds one element at a time: each is read as the import will read it
/// (as raw JSON, which checks its text is UTF-8), so a batch that counts is one that imports.
pub fn count(reader: impl Read) -> Result<usize, BatchError> {
    each::<Box<RawValue>>(reader, |_| Ok(()))
}

/// The batch's elements in windows of [`WINDOW`], parsed from the file at `path` on a blocking
/// thread; an error ends the stream. Dropping the receiver stops the thread at its next window.
pub fn windows(path: PathBuf) -> mpsc::Receiver<Result<Vec<Box<RawValue>>, BatchError>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::task::spawn_blocking(move || {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(BatchError::Objects(crate::objects::ObjectError::Backend(e.to_string()))));
                return;
            }
        };
        let mut window = Vec::with_capacity(WINDOW);
        let read = each::<Box<RawValue>>(std::io::BufReader::with_capacity(1 << 16, file), |e| {
            window.push(e);
            if window.len() == WINDOW {
                let full = std::mem::replace(&mut window, Vec::with_capacity(WINDOW));
                // The import stopped reading (it failed): nobody wants the rest.
                tx.blocking_send(Ok(full)).map_err(|_| {
                    BatchError::Objects(crate::objects::ObjectError::Backend("the import stopped reading".into()))
                })?;
            }
            Ok(())
        });
        let last = match read {
            Ok(_) if window.is_empty() => return,
            Ok(_) => Ok(window),
            Err(e) => Err(e),
        };
        let _ = tx.blocking_send(last);
    });
    rx
}

/// Reads the array from `reader`, handing each element to `f`; the count, or why it is not a
/// batch. Stops at the first element past [`MAX_TRANSACTIONS`], or at `f`'s first error.
pub fn each<T: DeserializeOwned>(
    reader: impl Read,
    f: impl FnMut(T) -> Result<(), BatchError>,
) -> Result<usize, BatchError> {
    let mut stop = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let read = de.deserialize_any(Elements { f, stop: &mut stop, _t: std::marker::PhantomData });
    if let Some(why) = stop {
        return Err(why);
    }
    let n = match read {
        Ok(Some(n)) => n,
        // A document that is JSON but no array is still read to its end: broken JSON is NotJson.
        Ok(None) => {
            de.end().map_err(|e| BatchError::NotJson(e.to_string()))?;
            return Err(BatchError::NotArray);
        }
        Err(e) => return Err(BatchError::NotJson(e.to_string())),
    };
    de.end().map_err(|e| BatchError::NotJson(e.to_string()))?;
    if n == 0 {
        return Err(BatchError::NotArray);
    }
    Ok(n)
}

/// The top-level value: an array's element count, `None` for any other JSON value.
struct Elements<'s, T, F> {
    f: F,
    stop: &'s mut Option<BatchError>,
    _t: std::marker::PhantomData<T>,
}

impl<'de, T: DeserializeOwned, F: FnMut(T) -> Result<(), BatchError>> Visitor<'de> for Elements<'_, T, F> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of transactions")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut n = 0;
        while let Some(e) = seq.next_element::<T>()? {
            n += 1;
            let read = if n > MAX_TRANSACTIONS { Err(BatchError::NotArray) } else { (self.f)(e) };
            if let Err(why) = read {
                *self.stop = Some(why);
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(Some(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
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
            got.extend(w.into_iter().map(|r| r.get().to_string()));
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
