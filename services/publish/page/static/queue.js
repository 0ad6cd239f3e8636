// The editors' publish queue: sign in, watch deliveries live (Server-Sent
// Events), filter, open a story, and act (retry, hold, release, cancel, kill).
// Plain browser JavaScript, no framework and nothing loaded from elsewhere.
// Every value from the API is written with textContent, never as markup; the
// outlets' rendered HTML is shown only inside a sandboxed iframe.
"use strict";

const TOKEN_KEY = "newsroom.editorToken";
let STATUSES = []; // the delivery statuses, in order, as the API lists them
const FLAGS = ["FLASH", "BULLETIN", "URGENT", "EMBARGOED", "KILLED", "WITHHELD", "EXPIRED", "STALE", "SUPERSEDED"];
const LIST_LIMIT = 500;
// How each action looks. Which ones a delivery allows now, and why it waits, come
// from the API (`actions`, `waiting`): the rules live only in the publish service.
const ACTIONS = {
  retry: { label: "Retry", danger: false },
  hold: { label: "Hold", danger: false },
  release: { label: "Release", danger: false },
  cancel: { label: "Cancel", danger: true },
};
const EXPLAIN = {
  retry: "It is sent again as soon as it may (never before its embargo), with the same webhook id, so the outlet can recognise a repeat.",
  hold: "It stays in the queue and is not sent until someone releases it.",
  release: "It goes back into the outlet's queue and is sent as soon as it may (never before its embargo).",
  cancel: "It will not be sent. The outlet gets nothing more of this version.",
};

const $ = (selector, root = document) => root.querySelector(selector);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  deliveries: new Map(), // id -> delivery
  rows: new Map(), // id -> <tr>
  counts: { by_status: {}, by_outlet: {} },
  partners: new Set(),
  killed: new Set(), // stories with a kill notice: every row of theirs says so
  outlets: new Set(),
  events: null,
  storyId: null,
  refreshTimer: null,
  storyTimer: null,
  renditionsKey: null, // what the story view's outlet previews show, to keep them while unchanged
  queueHash: "#/", // the queue's address with its filters
};

// ---- small helpers ------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number" || /^\d+(\.\d+)?$/.test(String(value))) {
    const n = Number(value);
    return new Date(n < 1e12 ? n * 1000 : n);
  }
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function timeCell(value) {
  const d = toDate(value);
  if (!d) return el("span", { text: "—", "aria-label": "not yet" });
  const today = new Date().toDateString() === d.toDateString();
  const text = today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return el("time", { datetime: d.toISOString(), title: d.toString(), text });
}

function flagClass(flag) {
  const word = String(flag).split(/\s/)[0].toLowerCase().replace(/[^a-z]/g, "");
  return `flag f-${word}`;
}

function statusPill(status) {
  return el("span", { class: `status s-${status}`, text: status });
}

function actionWord(eventType) {
  return String(eventType || "").replace(/^story\./, "") || "—";
}

function toast(message, bad = false) {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast show${bad ? " bad" : ""}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.className = "toast"), 4500);
}

// ---- the API ------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${state.token}`, accept: "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) throw new Unauthorized("The editor token was not accepted.");
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  if (!response.ok) {
    const detail = (body && (body.detail || body.title)) || `HTTP ${response.status}`;
    throw new Error(detail);
  }
  return body;
}

function failed(error) {
  if (error instanceof Unauthorized) {
    signOut(error.message);
    return;
  }
  toast(error.message || String(error), true);
}

// ---- sign in -------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  await api("/v1/deliveries?limit=1");
  sessionStorage.setItem(TOKEN_KEY, token);
}

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = "";
  if (state.events) state.events.close();
  state.events = null;
  // Nothing an editor saw stays in the page after signing out.
  state.deliveries.clear();
  state.rows.clear();
  state.killed.clear();
  state.counts = { by_status: {}, by_outlet: {} };
  state.storyId = null;
  $("#deliveries tbody").replaceChildren();
  $("#story-body").replaceChildren();
  setLive("off", "not connected");
  $("#signout").hidden = true;
  $("#queue").hidden = true;
  $("#story").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#token").value = "";
  $("#token").focus();
}

function setLive(mode, text) {
  const live = $("#live");
  live.dataset.state = mode;
  live.textContent = text;
}

// ---- live updates ----------------------------------------------------------------

function connect() {
  if (state.events) state.events.close();
  const source = new EventSource(`/v1/events?token=${encodeURIComponent(state.token)}`);
  state.events = source;
  // The server ends the stream every half minute and EventSource resumes it with
  // Last-Event-ID, so a short gap is routine; only a long one needs a full refresh.
  let lostAt = null;
  let showLost = null;
  source.addEventListener("open", () => {
    clearTimeout(showLost);
    setLive("on", "live");
    if (lostAt !== null && Date.now() - lostAt > 5000) scheduleRefresh(0);
    lostAt = null;
  });
  source.addEventListener("error", () => {
    if (lostAt === null) lostAt = Date.now();
    if (source.readyState === EventSource.CLOSED) {
      setLive("off", "disconnected");
      // EventSource gives no status code: ask the API whether the token still works.
      api("/v1/deliveries?limit=1").then(() => setTimeout(connect, 2000), failed);
    } else {
      clearTimeout(showLost);
      showLost = setTimeout(() => setLive("retry", "reconnecting…"), 2000);
    }
  });
  source.addEventListener("delivery", (event) => {
    let delivery;
    try {
      delivery = JSON.parse(event.data);
    } catch {
      return;
    }
    upsert(delivery, true);
    scheduleRefresh(1500);
    if (state.storyId && delivery.story_id === state.storyId) scheduleStory();
  });
}

function scheduleRefresh(delay) {
  if (state.refreshTimer !== null && delay > 0) return;
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh().catch(failed);
  }, delay);
}

function scheduleStory() {
  if (state.storyTimer !== null) return;
  state.storyTimer = setTimeout(() => {
    state.storyTimer = null;
    if (state.storyId) loadStory(state.storyId, false).catch(failed);
  }, 400);
}

// ---- filters ---------------------------------------------------------------------

function filters() {
  const form = $("#filters");
  return {
    q: form.q.value.trim(),
    outlet: form.outlet.value,
    status: form.status.value,
    partner: form.partner.value,
    flag: form.flag.value,
  };
}

function matches(d, f = filters()) {
  if (f.outlet && d.outlet !== f.outlet) return false;
  if (f.status && d.status !== f.status) return false;
  if (f.partner && d.partner !== f.partner) return false;
  if (f.flag && !(d.flags || []).some((flag) => String(flag).toUpperCase().startsWith(f.flag))) return false;
  if (f.q && !String(d.headline || "").toLowerCase().includes(f.q.toLowerCase())) return false;
  return true;
}

function query(f) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(f)) if (value) params.set(name, value);
  params.set("limit", String(LIST_LIMIT));
  return params.toString();
}

function fillSelect(select, values, label = (v) => v) {
  const current = select.value;
  const first = select.options[0];
  const wanted = [...values];
  if (current && !wanted.includes(current)) wanted.push(current);
  const existing = [...select.options].slice(1).map((o) => o.value);
  if (existing.join("\n") === wanted.join("\n")) return;
  select.replaceChildren(first, ...wanted.map((v) => el("option", { value: v, text: label(v) })));
  select.value = current;
}

function updateFilterChoices() {
  const form = $("#filters");
  fillSelect(form.outlet, [...state.outlets].sort());
  fillSelect(form.partner, [...state.partners].sort());
}

// ---- the queue -------------------------------------------------------------------

function newer(a, b) {
  const ta = toDate(a.updated_at);
  const tb = toDate(b.updated_at);
  if (!ta || !tb) return true;
  return ta.getTime() >= tb.getTime();
}

function upsert(delivery, live) {
  const known = state.deliveries.get(delivery.id);
  if (known && !newer(delivery, known)) return;
  state.deliveries.set(delivery.id, delivery);
  noteKill(delivery);
  if (delivery.partner) state.partners.add(delivery.partner);
  if (delivery.outlet) state.outlets.add(delivery.outlet);
  if (live && known && known.status !== delivery.status) {
    const counts = state.counts.by_status;
    counts[known.status] = Math.max(0, (counts[known.status] || 0) - 1);
    counts[delivery.status] = (counts[delivery.status] || 0) + 1;
    const outlet = (state.counts.by_outlet[delivery.outlet] ||= {});
    outlet[known.status] = Math.max(0, (outlet[known.status] || 0) - 1);
    outlet[delivery.status] = (outlet[delivery.status] || 0) + 1;
    renderCounts();
  } else if (live && !known) {
    state.counts.by_status[delivery.status] = (state.counts.by_status[delivery.status] || 0) + 1;
    const outlet = (state.counts.by_outlet[delivery.outlet] ||= {});
    outlet[delivery.status] = (outlet[delivery.status] || 0) + 1;
    renderCounts();
  }
  renderRows(live ? delivery.id : null);
}

async function refresh() {
  const f = filters();
  // The counts in the answer cover every delivery, whatever the filters.
  const listed = await api(`/v1/deliveries?${query(f)}`);
  if (!state.token) return; // signed out while the answer was on its way
  for (const d of listed.deliveries || []) {
    const known = state.deliveries.get(d.id);
    if (!known || newer(d, known)) state.deliveries.set(d.id, d);
    noteKill(d);
    if (d.partner) state.partners.add(d.partner);
    if (d.outlet) state.outlets.add(d.outlet);
  }
  state.counts = listed.counts || { by_status: {}, by_outlet: {} };
  if (Array.isArray(listed.statuses)) {
    STATUSES = listed.statuses;
    fillSelect($("#f-status"), STATUSES);
  }
  for (const outlet of Object.keys(state.counts.by_outlet || {})) state.outlets.add(outlet);
  updateFilterChoices();
  renderCounts();
  renderRows(null);
}

function noteKill(d) {
  if (d.event_type === "story.killed" && !state.killed.has(d.story_id)) {
    state.killed.add(d.story_id);
    for (const row of state.rows.values()) if (row.dataset.story === d.story_id) row.dataset.version = "";
  }
}

function sortKey(d) {
  const t = toDate(d.queued_at) || toDate(d.updated_at);
  return t ? t.getTime() : 0;
}

function renderRows(changedId) {
  const tbody = $("#deliveries tbody");
  const f = filters();
  const shown = [...state.deliveries.values()]
    .filter((d) => matches(d, f))
    .sort((a, b) => sortKey(b) - sortKey(a) || String(b.id).localeCompare(String(a.id)))
    .slice(0, LIST_LIMIT);
  const keep = new Set(shown.map((d) => d.id));
  for (const [id, row] of state.rows) {
    if (!keep.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }
  shown.forEach((d, index) => {
    let row = state.rows.get(d.id);
    if (!row) {
      row = el("tr");
      state.rows.set(d.id, row);
      fillRow(row, d);
    } else if (row.dataset.version !== rowVersion(d)) {
      fillRow(row, d);
    }
    if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] || null);
    if (d.id === changedId) {
      row.classList.remove("changed");
      void row.offsetWidth; // restart the highlight animation
      row.classList.add("changed");
    }
  });
  $("#empty").hidden = shown.length > 0;
  const total = Object.values(state.counts.by_status || {}).reduce((a, b) => a + b, 0);
  $("#summary").textContent = `Showing ${shown.length} of ${Math.max(total, shown.length)} deliveries${
    Object.values(f).some(Boolean) ? " (filtered)" : ""
  }.`;
}

function lastError(d) {
  if (!d.last_error) return "";
  // The outlet's answer explains a failure; beside an editor's cancel it would only confuse.
  const answered = d.status_code && ["failed", "retrying"].includes(d.status);
  const code = answered && !String(d.last_error).includes(`HTTP ${d.status_code}`) ? `HTTP ${d.status_code} · ` : "";
  return `${code}${d.last_error}`;
}

function rowVersion(d) {
  return [d.status, d.attempts, d.updated_at, d.last_error, (d.flags || []).join("|"), d.age_label,
    state.killed.has(d.story_id)].join("~");
}

function badges(d) {
  const list = [];
  const flags = [...(d.flags || [])];
  if (state.killed.has(d.story_id) && !flags.includes("KILLED")) flags.unshift("KILLED");
  if (d.age_label) list.push(el("span", { class: "flag f-age", text: d.age_label }));
  for (const flag of flags) list.push(el("span", { class: flagClass(flag), text: flag }));
  return list.length ? el("div", { class: "badges" }, list) : null;
}

function actionButtons(d, small = true) {
  return (d.actions || [])
    .filter((name) => name in ACTIONS)
    .map((name) => [name, ACTIONS[name]])
    .map(([name, action]) =>
      el("button", {
        type: "button",
        class: `${small ? "small" : ""}${action.danger ? " danger" : ""}`,
        "data-action": name,
        "aria-label": `${action.label} delivery of “${d.headline || d.story_id}” to ${d.outlet}`,
        text: action.label,
        onclick: () => confirmDeliveryAction(name, d.id),
      }),
    );
}

// A table cell labelled for the phone layout, where each row becomes a card;
// empty cells are marked so the card can leave them out.
function cell(label, cls, ...content) {
  const value = el("div", { class: "v" }, ...content);
  const blank = !value.textContent.trim() || value.textContent.trim() === "—";
  return el("td", { "data-label": label, class: `${cls}${blank ? " blank" : ""}` }, value);
}

function fillRow(row, d) {
  const focused = row.contains(document.activeElement) ? document.activeElement.dataset.action || "link" : null;
  row.dataset.id = d.id;
  row.dataset.story = d.story_id;
  row.dataset.outlet = d.outlet;
  row.dataset.status = d.status;
  row.dataset.action = actionWord(d.event_type);
  row.classList.toggle("killed", state.killed.has(d.story_id));
  row.dataset.version = rowVersion(d);
  const link = el("a", { href: `#/story/${encodeURIComponent(d.story_id)}`, text: d.headline || d.story_id });
  row.replaceChildren(
    cell("Queued", "time", timeCell(d.queued_at)),
    cell("Headline", "headline", link, badges(d), d.waiting ? el("div", { class: "detail waiting", text: d.waiting }) : null),
    cell("Action", "nowrap", actionWord(d.event_type)),
    cell("Outlet", "nowrap", d.outlet),
    cell("Partner", "", d.partner || "—"),
    cell("Version", "num", d.version ?? "—"),
    cell("Status", "", statusPill(d.status), d.next_attempt_at && d.status === "retrying"
      ? el("div", { class: "detail" }, "next ", timeCell(d.next_attempt_at)) : null),
    cell("Tries", "num", d.attempts ?? 0),
    cell("Last error", "error", lastError(d)),
    cell("Sent", "time", timeCell(d.sent_at)),
    cell("Actions", "actions", actionButtons(d)),
  );
  if (focused) {
    const target = focused === "link" ? null : row.querySelector(`[data-action="${focused}"]`);
    (target || link).focus();
  }
}

function renderCounts() {
  const f = filters();
  const byStatus = state.counts.by_status || {};
  // The counts are rebuilt on every change; keep a keyboard user's place in them.
  const active = document.activeElement;
  const refocus = active && active.closest && active.closest(".counts") ? active.dataset : null;
  $("#status-counts").replaceChildren(
    ...STATUSES.map((status) =>
      el(
        "button",
        {
          type: "button",
          class: `chip s-${status}`,
          "data-status": status,
          "aria-pressed": f.status === status ? "true" : "false",
          onclick: () => setFilter("status", f.status === status ? "" : status),
        },
        el("strong", { text: byStatus[status] || 0 }),
        status,
      ),
    ),
  );
  const outlets = Object.entries(state.counts.by_outlet || {}).sort(([a], [b]) => a.localeCompare(b));
  $("#outlet-counts").replaceChildren(
    ...outlets.map(([name, counts]) => {
      const bad = (counts.failed || 0) + (counts.retrying || 0);
      const tally = STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(" · ") || "nothing yet";
      return el(
        "button",
        {
          type: "button",
          class: `outlet${bad ? " failing" : ""}`,
          "data-outlet": name,
          "aria-pressed": f.outlet === name ? "true" : "false",
          onclick: () => setFilter("outlet", f.outlet === name ? "" : name),
        },
        el("span", { class: "name", text: name }),
        bad ? el("span", { class: "alarm", text: `⚠ failing: ${counts.failed || 0} failed, ${counts.retrying || 0} retrying` }) : null,
        el("span", { class: "tally", text: tally }),
      );
    }),
  );
  if (refocus) {
    const again = refocus.status
      ? $(`#status-counts [data-status="${CSS.escape(refocus.status)}"]`)
      : $(`#outlet-counts [data-outlet="${CSS.escape(refocus.outlet || "")}"]`);
    if (again) again.focus();
  }
}

function setFilter(name, value) {
  const form = $("#filters");
  if (name === "outlet" || name === "partner") {
    fillSelect(form[name], [...(name === "outlet" ? state.outlets : state.partners)].sort());
  }
  form[name].value = value;
  filtersChanged();
}

function filtersChanged() {
  renderCounts();
  renderRows(null);
  const f = filters();
  const params = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  const hash = `#/${params.toString() ? `?${params}` : ""}`;
  if (location.hash !== hash && !state.storyId) history.replaceState(null, "", hash);
  if (!state.storyId) state.queueHash = hash; // "Back to the queue" returns to these filters
  scheduleRefresh(250);
}

// ---- actions -----------------------------------------------------------------------

function confirmDialog(title, text, okLabel, danger) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  const ok = $("#confirm-ok");
  ok.textContent = okLabel;
  ok.className = danger ? "danger" : "primary";
  dialog.returnValue = "";
  const opener = document.activeElement;
  const openerKey = focusKey(document.body);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        // A live update may have replaced the button meanwhile: find its successor.
        if (opener && opener.isConnected) opener.focus();
        else restoreFocus(document.body, openerKey);
        resolve(dialog.returnValue === "ok");
      },
      { once: true },
    );
  });
}

async function confirmDeliveryAction(name, id) {
  const d = state.deliveries.get(id) || { id, outlet: "?", headline: id };
  const action = ACTIONS[name];
  const ok = await confirmDialog(
    `${action.label} this delivery?`,
    `${action.label} “${d.headline || d.story_id}” (version ${d.version ?? "?"}) to ${d.outlet}. ${EXPLAIN[name]}`,
    `${action.label} delivery`,
    action.danger,
  );
  if (!ok) return;
  try {
    const result = await api(`/v1/deliveries/${encodeURIComponent(id)}/${name}`, { method: "POST" });
    const updated = result && result.delivery ? result.delivery : result;
    if (updated && updated.id === id) upsert(updated, true);
    toast(`${action.label}: ${d.outlet} — ${d.headline || d.story_id}`);
    if (state.storyId) scheduleStory();
  } catch (error) {
    failed(error);
  }
}

async function confirmKill(storyId, headline) {
  const ok = await confirmDialog(
    "Kill this story everywhere?",
    `“${headline}” will be withdrawn: every outlet that received any version gets a kill notice ahead of ` +
      "routine traffic, and nothing more of this story is sent. This cannot be undone.",
    "Kill story everywhere",
    true,
  );
  if (!ok) return;
  try {
    await api(`/v1/stories/${encodeURIComponent(storyId)}/kill`, { method: "POST" });
    toast(`Killed: ${headline}`);
    scheduleRefresh(0);
    scheduleStory();
  } catch (error) {
    failed(error);
  }
}

// ---- the story view -------------------------------------------------------------------

function section(title, ...content) {
  return el("section", { class: "panel" }, el("h3", { text: title }), ...content);
}

function ninjsText(list, role = "main") {
  const items = list || [];
  const chosen = items.find((x) => x.role === role) || items[0];
  return chosen ? chosen.value : "";
}

function storyHeader(story, deliveries, enrichment) {
  const flags = new Set((enrichment && enrichment.flags) || []);
  for (const d of deliveries) for (const flag of d.flags || []) flags.add(flag);
  const meta = [
    deliveries[0] && deliveries[0].partner && `from ${deliveries[0].partner}`,
    story.version && `version ${story.version}`,
    story.pubstatus,
    story.urgency && `urgency ${story.urgency}`,
    story.language,
    story.located && `dateline ${story.located}`,
    story.byline && `by ${story.byline}`,
  ].filter(Boolean);
  const headline = story.headline || ninjsText(story.headlines) || story.uri || state.storyId;
  const description = story.description || ninjsText(story.descriptions, "summary");
  const killed = deliveries.some((d) => d.event_type === "story.killed");
  return el(
    "div",
    { class: "story-head" },
    el(
      "div",
      {},
      el("h2", { id: "story-title", tabindex: "-1", text: headline }),
      el("p", { class: "meta", text: meta.join(" · ") }),
      el("p", { class: "meta tag-id", text: `${state.storyId} · ${story.uri || ""}` }),
      el(
        "div",
        { class: "badges" },
        enrichment && enrichment.age_label ? el("span", { class: "flag f-age", text: enrichment.age_label }) : null,
        [...flags].map((flag) => el("span", { class: flagClass(flag), text: flag })),
      ),
      description ? el("p", { text: description }) : null,
    ),
    killed
      ? el("button", { type: "button", class: "danger", id: "kill", disabled: true, text: "Killed everywhere" })
      : el("button", {
          type: "button",
          class: "danger",
          id: "kill",
          text: "Kill story everywhere",
          onclick: () => confirmKill(state.storyId, headline),
        }),
  );
}

function storyDeliveries(deliveries) {
  const rows = deliveries.map((d) =>
    el(
      "tr",
      { "data-id": d.id, "data-outlet": d.outlet, "data-status": d.status },
      cell("Outlet", "", d.outlet, el("div", { class: "tag-id", title: "webhook-id: the same on every retry", text: d.id })),
      cell("Action", "", actionWord(d.event_type)),
      cell("Version", "num", d.version ?? "—"),
      cell("Status", "", statusPill(d.status), badges(d)),
      cell("Tries", "num", d.attempts ?? 0),
      cell("Last error", "error", lastError(d)),
      cell("Sent", "time", timeCell(d.sent_at)),
      cell("Actions", "actions", actionButtons(d)),
    ),
  );
  const head = ["Outlet", "Action", "Ver.", "Status", "Tries", "Last error", "Sent", ""].map((h) =>
    el("th", { scope: "col", text: h }),
  );
  return section(
    "Deliveries",
    deliveries.length
      ? el("div", { class: "table-wrap", role: "region", "aria-label": "Deliveries of this story", tabindex: "0" },
          el("table", { class: "deliveries", id: "story-deliveries" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows)))
      : el("p", { class: "empty", text: "Not routed to any outlet (yet)." }),
  );
}

function prettyPayload(payload) {
  if (typeof payload !== "string") return JSON.stringify(payload, null, 2);
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload; // HTML or plain text, shown exactly as sent
  }
}

function renditions(all) {
  const outlets = Object.keys(all || {}).sort();
  if (!outlets.length) return section("As each outlet receives it", el("p", { class: "empty", text: "No rendition yet." }));
  const panel = el("div", { class: "rendition", role: "tabpanel" });
  const tabs = outlets.map((outlet, index) =>
    el("button", {
      type: "button",
      role: "tab",
      id: `tab-${outlet}`,
      "aria-selected": index === 0 ? "true" : "false",
      tabindex: index === 0 ? "0" : "-1",
      text: `${outlet} (${all[outlet].format || "?"})`,
      onclick: (event) => show(outlet, event.currentTarget),
      onkeydown: (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(tabs.indexOf(event.currentTarget) + step + tabs.length) % tabs.length];
        next.focus();
        next.click();
      },
    }),
  );
  function show(outlet, tab) {
    for (const t of tabs) {
      t.setAttribute("aria-selected", t === tab ? "true" : "false");
      t.tabIndex = t === tab ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", tab.id);
    const r = all[outlet];
    const payload = prettyPayload(r.payload);
    const frame = el("iframe", { sandbox: "", title: `The story as ${outlet} shows it`, referrerpolicy: "no-referrer" });
    frame.srcdoc = r.html || "<p>No HTML rendition.</p>";
    panel.replaceChildren(
      el("div", { class: "grid2" },
        el("div", {}, el("h4", { text: "Rendered" }), frame),
        el("div", {}, el("h4", { text: `Raw payload (${r.format || "?"})` }), el("pre", { class: "payload", tabindex: "0", text: payload || "" }))),
    );
  }
  show(outlets[0], tabs[0]);
  return section("As each outlet receives it", el("div", { class: "tabs", role: "tablist", "aria-label": "Outlets" }, tabs), panel);
}

function tagsPanel(enrichment) {
  const groups = [
    ["People", "people"],
    ["Organisations", "organisations"],
    ["Places", "places"],
    ["Events", "events"],
  ];
  const blocks = groups
    .filter(([, key]) => (enrichment[key] || []).length)
    .map(([title, key]) =>
      el("div", {}, el("h4", { text: title }),
        el("ul", {}, enrichment[key].map((tag) =>
          el("li", {}, el("strong", { text: tag.name }),
            tag.relevance ? ` ${Math.round(tag.relevance * 100)}%` : "",
            el("div", { class: "tag-id", text: tag.uri || tag.literal || "no id" }))))),
    );
  return section("Entity tags", blocks.length ? el("div", { class: "tags" }, blocks) : el("p", { class: "empty", text: "No entities tagged." }));
}

function linksPanel(title, links, emptyText) {
  const items = (links || []).map((link) =>
    el("li", {},
      el("a", { href: `#/story/${encodeURIComponent(link.story_id)}`, text: link.headline || link.uri }),
      typeof link.score === "number" ? ` · score ${link.score.toFixed(2)}` : "",
      el("div", { class: "reason", text: [
        link.reason,
        (link.shared_entities || []).length ? `shared: ${link.shared_entities.join(", ")}` : "",
        typeof link.days_apart === "number" ? `${link.days_apart.toFixed(1)} days apart` : "",
      ].filter(Boolean).join(" · ") })),
  );
  return section(title, items.length ? el("ul", { class: "links" }, items) : el("p", { class: "empty", text: emptyText }));
}

const TIMELINE_SKIP = new Set(["at", "event", "kind", "service", "stage", "delivery_id", "trace_id"]);

function timelineDetail(key, value) {
  if (key === "routing" && Array.isArray(value)) {
    return value.map((r) => `${r.outlet}: ${r.result || r.decision}${r.reason ? ` (${r.reason})` : ""}`).join("; ");
  }
  if (key === "warnings" && Array.isArray(value)) {  // what ingest dropped or reinterpreted
    return "warnings: " + value.map((w) => `${w.field}${w.value ? ` "${w.value}"` : ""}: ${w.action}`).join("; ");
  }
  return `${key.replace(/_/g, " ")}: ${typeof value === "object" ? JSON.stringify(value) : value}`;
}

function timelinePanel(timeline) {
  const items = (timeline || []).map((entry) => {
    const details = Object.entries(entry)
      .filter(([key, value]) => !TIMELINE_SKIP.has(key) && value !== null && value !== "")
      .map(([key, value]) => timelineDetail(key, value))
      .join(" · ");
    const byEditor = String(entry.event || "").startsWith("editor:");
    const service = byEditor ? "editor" : entry.service || "";
    return el("li", {},
      el("span", { class: "when" }, timeCell(entry.at)),
      el("span", { class: `svc svc-${service}`, text: service || "—" }),
      el("div", {}, el("strong", { text: entry.event }), el("div", { class: "detail", text: details })));
  });
  return section("Timeline", items.length ? el("ol", { class: "timeline" }, items) : el("p", { class: "empty", text: "Nothing recorded yet." }));
}

function putSlot(body, name, node) {
  node.dataset.slot = name;
  const old = body.querySelector(`:scope > [data-slot="${name}"]`);
  if (old) old.replaceWith(node);
  else body.append(node);
}

async function loadStory(storyId, focus) {
  const data = await api(`/v1/stories/${encodeURIComponent(storyId)}`);
  if (state.storyId !== storyId) return;
  const story = data.story || {};
  const enrichment = data.enrichment || {};
  const deliveries = data.deliveries || [];
  for (const d of deliveries) upsert(d, false);
  const body = $("#story-body");
  const scroll = window.scrollY;
  const focused = focusKey(body);
  if (!body.querySelector("[data-slot]")) body.replaceChildren();
  putSlot(body, "head", storyHeader(story, deliveries, enrichment));
  putSlot(body, "deliveries", storyDeliveries(deliveries));
  // Replacing the previews would reload their iframes: keep them while they are unchanged.
  const renditionsKey = JSON.stringify(data.renditions || {});
  if (state.renditionsKey !== renditionsKey || !body.querySelector('[data-slot="renditions"]')) {
    putSlot(body, "renditions", renditions(data.renditions));
    state.renditionsKey = renditionsKey;
  }
  putSlot(body, "tags", tagsPanel(enrichment));
  putSlot(body, "links", el("div", { class: "grid2" },
    linksPanel("Related stories", enrichment.related, "No related stories linked."),
    linksPanel("Duplicates (the same story from elsewhere)", enrichment.duplicates, "No duplicates found.")));
  putSlot(body, "timeline", timelinePanel(data.timeline));
  if (focus) $("#story-title").focus();
  else {
    window.scrollTo(0, scroll);
    restoreFocus(body, focused);
  }
}

// Re-rendering replaces buttons; keyboard users keep their place by row and action.
function focusKey(root) {
  const active = document.activeElement;
  if (!active || !root.contains(active)) return null;
  const row = active.closest("[data-id]");
  return { row: row ? row.dataset.id : null, action: active.dataset.action || null, id: active.id || null };
}

function restoreFocus(root, key) {
  if (!key) return;
  let target = key.id ? root.querySelector(`#${CSS.escape(key.id)}`) : null;
  if (!target && key.row) {
    const row = root.querySelector(`[data-id="${CSS.escape(key.row)}"]`);
    target = row && (row.querySelector(`[data-action="${key.action}"]`) || row.querySelector("button, a"));
  }
  if (target) target.focus();
}

// ---- routing ---------------------------------------------------------------------------

function route() {
  if (!state.token) return;
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return; // an in-page anchor such as the skip link, not a view
  const story = hash.match(/^#\/story\/([^?]+)/);
  $("#signin").hidden = true;
  $("#signout").hidden = false;
  if (story) {
    state.storyId = decodeURIComponent(story[1]);
    $("#story .back").href = state.queueHash || "#/";
    $("#queue").hidden = true;
    $("#story").hidden = false;
    $("#story-body").replaceChildren(el("p", { class: "empty", text: "Loading…" }));
    const wanted = state.storyId;
    loadStory(wanted, true).catch((error) => {
      if (error instanceof Unauthorized || state.storyId !== wanted) return failed(error);
      $("#story-body").replaceChildren(el("p", { class: "error", role: "alert", text: error.message }));
    });
    return;
  }
  const wasStory = state.storyId;
  state.storyId = null;
  state.queueHash = hash;
  $("#story").hidden = true;
  $("#queue").hidden = false;
  const params = new URLSearchParams(hash.split("?")[1] || "");
  const form = $("#filters");
  for (const name of ["q", "outlet", "status", "partner", "flag"]) {
    const value = params.get(name) || "";
    if ((name === "outlet" || name === "partner") && value) {
      (name === "outlet" ? state.outlets : state.partners).add(value);
      updateFilterChoices();
    }
    form[name].value = value;
  }
  renderCounts();
  renderRows(null);
  scheduleRefresh(0);
  if (wasStory) {
    const row = state.rows.get([...state.rows.keys()].find((id) => state.deliveries.get(id).story_id === wasStory));
    const link = row && row.querySelector("a");
    if (link) link.focus();
  }
}

async function start() {
  $("#signin").hidden = true;
  connect();
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  fillSelect($("#f-flag"), FLAGS);
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("#token").value.trim();
    $("#signin-error").textContent = "";
    try {
      await signIn(token);
      await start();
    } catch (error) {
      state.token = "";
      $("#signin-error").textContent =
        error instanceof Unauthorized ? "That token was not accepted. Check it and try again." : error.message;
    }
  });
  $("#signout").addEventListener("click", () => signOut("Signed out."));
  const form = $("#filters");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("input", filtersChanged);
  form.addEventListener("reset", () => setTimeout(filtersChanged, 0));
  window.addEventListener("hashchange", route);
  $(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("#main").focus();
  });
  if (state.token) {
    signIn(state.token).then(start, (error) => signOut(error.message));
  } else {
    signOut();
  }
});
