// The hosted Connect page: the consumer's side of servicing (seed 000), one screen at a time.
// Plain ES module, no framework, no build step. Every text comes from the strings the server
// inlines (shared/connect/en.json); every value is put into the page as text, never as HTML.
// Credentials and codes live only in the form fields and the request that sends them; the
// pull's token (pull_jwt) lives only in this module's memory: a reload forgets it and starts
// over (a connect token, already used by then, answers "this link has expired").

const config = JSON.parse(document.getElementById("cd-config").textContent);
const strings = JSON.parse(document.getElementById("cd-strings").textContent);
const main = document.getElementById("cd-main");
const live = document.getElementById("cd-live");

// The API lives beside /c/: relative to this page, so a stage prefix keeps working.
const api = (path) => new URL(`../${path}`, location.href).toString();

const hash = new URLSearchParams(location.hash.slice(1));
const state = {
  token: hash.get("connect_token") || null,
  embedded: window.parent !== window && hash.has("origin"),
  origin: hash.get("origin"),
  meta: null,
  // Names this visit in the consent record (the original takes an IP or a device id).
  device: `web-${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("")}`,
  actionTypes: [],
  carriers: [],
  carrier: null,
  pull: null, // {id, jwt}
  screen: "",
  polling: null,
  authenticated: false,
  lookup: null, // the connect token's lookup, a promise
};
try {
  state.meta = hash.has("meta") ? JSON.parse(hash.get("meta")) : null;
} catch {
  state.meta = null;
}

// ---- text ----

function t(key, vars = {}) {
  const base = { team: config.teamName, carrier: state.carrier ? state.carrier.name : "" };
  const all = { ...base, ...vars };
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (all[k] ?? "").toString());
}

function plural(key, count) {
  const form = count === 0 && strings[`${key}.zero`] ? "zero" : count === 1 ? "one" : "many";
  return t(`${key}.${form}`, { count });
}

function announce(text) {
  live.textContent = "";
  // A fresh text node, a moment later, so screen readers announce it even when it repeats.
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}

// ---- the embedding page ----

function tell(type, data = {}) {
  if (state.embedded && state.origin) {
    window.parent.postMessage({ source: "coverdesk-connect", type, data }, state.origin);
  }
}

window.addEventListener("message", (e) => {
  if (!state.embedded || e.source !== window.parent || e.origin !== state.origin) return;
  const m = e.data;
  if (m && m.source === "coverdesk-sdk" && m.type === "meta" && state.meta === null && !state.token) {
    state.meta = m.data;
  }
});

// ---- DOM ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Shows a screen: its heading gets the focus, its name goes to the embedding page. */
function show(name, heading, ...body) {
  state.screen = name;
  // elementtiming: the browser reports when the heading is painted (benches/connect reads the
  // first screen's).
  const h1 = h("h1", { tabindex: "-1", id: "cd-heading", elementtiming: "cd-screen" }, heading);
  const top = state.embedded
    ? h("button", { type: "button", class: "cd-close", onclick: exit, "aria-label": t("close") }, "×")
    : null;
  const parts = body.filter((b) => b !== null && b !== undefined && b !== false);
  main.replaceChildren(h("div", { class: "cd-top" }, h("p", { class: "cd-team" }, config.teamName), top), h1, ...parts);
  document.title = `${heading} – ${t("title")}`;
  h1.focus();
  // When the first screen is usable: drawn, focused, its buttons live (benches/connect reads it).
  if (performance.getEntriesByName("cd-first-screen").length === 0) performance.mark("cd-first-screen");
  tell("sectionViewed", { section: name });
}

function field(id, label, input, hint) {
  const hintEl = hint ? h("p", { class: "cd-hint", id: `${id}-hint` }, hint) : null;
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "cd-field" }, h("label", { for: id }, label), hintEl, input);
}

function errorBox(text) {
  return h("p", { class: "cd-error", role: "alert", id: "cd-form-error" }, text);
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", on ? "true" : "false");
}

// ---- requests ----

class Refused extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function call(method, path, body, jwt) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (jwt) headers["pull-jwt"] = jwt;
  let r;
  try {
    r = await fetch(api(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new Refused(0, null);
  }
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) throw new Refused(r.status, data);
  return data;
}

function widget(method, suffix, body) {
  return call(method, `widget/pull/${encodeURIComponent(state.pull.id)}${suffix}`, body, state.pull.jwt);
}

/** A failure no screen handles itself: an expired link or token, the network, our side. */
function failed(e) {
  stopPolling();
  if (e.status === 401 || e.status === 403) return errorScreen("expired", null);
  if (e.status === 0) return errorScreen("network", () => resume());
  if (e.status === 400) return errorScreen("input", startOver, { message: e.message });
  return errorScreen("internal", startOver);
}

// ---- screens ----

function consentScreen() {
  const changes = h("p", { id: "cd-changes" });
  const agree = h("button", { type: "button", class: "cd-primary", onclick: carrierScreen }, t("consent.agree"));
  show(
    "consent",
    t("consent.heading"),
    h("p", {}, t("consent.intro")),
    changes,
    h("div", { class: "cd-consent", id: "cd-consent-text" }, t("consent.text")),
    agree,
  );
  // Drawn at once; what the link will change is filled in when the token's lookup answers.
  state.lookup.then(() => {
    const n = state.actionTypes.length;
    changes.textContent = n === 0 ? t("consent.none") : plural("consent.changes", n);
  }, failed);
}

async function loadCarriers() {
  const [data] = await Promise.all([call("GET", "carriers"), state.lookup]);
  const need = state.actionTypes;
  state.carriers = data.carriers.filter((c) => {
    const offers = c.servicingActions || [];
    return offers.length > 0 && need.every((a) => offers.includes(a));
  });
}

async function carrierScreen() {
  if (state.carriers.length === 0) {
    show("carriers", t("carriers.heading"), h("p", { role: "status" }, t("carriers.loading")));
    try {
      await loadCarriers();
    } catch (e) {
      return failed(e);
    }
  }
  const search = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
  const count = h("p", { class: "cd-hint", role: "status", "aria-live": "polite" });
  const list = h("ul", { class: "cd-list", "aria-labelledby": "cd-heading" });
  const fill = () => {
    const q = search.value.trim().toLowerCase();
    const found = state.carriers.filter((c) => c.name.toLowerCase().includes(q));
    list.replaceChildren(
      ...found.map((c) =>
        h("li", {}, h("button", { type: "button", class: "cd-choice", onclick: () => loginScreen(c) }, c.name)),
      ),
    );
    count.textContent = plural("carriers.count", found.length);
  };
  search.addEventListener("input", fill);
  fill();
  show(
    "carriers",
    t("carriers.heading"),
    h("p", { class: "cd-hint" }, t("carriers.hint")),
    field("cd-search", t("carriers.search"), search),
    count,
    list,
  );
}

function loginScreen(carrier, problem) {
  if (carrier) state.carrier = carrier;
  const c = state.carrier;
  const userLabel = c.usernameFieldPlaceholder || t("login.username");
  const user = h("input", { type: "text", autocomplete: "username", required: true, maxlength: "200" });
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true, maxlength: "200" });
  const third = c.thirdFieldPlaceholder ? h("input", { type: "text", autocomplete: "off", maxlength: "200" }) : null;
  const reveal = h("input", { type: "checkbox", id: "cd-reveal" });
  reveal.addEventListener("change", () => {
    pass.type = reveal.checked ? "text" : "password";
  });
  const submit = h("button", { type: "submit", class: "cd-primary" }, t("login.submit"));
  const error = problem ? errorBox(problem) : h("p", { class: "cd-error", role: "alert", id: "cd-form-error" });
  const form = h(
    "form",
    { novalidate: true },
    error,
    field("cd-username", userLabel, user),
    field("cd-password", t("login.password"), pass),
    h("div", { class: "cd-check" }, reveal, h("label", { for: "cd-reveal" }, t("login.show"))),
    third ? field("cd-third", c.thirdFieldPlaceholder, third) : null,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const bad = [
      [user, userLabel],
      [pass, t("login.password")],
    ].find(([input]) => input.value.length < 5 || input.value.length > 200);
    if (bad) {
      const [input, label] = bad;
      error.textContent = input.value.length === 0 ? t("login.required", { field: label }) : t("login.length", { field: label });
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    busy(submit, true);
    const secrets = { insurerName: c.carrier_id, insurerUsername: user.value, insurerPassword: pass.value };
    if (third && third.value) secrets.insurerThirdField = third.value;
    try {
      await connect(secrets);
    } catch (err) {
      busy(submit, false);
      failed(err);
      return;
    }
    pass.value = "";
    progress("connecting");
  });
  show(
    "login",
    t("login.heading"),
    h("p", {}, t("login.intro")),
    form,
    state.pull ? null : h("button", { type: "button", class: "cd-link", onclick: carrierScreen }, t("back")),
  );
  if (problem) user.value = "";
}

/** The first login creates the pull (with the consent); a retry logs in again on the same pull. */
async function connect(secrets) {
  if (state.pull) {
    await widget("POST", "/connect", secrets);
    return;
  }
  const body = {
    device_identifier: state.device,
    terms_version: config.termsVersion,
    // The very text the consent screen showed, kept as the consent record.
    consent_language: t("consent.text"),
    public_alias: config.publicAlias,
    ...secrets,
  };
  if (state.token) body.connect_token = state.token;
  else {
    body.connect_only = true;
    if (state.meta && typeof state.meta === "object" && !Array.isArray(state.meta)) body.meta_data = state.meta;
  }
  const created = await call("POST", "widget/pull/consentAndConnect", body);
  state.pull = { id: created.pull_id, jwt: created.pull_jwt };
}

function progress(kind) {
  const key = `progress:${kind}`;
  if (state.screen !== key) {
    show(key, t(`progress.${kind}`), h("div", { class: "cd-spinner", "aria-hidden": "true" }), h("p", {}, t("progress.wait")));
    announce(t(`progress.${kind}`));
  }
  poll();
}

function mfaOptionsScreen(pull) {
  const options = pull.mfa_options || [];
  const radios = options.map((o, i) =>
    h(
      "div",
      { class: "cd-check" },
      h("input", { type: "radio", name: "cd-option", id: `cd-option-${i}`, value: o.optionKey, checked: i === 0 }),
      h("label", { for: `cd-option-${i}` }, o.label),
    ),
  );
  const submit = h("button", { type: "submit", class: "cd-primary" }, t("mfa.options.submit"));
  const form = h("form", {}, h("fieldset", {}, h("legend", {}, t("mfa.options.legend")), radios), submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = form.querySelector("input[name=cd-option]:checked");
    busy(submit, true);
    try {
      await widget("POST", "/idvoptions", { optionKey: chosen.value });
    } catch (err) {
      return failed(err);
    }
    progress("connecting");
  });
  show("mfa-options", t("mfa.options.heading"), h("p", {}, t("mfa.options.intro")), form);
}

function mfaCodeScreen() {
  const code = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "20" });
  const error = h("p", { class: "cd-error", role: "alert", id: "cd-form-error" });
  const submit = h("button", { type: "submit", class: "cd-primary" }, t("mfa.code.submit"));
  const form = h("form", { novalidate: true }, error, field("cd-code", t("mfa.code.label"), code), submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!code.value.trim()) {
      error.textContent = t("mfa.code.required");
      code.setAttribute("aria-invalid", "true");
      code.focus();
      return;
    }
    busy(submit, true);
    try {
      await widget("POST", "/idv", { mfaValue: code.value.trim() });
    } catch (err) {
      return failed(err);
    }
    code.value = "";
    progress("connecting");
  });
  show("mfa-code", t("mfa.code.heading"), h("p", {}, t("mfa.code.intro")), form);
}

// ---- a change to confirm ----

function label(key) {
  return strings[`field.${key}`] || key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function plain(v) {
  if (v === null || v === undefined || v === "") return t("confirm.nothing");
  if (Array.isArray(v)) return v.length ? v.map(plain).join("; ") : t("confirm.nothing");
  if (typeof v === "object") {
    if ("line1" in v) {
      return [v.line1, v.line2, v.city, [v.state, v.postal_code].filter(Boolean).join(" ")].filter(Boolean).join(", ");
    }
    return Object.values(v).filter((x) => x !== null && x !== "").map(plain).join(", ");
  }
  // An enumerated value (SECOND, OWN, ...) reads as a word; short codes (TX) stay as they are.
  const text = String(v);
  return /^[A-Z]{3,}(_[A-Z]+)*$/.test(text) ? text.charAt(0) + text.slice(1).toLowerCase().replace(/_/g, " ") : text;
}

function money(cents) {
  const fmt = new Intl.NumberFormat(strings.lang || "en", { style: "currency", currency: "USD" });
  return fmt.format(cents / 100);
}

/** The change as a table: before and after side by side, or only the side that exists (an
 *  addition has no "now", a removal no "after"). Changed rows are marked. */
function comparison(data) {
  const sides = [
    [data.before, t("confirm.before")],
    [data.after, t("confirm.after")],
  ].filter(([v]) => v && typeof v === "object");
  const keys = [...new Set(sides.flatMap(([v]) => Object.keys(v)))];
  const rows = keys.map((k) => {
    const cells = sides.map(([v]) => plain(v[k]));
    const changed = sides.length === 2 && cells[0] !== cells[1];
    return h("tr", { class: changed ? "cd-changed" : null }, h("th", { scope: "row" }, label(k)), cells.map((c) => h("td", {}, c)));
  });
  const head = h("tr", {}, h("td", {}), sides.map(([, title]) => h("th", { scope: "col" }, title)));
  return h("div", { class: "cd-table-wrap" }, h("table", { class: "cd-table" }, h("thead", {}, head), h("tbody", {}, rows)));
}

function premium(data) {
  const now = data.current_policy_premium_cents;
  const next = data.adjusted_policy_premium_cents;
  if (typeof next !== "number") return null;
  const text =
    typeof now === "number" && now !== next
      ? t("confirm.premium.change", { before: money(now), after: money(next) })
      : t("confirm.premium.new", { after: money(next) });
  return h("p", { class: "cd-premium" }, h("strong", {}, `${t("confirm.premium")}: `), text);
}

function confirmScreen(pull, action) {
  const actions = pull.servicing_actions;
  const n = actions.findIndex((a) => a.servicing_action_id === action.servicing_action_id) + 1;
  const data = action.confirmation_data || {};
  const policy = data.carrier_policy_number || (data.carrier_policy_numbers || []).join(", ");
  const yes = h("button", { type: "button", class: "cd-primary" }, t("confirm.yes"));
  const no = h("button", { type: "button", class: "cd-secondary" }, t("confirm.no"));
  const answer = async (confirmed) => {
    busy(yes, true);
    busy(no, true);
    try {
      await widget("POST", "/servicingAction", { servicing_action_id: action.servicing_action_id, is_confirmed: confirmed });
    } catch (err) {
      return failed(err);
    }
    progress(confirmed ? "submitting" : "preparing");
  };
  yes.addEventListener("click", () => answer(true));
  no.addEventListener("click", () => answer(false));
  show(
    `confirm:${action.servicing_action_id}`,
    t("confirm.heading", { n, total: actions.length, action: t(`action.${action.type}`) }),
    h("p", {}, t("confirm.intro", { policy })),
    comparison(data),
    premium(data),
    h("div", { class: "cd-buttons" }, yes, no),
  );
}

function outcomes(pull) {
  return h(
    "ul",
    { class: "cd-outcomes" },
    pull.servicing_actions.map((a) =>
      h(
        "li",
        { class: `cd-outcome cd-${a.status.toLowerCase()}` },
        h("span", { class: "cd-outcome-name" }, t(`action.${a.type}`)),
        h("span", {}, t(`outcome.${a.status}`)),
      ),
    ),
  );
}

function doneScreen(pull) {
  stopPolling();
  const none = pull.servicing_actions.length === 0;
  const finish = state.embedded ? h("button", { type: "button", class: "cd-primary", onclick: exit }, t("close")) : null;
  show(
    "done",
    none ? t("done.heading.connected") : t("done.heading"),
    h("p", {}, none ? t("done.connected") : t("done.intro")),
    none ? null : outcomes(pull),
    finish,
  );
  announce(none ? t("done.heading.connected") : t("done.heading"));
  tell("complete", { pull: publicPull(pull) });
}

function errorScreen(kind, retry, vars = {}) {
  stopPolling();
  const button = retry
    ? h("button", { type: "button", class: "cd-primary", onclick: retry }, kind === "network" ? t("error.retry") : t("error.restart"))
    : null;
  show(`error:${kind}`, t(`error.${kind}.heading`, vars), h("p", { role: "alert" }, t(`error.${kind}.body`, vars)), vars.list || null, button);
  tell("error", { type: kind });
}

/** What the embedding page is told of a pull: its ids and statuses, never a token. */
function publicPull(pull) {
  return {
    pull_id: pull.pull_id,
    status: pull.status,
    meta_data: pull.meta_data,
    servicing_actions: pull.servicing_actions.map((a) => ({
      servicing_action_id: a.servicing_action_id,
      type: a.type,
      status: a.status,
    })),
  };
}

// ---- following the pull ----

function stopPolling() {
  if (state.polling) clearTimeout(state.polling.timer);
  state.polling = null;
}

function poll() {
  stopPolling();
  const run = { delay: 400, timer: null };
  state.polling = run;
  const tick = async () => {
    if (state.polling !== run) return;
    let body;
    try {
      body = await widget("GET", "");
    } catch (e) {
      if (state.polling === run) failed(e);
      return;
    }
    if (state.polling !== run) return;
    if (route(body.pull)) {
      run.delay = Math.min(run.delay * 1.5, 3000);
      run.timer = setTimeout(tick, run.delay);
    }
  };
  run.timer = setTimeout(tick, run.delay);
}

/** Shows what the pull's status asks for; true while there is nothing for the consumer to do. */
function route(pull) {
  const past = ["SERVICING", "WAITING_FOR_CONSUMER_CONFIRMATION", "SUBMITTING_CONFIRMATION", "SUCCESS"];
  if (!state.authenticated && past.includes(pull.status)) {
    state.authenticated = true;
    tell("authenticationSuccess", { pull: publicPull(pull) });
  }
  switch (pull.status) {
    case "QUEUED":
    case "PROCESSING":
      return true;
    case "SERVICING":
      if (state.screen === "progress:connecting") progress("preparing");
      return true;
    case "SUBMITTING_CONFIRMATION":
      return true;
    case "IDENTITY_VERIFICATION_OPTIONS":
      stopPolling();
      mfaOptionsScreen(pull);
      return false;
    case "IDENTITY_VERIFICATION":
      stopPolling();
      mfaCodeScreen();
      return false;
    case "NOT_AUTHENTICATED": {
      stopPolling();
      const m = pull.login_error_message;
      loginScreen(null, m ? t("login.failed", { message: m }) : t("login.failed.generic"));
      return false;
    }
    case "WAITING_FOR_CONSUMER_CONFIRMATION": {
      const action = pull.servicing_actions.find((a) => a.status === "WAITING_FOR_CONSUMER_CONFIRMATION");
      if (!action) return true;
      stopPolling();
      confirmScreen(pull, action);
      return false;
    }
    case "SUCCESS":
      doneScreen(pull);
      return false;
    case "VALIDATION_ERROR": {
      const a = pull.servicing_actions.find((x) => x.status === "VALIDATION_ERROR");
      errorScreen("validation", null, { action: a ? t(`action.${a.type}`) : "", list: outcomes(pull) });
      return false;
    }
    case "PROVIDER_ERROR":
      errorScreen("provider", startOver);
      return false;
    default:
      errorScreen("internal", startOver);
      return false;
  }
}

function resume() {
  if (state.pull) progress("connecting");
  else start();
}

function startOver() {
  stopPolling();
  if (state.token && state.pull) return errorScreen("expired", null);
  state.pull = null;
  state.authenticated = false;
  consentScreen();
}

function exit() {
  stopPolling();
  tell("exit", { pull_id: state.pull ? state.pull.id : null, section: state.screen });
}

function start() {
  // The token's lookup runs while the first screen is drawn (it does not use the token up).
  const body = { public_alias: config.publicAlias, connect_token: state.token };
  state.lookup = (state.token ? call("POST", "widget/connectToken", body) : Promise.resolve(null)).then((found) => {
    state.actionTypes = found ? found.servicing_action_types : [];
  });
  consentScreen();
}

tell("ready");
start();
