"""The hosted Connect page in a real browser (headless Chromium through ChromeDriver), against a
local server freshly seeded (the sandbox's MFA account keeps what the flows change): the flows issue 18 names, axe-core on every screen (no serious or critical
violation), a signed-webhook receiver that checks every event with its own HMAC code, and the
page embedded by the SDK in a page of another origin.

    tests/browser/connect.py --base http://127.0.0.1:3000 --axe target/tools/node_modules/axe-core/axe.min.js
        [--screenshots DIR]   # also write each screen, desktop (1280x900) and phone (360x640)

Run by tests/run.sh after the Rust suites. Exits non-zero on the first failure.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait as _Wait

ARGS = None


def WebDriverWait(d, timeout):
    """A wait that looks again when the screen was replaced under it (each screen is new DOM)."""
    return _Wait(d, timeout, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))
TEAM = ("local", "local-secret")
ADDRESS = {"line1": "9 Elm St", "city": "Dallas", "state": "TX", "postal_code": "75201"}


def mortgagee(kind, name, action="ADD_MORTGAGEE"):
    payload = {"carrier_policy_number": "SBX-HOME-1", "name": name, "loan_number": "L-" + kind[:2],
               "mortgagee_type": kind, "address": ADDRESS}
    return {"type": action, "payload": payload}


def three_actions(tag):
    """Three actions for the sandbox's MFA account (one account, kept across flows): the first
    flow adds the second and third mortgagees, later ones edit the first, by names of their own."""
    email = {"type": "UPDATE_CONTACT_INFO", "payload": {"email": f"{tag}@example.com"}}
    if tag == "desktop":
        return [mortgagee("SECOND", "Second Street Bank"), email, mortgagee("THIRD", "Third Trust")]
    return [mortgagee("FIRST", f"{tag} bank A", "EDIT_MORTGAGEE"), email,
            mortgagee("FIRST", f"{tag} bank B", "EDIT_MORTGAGEE")]


# ---- the API, as the integrator's backend calls it ----

def api(method, path, body=None, auth=True):
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = "Basic " + base64.b64encode(":".join(TEAM).encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(ARGS.base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def new_token(actions, meta):
    body = {"meta_data": meta}
    if actions:
        body["servicing_actions"] = actions
    status, r = api("POST", "/teams/local/connectTokens", body)
    assert status == 201, r
    return r["connect_token"]


# ---- a webhook receiver that checks signatures itself ----

class Hooks:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        self.secret = None
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["content-length"]))
                fields = dict(p.split("=", 1) for p in self.headers.get("coverdesk-signature", "").split(","))
                mac = hmac.new(hooks.secret.encode(), fields.get("t", "").encode() + b"." + raw, hashlib.sha256)
                ok = hmac.compare_digest(mac.hexdigest(), fields.get("s", ""))
                with hooks.lock:
                    hooks.events.append((json.loads(raw), ok))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        status, r = api("POST", "/teams/local/webhooks", {"url": f"http://127.0.0.1:{self.server.server_port}/hooks"})
        assert status == 200, r
        self.secret = r["signing_secret"]

    def of(self, pull_id, until=None, timeout=15):
        end = time.time() + timeout
        while True:
            with self.lock:
                got = [(e, ok) for e, ok in self.events if e["pull_id"] == pull_id]
            if until is None or any(e["event_type"] == until for e, _ in got) or time.time() > end:
                return got
            time.sleep(0.1)


# ---- the browser ----

def browser(width=1280, height=900, phone=False):
    o = Options()
    o.binary_location = ARGS.chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(ARGS.chromedriver), options=o)
    if phone:
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 360, "height": 640, "deviceScaleFactor": 2, "mobile": True})
    return d


AXE_RESULTS = {}


def check_screen(d, name, tag):
    """axe-core on the screen shown (WCAG 2.0/2.1 A and AA); no horizontal scroll on a phone; a
    screenshot if asked for."""
    d.execute_script(AXE)
    result = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))))"
        ".catch(e => done([{id: 'axe failed: ' + e, impact: 'critical', nodes: 0}]));")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    AXE_RESULTS[f"{tag}:{name}"] = result
    assert not bad, f"{name}: axe finds {bad}"
    if tag == "phone":
        width = d.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, f"{name}: the page scrolls sideways on a phone ({width}px)"
    if ARGS.screenshots:
        d.save_screenshot(f"{ARGS.screenshots}/{tag}-{name}.png")


def heading(d):
    try:
        return d.find_element(By.ID, "cd-heading").text
    except Exception:
        return ""


def wait_for(d, text, timeout=20):
    try:
        WebDriverWait(d, timeout).until(lambda d: text in heading(d))
    except Exception:
        body = d.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"waited for a heading with {text!r}; the page says: {body[:600]}")
    # The new screen's heading has the focus (a screen reader starts there).
    assert d.execute_script("return document.activeElement.id") == "cd-heading", "focus not on the heading"


def click(d, css):
    d.find_element(By.CSS_SELECTOR, css).click()


def type_into(d, element_id, text):
    d.find_element(By.ID, element_id).send_keys(text)


def no_secret_in_browser(d, secrets):
    """Nothing typed in stays where a script, a log or a later visitor could read it."""
    stored = d.execute_script(
        "return JSON.stringify([location.href, document.cookie, Object.entries(localStorage),"
        " Object.entries(sessionStorage), document.body.innerText])")
    logs = json.dumps(d.get_log("browser"))
    for s in secrets:
        assert s not in stored and s not in logs, "a credential was left in the page, a URL, storage or a log"


def log_in(d, username, password):
    """From the consent screen shown to the login sent: agree, pick the sandbox, log in."""
    wait_for(d, "would like to connect")
    click(d, ".cd-primary")
    wait_for(d, "Find your insurance company")
    click(d, ".cd-choice")
    wait_for(d, "Log in to")
    type_into(d, "cd-username", username)
    type_into(d, "cd-password", password)
    click(d, "button[type=submit]")


# ---- the flows ----

def happy_path(tag, phone=False):
    """MFA (an option, then 123456) and three actions: confirm, reject, confirm; the outcome screen;
    every webhook signed, carrying the token's meta_data."""
    hooks = HOOKS
    meta = {"crm_id": f"C-{tag}"}
    token = new_token(three_actions(tag), meta)
    d = browser(phone=phone)
    try:
        d.get(f"{ARGS.base}/c/local#connect_token={token}")
        wait_for(d, "would like to connect")
        WebDriverWait(d, 10).until(lambda d: "3 changes" in d.find_element(By.ID, "cd-changes").text)
        check_screen(d, "1-consent", tag)
        click(d, ".cd-primary")
        wait_for(d, "Find your insurance company")
        type_into(d, "cd-search", "sand")
        check_screen(d, "2-carriers", tag)
        click(d, ".cd-choice")
        wait_for(d, "Log in to")
        type_into(d, "cd-username", "user_mfa")
        type_into(d, "cd-password", "pass_good")
        check_screen(d, "3-login", tag)
        click(d, "button[type=submit]")
        wait_for(d, "Verify it's you")
        check_screen(d, "4-mfa-options", tag)
        click(d, "button[type=submit]")
        wait_for(d, "Enter your verification code")
        type_into(d, "cd-code", "123456")
        check_screen(d, "5-mfa-code", tag)
        click(d, "button[type=submit]")
        for n, answer in [(1, ".cd-primary"), (2, ".cd-secondary"), (3, ".cd-primary")]:
            wait_for(d, f"Change {n} of 3")
            check_screen(d, f"{5 + n}-confirm-{n}", tag)
            click(d, answer)
        wait_for(d, "All done")
        check_screen(d, "9-done", tag)
        outcomes = d.find_element(By.CSS_SELECTOR, ".cd-outcomes").text
        assert outcomes.count("Made") == 2 and "Rejected" in outcomes, outcomes
        no_secret_in_browser(d, ["pass_good", "123456"])
        pull = d.execute_script("return performance.getEntriesByType('resource')"
                                ".map(e => e.name).filter(n => n.includes('/widget/pull/') && !n.includes('consentAndConnect'))[0]")
        pull_id = pull.split("/widget/pull/")[1].split("/")[0].split("?")[0]
        events = hooks.of(pull_id, until="COMPLETE")
        kinds = [e["event_type"] for e, _ in events]
        assert kinds.count("SERVICING_WAITING_FOR_CONSUMER_CONFIRMATION") == 3 and kinds[-1] == "COMPLETE", kinds
        assert all(ok for _, ok in events), "a webhook signature did not verify"
        assert all(e["meta_data"] == meta for e, _ in events), [e["meta_data"] for e, _ in events]
        # The link is used up: opening it again says so.
        d.get(f"{ARGS.base}/c/local#connect_token={token}")
        d.refresh()
        wait_for(d, "This link has expired")
        check_screen(d, "10-expired", tag)
    finally:
        d.quit()


def wrong_password_then_retry():
    """A link without a token: a wrong password, the carrier's message, a retry on the same pull,
    the account connected (no action to confirm)."""
    d = browser()
    try:
        d.get(f"{ARGS.base}/c/local")
        wait_for(d, "would like to connect")
        WebDriverWait(d, 10).until(lambda d: "connected" in d.find_element(By.ID, "cd-changes").text)
        log_in(d, "user_retry", "wrong_pass")
        WebDriverWait(d, 20).until(lambda d: "did not accept" in d.find_element(By.ID, "cd-form-error").text)
        check_screen(d, "11-wrong-password", "desktop")
        type_into(d, "cd-username", "user_retry")
        type_into(d, "cd-password", "pass_good")
        click(d, "button[type=submit]")
        wait_for(d, "Your account is connected")
        check_screen(d, "12-connected", "desktop")
        no_secret_in_browser(d, ["wrong_pass", "pass_good"])
    finally:
        d.quit()


def provider_error():
    token = new_token([mortgagee("SECOND", "Bank")], {})
    d = browser()
    try:
        d.get(f"{ARGS.base}/c/local#connect_token={token}")
        log_in(d, "user_provider_error", "pass_good")
        wait_for(d, "is not answering")
        check_screen(d, "13-provider-error", "desktop")
    finally:
        d.quit()


def keyboard_only():
    """The same happy path with the keyboard alone: Tab to each control, Enter or Space, typing."""
    token = new_token(three_actions("keyboard"), {"by": "keyboard"})
    d = browser()
    keys = webdriver.ActionChains

    def press(*k):
        keys(d).send_keys(*k).perform()

    def tab_to(css, limit=25):
        for _ in range(limit):
            press(Keys.TAB)
            if d.execute_script("return document.activeElement.matches(arguments[0])", css):
                return
        raise AssertionError(f"Tab never reaches {css} on '{heading(d)}'")

    try:
        d.get(f"{ARGS.base}/c/local#connect_token={token}")
        wait_for(d, "would like to connect")
        tab_to(".cd-primary")
        press(Keys.ENTER)
        wait_for(d, "Find your insurance company")
        tab_to("#cd-search")
        press("sand")
        tab_to(".cd-choice")
        press(Keys.ENTER)
        wait_for(d, "Log in to")
        tab_to("#cd-username")
        press("user_mfa")
        tab_to("#cd-password")
        press("pass_good", Keys.ENTER)
        wait_for(d, "Verify it's you")
        tab_to("input[type=radio]")
        press(Keys.ARROW_DOWN)
        tab_to("button[type=submit]")
        press(Keys.SPACE)
        wait_for(d, "Enter your verification code")
        tab_to("#cd-code")
        press("123456", Keys.ENTER)
        for n, target in [(1, ".cd-primary"), (2, ".cd-secondary"), (3, ".cd-primary")]:
            wait_for(d, f"Change {n} of 3")
            tab_to(target)
            press(Keys.ENTER)
        wait_for(d, "All done")
    finally:
        d.quit()


EMBED_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Integrator</title>
<script src="{base}/c/sdk.js"></script></head><body><h1>Integrator site</h1>
<button id="go">Connect</button><pre id="log"></pre>
<script>
window.events = [];
const record = (type) => (data) => window.events.push({{type, data}});
document.getElementById('go').onclick = () => CoverdeskConnect.create({{
  publicAlias: 'local', token: '{token}',
  onAuthenticationSuccess: record('authenticationSuccess'), onComplete: record('complete'),
  onExit: record('exit'), onSectionViewed: record('sectionViewed'), onError: record('error'),
}}).open();
</script></body></html>"""


def embedded_in_another_origin():
    """The SDK in a page of another origin (localhost vs 127.0.0.1, another port): a modal with
    the page in an iframe; the embedding page gets the events, with the pull but no token."""
    token = new_token([{"type": "UPDATE_CONTACT_INFO", "payload": {"email": "embed@example.com"}}], {"via": "sdk"})
    page = EMBED_PAGE.format(base=ARGS.base, token=token).encode()

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    d = browser()
    try:
        d.get(f"http://localhost:{site.server_port}/")
        d.find_element(By.ID, "go").click()
        frame = WebDriverWait(d, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, "iframe"))
        assert d.find_element(By.CSS_SELECTOR, "[role=dialog][aria-modal=true]")
        d.switch_to.frame(frame)
        log_in(d, "user_embed", "pass_good")
        wait_for(d, "Change 1 of 1")
        click(d, ".cd-primary")
        wait_for(d, "All done")
        click(d, ".cd-primary")  # Close
        d.switch_to.default_content()
        WebDriverWait(d, 10).until(lambda d: any(e["type"] == "exit" for e in d.execute_script("return window.events")))
        events = d.execute_script("return window.events")
        kinds = [e["type"] for e in events]
        for k in ["sectionViewed", "authenticationSuccess", "complete", "exit"]:
            assert k in kinds, kinds
        done = next(e for e in events if e["type"] == "complete")["data"]["pull"]
        assert done["status"] == "SUCCESS" and done["meta_data"] == {"via": "sdk"}, done
        assert token not in json.dumps(events) and "jwt" not in json.dumps(events), "an event leaked a token"
        assert not d.find_elements(By.CSS_SELECTOR, "iframe"), "the modal closed on exit"
    finally:
        d.quit()
        site.shutdown()


def main():
    global ARGS, AXE, HOOKS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--axe", required=True)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--screenshots")
    ARGS = p.parse_args()
    AXE = open(ARGS.axe).read()
    HOOKS = Hooks()
    flows = [("happy path, desktop", lambda: happy_path("desktop")),
             ("happy path, phone 360x640", lambda: happy_path("phone", phone=True)),
             ("wrong password, then a retry", wrong_password_then_retry),
             ("provider error", provider_error),
             ("keyboard alone", keyboard_only),
             ("embedded by the SDK in another origin", embedded_in_another_origin)]
    for name, flow in flows:
        started = time.time()
        flow()
        print(f"ok   {name} ({time.time() - started:.1f} s)")
    print(f"axe: {len(AXE_RESULTS)} screens, 0 serious or critical violations; minor/moderate: "
          + json.dumps({k: v for k, v in AXE_RESULTS.items() if v}))


if __name__ == "__main__":
    main()
