"""The hosted Connect page's weight and speed, in headless Chromium, against a running local
server (issue 18's benchmark; a bench, not a test: it prints figures and ratios, it asserts
nothing about time).

1. Bytes: every byte the browser receives (uncompressed: `decodedBodySize` of the document and
   of each resource) over one whole flow -- the page, its assets, and every API answer (carriers,
   consent, polls, confirmations) from the first screen to the outcome of three actions. Goal:
   under 100 KB.
2. Time from navigation to the first interactive screen, cold cache, beside the same figure for
   a bare HTML page served by the same server (the "not a valid link" page: HTML and the same
   stylesheet, no script). Both are the same event: the paint of the screen's heading, as the
   browser's Element Timing API reports it (`elementtiming`: "cd-screen" on the headings the
   page's script draws, "cd-heading" on the server's). On the Connect page that paint comes
   after its script has drawn the consent screen with live buttons, so painted is interactive.
   Also printed: the page's own `cd-first-screen` mark (script side, drawn and focused) and the
   bare page's `loadEventEnd`, which fires before its first paint. Medians of N runs,
   interleaved; goal within 1.5x.

    benches/connect/run.sh [-n 15]      # builds and starts the local server itself
    benches/connect/run.py --base URL --quick   # one run, checks only (the test command)

Its own checks, which fail the run: the whole flow reaches its outcome, weighs under 100 KB, and
every paint is reported (a page that never paints its heading times nothing).
"""

import argparse
import base64
import json
import statistics
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ADDRESS = {"line1": "9 Elm St", "city": "Dallas", "state": "TX", "postal_code": "75201"}


def token(base, actions):
    body = json.dumps({"servicing_actions": actions}).encode()
    auth = "Basic " + base64.b64encode(b"local:local-secret").decode()
    req = urllib.request.Request(f"{base}/teams/local/connectTokens", data=body, method="POST",
                                 headers={"content-type": "application/json", "authorization": auth})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["connect_token"]


def actions():
    def m(kind):
        return {"type": "ADD_MORTGAGEE", "payload": {"carrier_policy_number": "SBX-HOME-1", "name": f"{kind} Bank",
                                                     "loan_number": "L-1", "mortgagee_type": kind, "address": ADDRESS}}
    return [m("SECOND"), {"type": "UPDATE_CONTACT_INFO", "payload": {"email": "bench@example.com"}}, m("THIRD")]


def browser(args):
    o = Options()
    o.binary_location = args.chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(args.chromedriver), options=o)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return d


def heading(d):
    try:
        return d.find_element(By.ID, "cd-heading").text
    except Exception:
        return ""


def until(d, text):
    WebDriverWait(d, 30).until(lambda d: text in heading(d))


def whole_flow_bytes(args):
    d = browser(args)
    try:
        # Resource timing keeps every request of the page's life (the buffer holds 250 by default).
        d.get(f"{args.base}/c/local#connect_token={token(args.base, actions())}")
        d.execute_script("performance.setResourceTimingBufferSize(2000)")
        until(d, "would like")
        d.find_element(By.CSS_SELECTOR, ".cd-primary").click()
        until(d, "Find your")
        d.find_element(By.CSS_SELECTOR, ".cd-choice").click()
        until(d, "Log in")
        d.find_element(By.ID, "cd-username").send_keys(f"user_bench_{time.time_ns()}")
        d.find_element(By.ID, "cd-password").send_keys("pass_good")
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        for n, answer in [(1, ".cd-primary"), (2, ".cd-secondary"), (3, ".cd-primary")]:
            until(d, f"Change {n} of 3")
            d.find_element(By.CSS_SELECTOR, answer).click()
        until(d, "All done")
        entries = d.execute_script(
            "const nav = performance.getEntriesByType('navigation')[0];"
            "return [{name: nav.name, type: 'document', bytes: nav.decodedBodySize}].concat("
            "performance.getEntriesByType('resource').map(e => ({name: e.name, type: e.initiatorType, bytes: e.decodedBodySize})));")
    finally:
        d.quit()
    assets = [e for e in entries if e["type"] in ("document", "link", "script", "css", "other") and "/c/" in e["name"]]
    calls = [e for e in entries if e not in assets]
    return sum(e["bytes"] for e in assets), sum(e["bytes"] for e in calls), len(calls), assets


# Resolves with [heading painted, cd-first-screen mark or 0, loadEventEnd or 0] once the heading
# named by the first argument is painted.
PAINTED = """const [id, done] = arguments;
new PerformanceObserver((list, o) => {
  for (const e of list.getEntries()) {
    if (e.identifier !== id) continue;
    o.disconnect();
    const mark = performance.getEntriesByName('cd-first-screen')[0];
    done([e.renderTime || e.loadTime, mark ? mark.startTime : 0,
          performance.getEntriesByType('navigation')[0].loadEventEnd]);
  }
}).observe({type: 'element', buffered: true});"""


def first_screen_ms(d, url, heading):
    d.get("about:blank")
    d.get(url)
    return d.execute_async_script(PAINTED, heading)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("-n", type=int, default=15)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--quick", action="store_true", help="one run of each: the checks, not the figures")
    args = p.parse_args()
    if args.quick:
        args.n = 1

    asset_bytes, call_bytes, calls, assets = whole_flow_bytes(args)
    print("bytes over one whole flow (3 actions: confirm, reject, confirm), uncompressed:")
    for a in assets:
        print(f"  {a['bytes']:>7}  {a['name'].replace(args.base, '').split('#')[0]}")
    print(f"  page and assets {asset_bytes / 1000:.1f} KB + {calls} API answers {call_bytes / 1000:.1f} KB"
          f" = {(asset_bytes + call_bytes) / 1000:.1f} KB (goal < 100 KB)")
    if asset_bytes + call_bytes >= 100_000 or asset_bytes == 0 or calls == 0:
        raise SystemExit("the whole flow must weigh under 100 KB, page and API answers both counted")

    page = f"{args.base}/c/local#connect_token={token(args.base, actions())}"  # looked up, never used
    bare = f"{args.base}/c/no-such-team"
    d = browser(args)
    d.set_script_timeout(30)
    try:
        first_screen_ms(d, page, "cd-screen")  # warm the server and the browser once
        first_screen_ms(d, bare, "cd-heading")
        ours, baseline = [], []
        for _ in range(args.n):
            ours.append(first_screen_ms(d, page, "cd-screen"))
            baseline.append(first_screen_ms(d, bare, "cd-heading"))
    finally:
        d.quit()

    def med(rows, k):
        return statistics.median(r[k] for r in rows)

    def spread(rows, k):
        return f"(min {min(r[k] for r in rows):.1f}, max {max(r[k] for r in rows):.1f})"

    if not all(r[0] > 0 for r in ours + baseline):
        raise SystemExit("a heading was never reported painted: the figures would time nothing")
    mo, mb = med(ours, 0), med(baseline, 0)
    print(f"navigation to first interactive screen painted, cold cache, medians of {args.n}:")
    print(f"  Connect page   {mo:7.1f} ms  {spread(ours, 0)}   script's mark {med(ours, 1):.1f} ms")
    print(f"  bare HTML page {mb:7.1f} ms  {spread(baseline, 0)}   load event {med(baseline, 2):.1f} ms")
    print(f"  ratio {mo / mb:.2f}x (goal within 1.5x)")


if __name__ == "__main__":
    main()
