"""Every import operation through a client generated from shared/openapi.json by
openapi-python-client (tests/run.sh generates and installs it), against a running local server.

Usage: import_client.py --base http://127.0.0.1:PORT --api-key cdk_...

The team is the local one (`coverdesk seed`): HTTP Basic local:local-secret, and the API key made
for it with `coverdesk team api-key create local`. The transactions' documents are served by this
script on loopback (the local server may fetch from private addresses). Each answer is parsed by
the generated models (a body that does not fit them fails here) and checked on its status and a
field or two.
"""

import argparse
import base64
import datetime
import http.server
import threading
import time

from coverdesk_api_client import AuthenticatedClient, Client
from coverdesk_api_client.api.default import (
    import_invoice_documents,
    import_results_get,
    import_transaction,
    import_transaction_documents,
    import_transaction_get,
    import_transactions,
    import_transactions_find,
    tax_calculations,
    tax_rules_get,
)
from coverdesk_api_client.models import (
    DocumentsAdded,
    ImportBatch,
    ImportedTransaction,
    ImportInvoiceDocumentsBody,
    ImportTransaction,
    ImportTransactionDocumentsBody,
    ImportTransactionEnvelope,
    ImportTransactionsFindResponse200,
    ServicingError,
    TaxQuote,
    TaxRules,
)
from coverdesk_api_client.models.import_transactions_mode import ImportTransactionsMode
from coverdesk_api_client.models.tax_calculations_response_200 import TaxCalculationsResponse200


class Documents(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        body = b"%PDF-1.4 " + self.path.encode() + b" " + b"x" * 2000
        self.send_response(200)
        self.send_header("content-type", "application/pdf")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def transaction(docs: str, tid: str) -> ImportTransaction:
    """Seed 002's example (CA, 2017): imported with status 0 and no warning."""
    return ImportTransaction.from_dict({
        "id": tid, "policy_number": "CA20170228-05", "policy_effective_date": "2017-02-01",
        "transaction_effective_date": "2017-02-01", "transaction_type": "PN", "account_written_as": "B",
        "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00,
        "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.80,
        "commission_received": "0", "non_admitted_insured_name": "1001", "invoice_date": "2017-02-01",
        "purchasing_group_name": "Cal Association", "ecp": 0, "risk_description": "This is a risk description",
        "mailing_insured_name": "Westfield Galleria at Roseville", "mailing_address": "1151 Galleria Blvd",
        "mailing_city": "Roseville", "mailing_zip_code": "95678", "mailing_state_code": "CA",
        "physical_same_as_mailing": 1, "transaction_line_of_business": "1001", "exempt": 0, "export_list": 0,
        "multi_state": 0,
        "transaction_documents": [
            {"code": "D1DISC", "url": f"{docs}/d1/{tid}", "id": 1000001},
            {"code": "POLIC", "url": f"{docs}/polic/{tid}", "id": 1000002},
        ],
    })


CHECKED = []


def check(what: str, response, status: int, model):
    CHECKED.append(what)
    assert response.status_code == status, f"{what}: {response.status_code} {response.content[:300]!r}"
    assert isinstance(response.parsed, model), f"{what}: parsed as {type(response.parsed).__name__}"
    return response.parsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--api-key", required=True)
    args = ap.parse_args()

    docs_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Documents)
    threading.Thread(target=docs_server.serve_forever, daemon=True).start()
    docs = f"http://127.0.0.1:{docs_server.server_address[1]}"

    basic = base64.b64encode(b"local:local-secret").decode()
    by_basic = AuthenticatedClient(base_url=args.base, token=basic, prefix="Basic")
    by_header = AuthenticatedClient(base_url=args.base, token=args.api_key, prefix="", auth_header_name="apiKey")
    # The query parameter: no header at all, the key in every request's query.
    by_query = Client(base_url=args.base, httpx_args={"params": {"apikey": args.api_key}})
    wrong = AuthenticatedClient(base_url=args.base, token="cdk_" + "A" * 43, prefix="", auth_header_name="apiKey")
    tag = f"gen-{time.time_ns()}"

    # POST /import/v1/transactions, inline (API key in the header).
    r = import_transactions.sync_detailed(
        client=by_header, body=[transaction(docs, f"{tag}-1")], mode=ImportTransactionsMode.SYNC
    )
    batch = check("import-transactions sync", r, 200, ImportBatch)
    assert batch.transactions[0].status == 0 and batch.transactions[0].id == f"{tag}-1", batch.to_dict()
    assert batch.status.value == "processed", batch.to_dict()

    # ... in the background (Basic): 202, then its results once processed.
    r = import_transactions.sync_detailed(
        client=by_basic, body=[transaction(docs, f"{tag}-2")], mode=ImportTransactionsMode.ASYNC
    )
    accepted = check("import-transactions async", r, 202, ImportBatch)
    assert accepted.status.value == "processing" and r.headers["location"].endswith(accepted.batch_id), r.headers

    # GET /import/v1/transaction-import-results (API key in the query).
    for _ in range(200):
        r = import_results_get.sync_detailed(client=by_query, batch_id=accepted.batch_id)
        results = check("import-results-get", r, 200, ImportBatch)
        if results.status.value == "processed":
            break
        time.sleep(0.05)
    assert results.status.value == "processed", results.to_dict()
    assert [t.status for t in results.transactions] == [0], results.to_dict()
    r = import_results_get.sync_detailed(client=by_basic, batch_id=batch.batch_id, status=0, limit=1)
    assert check("import-results-get filtered", r, 200, ImportBatch).transactions[0].id == f"{tag}-1"
    check("import-results-get unknown", import_results_get.sync_detailed(client=by_basic, batch_id="nope"), 404,
          ServicingError)

    # POST /import/v1/transaction: a single-transaction batch of one.
    body = ImportTransactionEnvelope(total_items=1, current_item=1, transaction=transaction(docs, f"{tag}-3"))
    single = check("import-transaction", import_transaction.sync_detailed(client=by_query, body=body), 200,
                   ImportBatch)
    assert single.status.value == "processed" and single.transactions[0].status == 0, single.to_dict()

    # GET /import/v1/transactions/{transactionId}
    r = import_transaction_get.sync_detailed(f"{tag}-1", client=by_header)
    record = check("import-transaction-get", r, 200, ImportedTransaction)
    assert record.policy_number == "CA20170228-05" and record.status == 0, record.to_dict()
    assert len(record.documents) == 2, record.to_dict()
    check("import-transaction-get unknown", import_transaction_get.sync_detailed(f"{tag}-none", client=by_basic),
          404, ServicingError)

    # ... and in the filing service's v2 form, the transaction alone, with an invoice number.
    invoiced = ImportTransaction.from_dict({**transaction(docs, f"{tag}-4").to_dict(), "invoice_number": f"{tag}-INV"})
    single = check("import-transaction v2", import_transaction.sync_detailed(client=by_header, body=invoiced), 200,
                   ImportBatch)
    assert single.transactions[0].status == 0, single.to_dict()

    # GET /import/v1/transactions?invoice_number=
    r = import_transactions_find.sync_detailed(client=by_query, invoice_number=f"{tag}-INV")
    found = check("import-transactions-find", r, 200, ImportTransactionsFindResponse200)
    assert [t.id for t in found.transactions] == [f"{tag}-4"], found.to_dict()

    # POST /import/v1/transactions/{transactionId}/documents and /import/v1/documents
    more = ImportTransactionDocumentsBody.from_dict({"transaction_documents": [{"code": "SLA1", "url": f"{docs}/later/{tag}"}]})
    r = import_transaction_documents.sync_detailed(f"{tag}-4", client=by_basic, body=more)
    added = check("import-transaction-documents", r, 200, DocumentsAdded)
    assert added.status.value == 0 and len(added.documents) == 3, added.to_dict()
    by_inv = ImportInvoiceDocumentsBody.from_dict(
        {"invoice_number": f"{tag}-INV", "transaction_documents": [{"code": "ENDT", "url": f"{docs}/endt/{tag}"}]})
    r = import_invoice_documents.sync_detailed(client=by_header, body=by_inv)
    added = check("import-invoice-documents", r, 200, DocumentsAdded)
    assert len(added.documents) == 4, added.to_dict()

    # POST /import/v1/tax-calculations: one quote, and several.
    quote = TaxQuote.from_dict({"id": "q1", "state": "CA", "policy_effective_date": "2017-02-01",
                                "transaction_line_of_business": "1001", "premium": 3900.00, "agency_fee": 200.00})
    r = tax_calculations.sync_detailed(client=by_query, body=quote)
    calc = check("tax-calculations", r, 200, TaxCalculationsResponse200)
    assert calc.quotes[0].calculated.sl_tax == "117.00" and calc.quotes[0].calculated.total == "4224.80", calc.to_dict()
    zz = TaxQuote.from_dict({**quote.to_dict(), "state": "ZZ"})
    calc = check("tax-calculations many", tax_calculations.sync_detailed(client=by_header, body=[quote, zz]), 200,
                 TaxCalculationsResponse200)
    assert [q.status for q in calc.quotes] == [0, 1004], calc.to_dict()

    # GET /import/v1/tax-rules/{state}
    r = tax_rules_get.sync_detailed("CA", client=by_query, effective_date=datetime.date(2017, 2, 1))
    rules = check("tax-rules-get", r, 200, TaxRules)
    assert rules.state == "CA" and rules.as_of == datetime.date(2017, 2, 1), rules.to_dict()
    check("tax-rules-get ZZ", tax_rules_get.sync_detailed("ZZ", client=by_header), 404, ServicingError)

    # A wrong key: the 401 of the error envelope.
    err = check("wrong key", tax_rules_get.sync_detailed("CA", client=wrong), 401, ServicingError)
    assert err.error == "UNAUTHORIZED", err.to_dict()

    docs_server.shutdown()
    print(f"every import operation (9) through the generated client: {len(CHECKED)} answers as expected")


if __name__ == "__main__":
    main()
