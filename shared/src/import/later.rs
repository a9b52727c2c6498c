//! Documents added to an imported transaction later, as the filing service's documents-only
//! import allows: the transaction named by its id or by its invoice number, the documents fetched
//! with the import's rules (the same fetcher, its address guards and limits) and stored under
//! the same keys, after those the transaction already has. A document already on the record (the
//! same code from the same URL) is not fetched again, so a retry adds nothing twice.

use super::documents::{discard, holds};
use super::importer::Importer;
use super::model::{status, Document, TxnRecord, TxnResult};
use super::transaction::documents;
use super::ImportError;
use crate::fields::{required, Empty, Mode, Raw, Report, Rules, Tape};

/// Which transaction the documents are for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Id(String),
    InvoiceNumber(String),
}

const RULES: Rules = Rules { mode: Mode::First, empty: Empty::Absent, numbers_as_text: true, code: "INVALID_INPUT" };

/// Reads `{transaction_documents: [{code, url, id?}]}` (1 to 50), and `invoice_number` when the
/// transaction is named by it (`by_invoice`). Problems name the field.
pub fn read(body: &[u8], by_invoice: bool) -> Result<(Option<String>, Vec<Document>), ImportError> {
    std::str::from_utf8(body).map_err(|_| ImportError::InvalidInput("the body is not UTF-8".into()))?;
    let mut tape = Tape::new();
    let raw = Raw::parse(body, &mut tape).map_err(ImportError::InvalidInput)?;
    let report = Report::new(RULES);
    let read = (|| {
        let Some(mut o) = report.open("", raw)? else {
            return report.refuse("", RULES.code, "must be an object {transaction_documents}");
        };
        let invoice = if by_invoice { o.string("invoice_number", required(), 255)? } else { None };
        if !o.has_items("transaction_documents") {
            o.problem("transaction_documents", required(), "must list 1 to 50 documents")?;
        }
        let docs = documents(&mut o)?;
        o.end()?;
        Ok((invoice, docs))
    })();
    report.finish(read).map_err(|problems| match problems.first() {
        Some(p) if p.path.is_empty() => ImportError::InvalidInput(p.message.clone()),
        Some(p) => ImportError::InvalidInput(format!("{} {}", p.path, p.message)),
        None => ImportError::InvalidInput("the body could not be read".into()),
    })
}

/// What adding documents came to: the record as it stands, and the seed's status (0, or 2002
/// with the document that could not be fetched; nothing was added then).
pub struct Added {
    pub record: TxnRecord,
    pub result: TxnResult,
}

impl Added {
    pub fn view(&self) -> serde_json::Value {
        let mut v = self.result.view();
        v["documents"] = self.record.view()["documents"].clone();
        v
    }
}

impl Importer {
    /// Adds `docs` to the imported transaction `target` names. Not imported (or an invoice
    /// number no imported transaction carries): 404; an invoice number on several: 400 (name
    /// the transaction by id).
    pub async fn add_documents(&self, target: &Target, docs: Vec<Document>) -> Result<Added, ImportError> {
        let repo = self.repo();
        let id = match target {
            Target::Id(id) => id.clone(),
            Target::InvoiceNumber(invoice) => match repo.by_invoice(invoice, None, 2).await?.0.as_slice() {
                [] => return Err(ImportError::NotFound("An imported transaction with this invoice number")),
                [one] => one.id.clone(),
                _ => {
                    return Err(ImportError::InvalidInput(
                        "invoice_number names several imported transactions: add documents by transaction id".into(),
                    ))
                }
            },
        };
        let Some((record, version)) = repo.imported_at(&id).await? else {
            return Err(ImportError::NotFound("The imported transaction"));
        };
        let new: Vec<Document> =
            docs.into_iter().filter(|d| !record.documents.iter().any(|s| holds(&s.key, d))).collect();
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(super::model::FETCH_CONCURRENCY));
        let deadline = self.ports.limits.budget.map(|b| tokio::time::Instant::now() + b);
        let stored = match self.store_all(&id, &new, record.documents.len(), &sem, deadline, false).await {
            Ok(stored) => stored,
            Err(message) => return Ok(added(record, status::DOCUMENT_FETCH, message)),
        };
        // Appended to the record as read; read again only when another request changed it
        // meanwhile (a version condition failed).
        let mut current = Some((record, version));
        for _ in 0..5 {
            let Some((mut record, version)) = current.take() else { break };
            for s in &stored {
                if !record.documents.iter().any(|d| d.key == s.key) {
                    record.documents.push(s.clone());
                }
            }
            if repo.replace_imported(&record, version).await? {
                return Ok(added(record, status::OK, "Success".into()));
            }
            current = repo.imported_at(&id).await?;
        }
        // Not recorded: what was stored goes (unless a record names it after all).
        discard(self.ports.objects.as_ref(), &repo, &id, stored.iter().map(|s| s.key.as_str())).await;
        Err(ImportError::Store(crate::store::StoreError::Contention))
    }
}

fn added(record: TxnRecord, status: u16, message: String) -> Added {
    let result = TxnResult {
        id: Some(record.id.clone()),
        policy_number: Some(record.policy_number.clone()),
        status,
        status_message: message,
        warnings: vec![],
        calculated: None,
    };
    Added { record, result }
}
