// The tether console's page (docs/console.md). Plain DOM, no framework, no build step: every
// piece of text from the daemon (device names, reasons, labels, audit details: a stranger's
// words) reaches the page as a text node, never as HTML. Each action is one call of the
// console's API, which is one admin-API call.

const $ = (sel, root = document) => root.querySelector(sel);
let csrf = "";

/** An element: props are attributes (class, type, ...), `on` event handlers; children are nodes or text. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false || v === null) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function flash(message, bad = false) {
  const f = $("#flash");
  f.textContent = message;
  f.className = bad ? "error" : "";
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET (no body) or POST (a JSON body, with the CSRF token) one API path. */
async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body) };
  const res = await fetch(path, { credentials: "same-origin", ...init });
  const value = await res.json().catch(() => ({}));
  if (res.status === 401) loggedOut();
  if (!res.ok) throw new ApiError(res.status, value.error?.status ?? "HTTP", value.error?.message ?? `HTTP ${res.status}`);
  return value;
}

function loggedOut() {
  document.body.replaceChildren(
    h("main", { class: "notice" }, h("h1", {}, "tether console"), h("p", {}, "The session has ended. Run ", h("code", {}, "tether console"), " for a new login link.")),
  );
}

const iso = (ms) =>
  ms
    ? new Date(Number(ms))
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : "–";
function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} days`;
}
/** A fingerprint in groups of four, the first 32 hex digits (the rest adds nothing a person compares). */
const fingerprint = (hex) => (hex.slice(0, 32).match(/.{1,4}/g) ?? []).join(" ") + (hex.length > 32 ? " …" : "");
const roleSelect = (cls, first = "as requested") =>
  h(
    "select",
    { class: cls, "aria-label": "role" },
    h("option", { value: "" }, first),
    h("option", { value: "node" }, "node"),
    h("option", { value: "orchestrator" }, "orchestrator"),
  );

// ---------- Pending requests (live) ----------

const live = { pending: [], cards: new Map(), source: undefined };

function requestCard(r) {
  const code = h("input", {
    class: "typed-code",
    inputmode: "numeric",
    placeholder: "code on the device (optional)",
    "aria-label": "verification code the device shows",
    size: 24,
  });
  const role = roleSelect("role");
  const reason = h("input", { class: "reason", placeholder: "reason", "aria-label": "reason for rejecting", size: 14 });
  const card = h(
    "article",
    { class: "card request", "data-id": r.id },
    h("label", {}, h("input", { type: "checkbox", class: "pick", "aria-label": "select" }), " "),
    h("h2", { class: "name" }, r.name || "(no name)"),
    h("div", { class: "vcode", title: "verification code: it must equal the one the device shows" }, r.verificationCode),
    h(
      "dl",
      {},
      h("dt", {}, "kind"),
      h("dd", { class: "kind" }, r.method === "return" ? "return: its certificate expired; it proved its identity key" : `new pairing (${r.method})`),
      h("dt", {}, "requested role"),
      h("dd", {}, r.requestedRole),
      h("dt", {}, "identity key"),
      h("dd", { class: "fp" }, fingerprint(r.keyFingerprint)),
      h("dt", {}, "from"),
      h("dd", { class: "peer" }, r.peerAddress || "–"),
      h("dt", {}, "age"),
      h("dd", { class: "age" }),
      h("dt", {}, "time left"),
      h("dd", { class: "left" }),
      h("dt", {}, "request"),
      h("dd", { class: "fp" }, r.id),
    ),
    h(
      "div",
      { class: "actions" },
      role,
      code,
      h("button", { type: "button", class: "primary approve", on: { click: () => decide("approve", [{ id: r.id, code: code.value.trim() }], role.value) } }, "Approve"),
      reason,
      h("button", { type: "button", class: "danger reject", on: { click: () => decide("reject", [{ id: r.id }], "", reason.value) } }, "Reject"),
    ),
  );
  return card;
}

function tickRequests() {
  const now = Date.now();
  for (const r of live.pending) {
    const card = live.cards.get(r.id);
    if (!card) continue;
    $(".age", card).textContent = span(now - Number(r.createdAt));
    $(".left", card).textContent = span(Number(r.expiresAt) - now);
  }
}

function applyPending(list) {
  live.pending = list.filter((r) => r.state === "pending").sort((a, b) => Number(a.createdAt) - Number(b.createdAt));
  $("#pending-count").textContent = live.pending.length ? String(live.pending.length) : "";
  const ids = new Set(live.pending.map((r) => r.id));
  for (const [id, card] of live.cards) if (!ids.has(id)) (card.remove(), live.cards.delete(id));
  for (const r of live.pending) if (!live.cards.has(r.id)) live.cards.set(r.id, requestCard(r));
  const list$ = $("#requests");
  if (list$) {
    list$.replaceChildren(...live.pending.map((r) => live.cards.get(r.id)));
    $("#no-requests").hidden = live.pending.length > 0;
  }
  tickRequests();
}

async function decide(verb, items, role = "", reason = "") {
  if (items.length === 0) return flash("select one or more requests first", true);
  try {
    const { results } = await api(`/api/requests/${verb}`, verb === "approve" ? { items, role } : { items, reason });
    const failed = results.filter((x) => !x.ok);
    if (failed.length) flash(failed.map((x) => `${x.id}: ${x.error}`).join("; "), true);
    else flash(`${verb === "approve" ? "approved" : "rejected"} ${results.length} request${results.length === 1 ? "" : "s"}`);
  } catch (e) {
    flash(e.message, true);
  }
}

function startLive() {
  const src = new EventSource("/api/events");
  live.source = src;
  src.addEventListener("open", () => {
    $("#live").textContent = "live";
    $("#live").className = "live on";
  });
  src.addEventListener("requests", (ev) => applyPending(JSON.parse(ev.data).requests ?? []));
  src.addEventListener("trouble", (ev) => flash(`the daemon does not answer: ${JSON.parse(ev.data).message}`, true));
  src.addEventListener("error", () => {
    $("#live").textContent = "reconnecting…";
    $("#live").className = "live";
    if (src.readyState === EventSource.CLOSED) api("/api/session").catch(() => undefined);
  });
  setInterval(tickRequests, 1000);
}

function requestsPage() {
  const role = roleSelect("bulk-role");
  const reason = h("input", { class: "bulk-reason", placeholder: "reason", "aria-label": "reason for rejecting the selected", size: 14 });
  const picked = () => [...document.querySelectorAll("#requests .request")].filter((c) => $(".pick", c).checked).map((c) => ({ id: c.dataset.id }));
  return [
    h("h1", {}, "Pending requests"),
    h(
      "div",
      { class: "bar" },
      h(
        "label",
        {},
        h("input", { type: "checkbox", class: "pick-all", on: { change: (e) => document.querySelectorAll("#requests .pick").forEach((p) => (p.checked = e.target.checked)) } }),
        " all",
      ),
      role,
      h("button", { type: "button", class: "approve-selected", on: { click: () => decide("approve", picked(), role.value) } }, "Approve selected"),
      reason,
      h("button", { type: "button", class: "danger reject-selected", on: { click: () => decide("reject", picked(), "", reason.value) } }, "Reject selected"),
    ),
    h("p", { id: "no-requests", class: "empty" }, "No request is waiting. A node that pairs with a code appears here within a second."),
    h("section", { id: "requests", class: "cards" }),
  ];
}

// ---------- Mint a code ----------

function codePage() {
  const method = h("select", { class: "method", "aria-label": "kind of code" }, h("option", { value: "pin" }, "PIN (to type)"), h("option", { value: "qr" }, "QR code (to scan)"));
  const ttl = h("input", { class: "ttl", type: "number", min: 1, max: 3600, value: "300", "aria-label": "lifetime in seconds", size: 6 });
  const role = roleSelect("role", "role: as the node asks");
  const out = h("section", { class: "minted" });
  const mint = async () => {
    try {
      const m = await api("/api/codes", { method: method.value, ttlSeconds: Number(ttl.value) || 0, role: role.value });
      const expires = h("p", { class: "expires" }, `valid until ${iso(m.expiresAt)}, for one device`);
      out.replaceChildren(
        m.method === "qr"
          ? h("img", { class: "qr", alt: "pairing QR code", src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(m.qrSvg)}` })
          : h("div", { class: "pin" }, m.code),
        expires,
        h("p", { class: "muted" }, m.method === "qr" ? "Scan it with the node: tether node pair --qr-image, or its camera." : "Type it on the node: tether node pair --pin."),
      );
    } catch (e) {
      flash(e.message, true);
    }
  };
  return [
    h("h1", {}, "Mint a pairing code"),
    h("div", { class: "bar" }, method, h("label", {}, "lifetime (s) ", ttl), role, h("button", { type: "button", class: "primary mint", on: { click: mint } }, "Mint")),
    out,
  ];
}

// ---------- Devices ----------

async function devicesPage() {
  const { devices } = await api("/api/devices");
  const search = h("input", { class: "search", type: "search", placeholder: "search name, id, label, capability", "aria-label": "search devices", size: 32 });
  const filter = h("select", { class: "filter", "aria-label": "which devices" }, ...["all", "online", "offline", "revoked"].map((v) => h("option", { value: v }, v)));
  const body = h("tbody");
  const row = (d) => {
    const status = d.revokedAt ? h("span", { class: "revoked" }, "revoked") : d.online ? h("span", { class: "online" }, "online") : h("span", { class: "offline" }, "offline");
    const actions = h("td", { class: "actions-cell" });
    const reset = () =>
      actions.replaceChildren(
        ...(d.revokedAt
          ? []
          : [
              h("button", { type: "button", class: "rotate", on: { click: () => act("/api/devices/rotate", { id: d.id }, "rotation requested") } }, "Rotate"),
              " ",
              h("button", { type: "button", class: "danger revoke", on: { click: askReason } }, "Revoke"),
            ]),
      );
    const askReason = () => {
      const reason = h("input", { class: "revoke-reason", placeholder: "reason", "aria-label": "reason for revoking", size: 14 });
      actions.replaceChildren(
        reason,
        " ",
        h(
          "button",
          { type: "button", class: "danger confirm-revoke", on: { click: () => act("/api/devices/revoke", { id: d.id, reason: reason.value }, `revoked ${d.name}`) } },
          "Confirm revoke",
        ),
        " ",
        h("button", { type: "button", class: "quiet", on: { click: reset } }, "Cancel"),
      );
      reason.focus();
    };
    reset();
    return h(
      "tr",
      { class: "device", "data-id": d.id },
      h("td", {}, h("strong", { class: "name" }, d.name), h("br"), h("span", { class: "fp" }, d.id)),
      h("td", {}, d.role),
      h("td", { class: "status" }, status, d.online && d.connectedVia ? h("div", { class: "fp" }, `via ${d.connectedVia}`) : ""),
      h("td", {}, (d.capabilities ?? []).join(", ") || "–"),
      h(
        "td",
        {},
        Object.entries(d.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || "–",
      ),
      h("td", {}, iso(d.certificateNotAfter), d.rotationPending ? h("div", {}, "rotation pending") : ""),
      h("td", {}, iso(d.lastSeen)),
      actions,
    );
  };
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const which = filter.value;
    const shown = devices.filter((d) => {
      if (which === "online" && !(d.online && !d.revokedAt)) return false;
      if (which === "offline" && (d.online || d.revokedAt)) return false;
      if (which === "revoked" && !d.revokedAt) return false;
      if (!q) return true;
      const hay = [d.name, d.id, d.role, ...(d.capabilities ?? []), ...Object.entries(d.labels ?? {}).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
      return hay.includes(q);
    });
    body.replaceChildren(...shown.map(row));
    if (shown.length === 0) body.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, devices.length ? "no device matches" : "no devices yet")));
  };
  search.addEventListener("input", show);
  filter.addEventListener("change", show);
  show();
  return [
    h("h1", {}, `Devices (${devices.length})`),
    h("div", { class: "bar" }, search, filter, h("button", { type: "button", class: "refresh", on: { click: route } }, "Refresh")),
    h("table", {}, h("thead", {}, h("tr", {}, ...["device", "role", "status", "capabilities", "labels", "certificate expires", "last seen", ""].map((t) => h("th", {}, t)))), body),
  ];
}

async function act(path, body, done) {
  try {
    await api(path, body);
    flash(done);
    await route();
  } catch (e) {
    flash(e.message, true);
  }
}

// ---------- Jobs ----------

const JOB_STATES = ["queued", "delivered", "running", "succeeded", "failed", "timed_out", "cancelled"];
const FINAL = new Set(["succeeded", "failed", "timed_out", "cancelled"]);

async function jobsPage() {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const state = h("select", { class: "state", "aria-label": "state" }, h("option", { value: "" }, "every state"), ...JOB_STATES.map((s) => h("option", { value: s }, s)));
  state.value = params.get("state") ?? "";
  const device = h("input", { class: "device", placeholder: "device id", "aria-label": "device id", size: 32, value: params.get("device") ?? "" });
  const apply = () => {
    const q = new URLSearchParams();
    if (state.value) q.set("state", state.value);
    if (device.value.trim()) q.set("device", device.value.trim());
    location.hash = `#/jobs${q.size ? `?${q}` : ""}`;
  };
  const q = new URLSearchParams({ limit: "200" });
  if (state.value) q.set("state", state.value);
  if (device.value) q.set("device", device.value);
  const { jobs } = await api(`/api/jobs?${q}`);
  const rows = jobs.map((j) =>
    h(
      "tr",
      { class: "job", "data-id": j.id },
      h("td", { class: "fp" }, j.id),
      h("td", { class: "fp" }, j.deviceId),
      h("td", {}, j.capability),
      h("td", { class: `state-${j.state}` }, j.state, j.error ? h("div", {}, j.error) : ""),
      h("td", {}, String(j.attempts)),
      h("td", {}, iso(j.createdAt)),
      h("td", {}, iso(j.updatedAt)),
      h(
        "td",
        {},
        FINAL.has(j.state)
          ? ""
          : h(
              "button",
              { type: "button", class: "danger cancel", on: { click: () => act("/api/jobs/cancel", { id: j.id, reason: "cancelled from the console" }, `cancelled ${j.id}`) } },
              "Cancel",
            ),
      ),
    ),
  );
  return [
    h("h1", {}, "Jobs"),
    h("div", { class: "bar" }, state, device, h("button", { type: "button", class: "apply", on: { click: apply } }, "Filter")),
    jobs.length
      ? h(
          "table",
          {},
          h("thead", {}, h("tr", {}, ...["job", "device", "capability", "state", "attempts", "created", "updated", ""].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "empty" }, "no jobs"),
  ];
}

// ---------- Audit ----------

async function auditPage() {
  const before = new URLSearchParams(location.hash.split("?")[1] ?? "").get("before") ?? "0";
  const [page, check] = await Promise.all([api(`/api/audit?before=${encodeURIComponent(before)}`), api("/api/audit/verify")]);
  const verdict = check.ok
    ? h(
        "p",
        { class: "verdict ok" },
        `Chain verified: ${check.entries} entries, head ${String(check.head).slice(0, 16)}…`,
        check.gaps?.length ? ` (${check.gaps.length} accepted gap(s) from store repair)` : "",
      )
    : h("p", { class: "verdict bad" }, `Chain broken at entry ${check.brokenAt}: ${check.reason}`);
  const rows = [...page.entries]
    .reverse()
    .map((e) =>
      h(
        "tr",
        { class: "entry" },
        h("td", {}, String(e.seq)),
        h("td", {}, iso(e.time)),
        h("td", {}, e.type),
        h("td", { class: "fp" }, e.actor),
        h("td", { class: "fp" }, e.subject),
        h("td", { class: "fp" }, e.details),
      ),
    );
  return [
    h("h1", {}, "Audit log"),
    verdict,
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", "time", "event", "actor", "subject", "details"].map((t) => h("th", {}, t)))), h("tbody", {}, rows)),
    Number(page.nextBefore) ? h("p", {}, h("a", { href: `#/audit?before=${page.nextBefore}`, class: "older" }, "older entries")) : "",
  ];
}

// ---------- Routing ----------

const PAGES = { requests: requestsPage, code: codePage, devices: devicesPage, jobs: jobsPage, audit: auditPage };

async function route() {
  const name = (location.hash.match(/^#\/(\w+)/) ?? [])[1] ?? "requests";
  const page = PAGES[name] ?? requestsPage;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.dataset.page === name);
  const main = $("#page");
  main.dataset.page = name;
  try {
    const content = await page();
    main.replaceChildren(...[content].flat());
    if (page === requestsPage) applyPending(live.pending);
    main.dataset.ready = name;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    main.replaceChildren(h("p", { class: "bad" }, e.message));
  }
}

async function start() {
  try {
    ({ csrf } = await api("/api/session"));
  } catch {
    return;
  }
  $("#logout").addEventListener("click", async () => {
    await api("/api/logout", {}).catch(() => undefined);
    loggedOut();
  });
  api("/api/status")
    .then((s) => ($("#daemon").textContent = `tether ${s.version} · ${s.listen} · CA ${fingerprint(s.caFingerprint)}`))
    .catch(() => undefined);
  window.addEventListener("hashchange", () => {
    flash("");
    void route();
  });
  startLive();
  await route();
}

start();
