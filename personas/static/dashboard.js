// The operators' dashboard. The page shell holds no data: everything here comes from the
// admin JSON routes, called with the admin token the operator gives the page (URL fragment
// or paste box), kept in sessionStorage for this tab only. No framework, no build step.
"use strict";

(function () {
  const API = "/api/v1/personas/admin";
  const RELEASES = `${API}/insights/releases`;
  const TOKEN_KEY = "personas.adminToken";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MESSAGES = {
    missing: "No admin token yet. Paste one below, or open this page as /dashboard#token=<admin token>.",
    rejected: "Your token was rejected (expired or not an admin token). Paste a new one.",
    empty: "No personas yet — seed them with scripts/seed.py",
    noMatch: "No persona matches this search.",
  };
  // The personas table shows one page of the admin list at a time (a fleet has thousands).
  const PAGE_SIZE = 50;
  // Colour-blind-friendly line colours; red is kept for regressions.
  const PALETTE = ["#1f5fa8", "#e08214", "#2a9d8f", "#6a3d9a", "#8c564b", "#b8860b", "#0b7a3e", "#d16ba5", "#4d4d4d", "#17a2b8"];

  const state = {
    personas: [],
    // The cursors of the pages read so far (null: the first), the one shown, and the next.
    page: { cursors: [null], index: 0, next: null },
    // How many pages of personas were asked for: only the newest answer is shown.
    pagesAsked: 0,
    archetypes: new Set(),
    insights: null,
    releases: null,
    sort: { key: "lastActiveAt", dir: -1 },
    selected: null,
    pendingTick: null,
  };

  class TokenRejected extends Error {}

  class ApiFailure extends Error {
    constructor(status, body) {
      super((body && body.message) || `The service answered ${status}.`);
      this.status = status;
      this.body = body;
    }
  }

  // --- small DOM helpers ----------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // The DOM helpers the release panel (releases.js) draws with; function declarations are
  // hoisted, so they exist here already.
  const helpers = { el, svg, rating };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) node.append(child);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function timeCell(iso) {
    if (!iso) return el("span", { className: "muted", text: "never" });
    return el("time", { datetime: iso, title: iso.replace("T", " ").replace("Z", " UTC"), text: ago(iso) });
  }

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    return `${duration(seconds)} ago`;
  }

  function duration(seconds) {
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} d`;
  }

  function rating(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(2);
  }

  // --- the token ------------------------------------------------------------------------

  // A fragment is typed or pasted by hand: a malformed escape (`%E0`) reads as nothing
  // rather than throwing before the page is drawn.
  function decodedOrNull(text) {
    try {
      return decodeURIComponent(text);
    } catch (error) {
      if (error instanceof URIError) return null;
      throw error;
    }
  }

  // `#token=<jwt>&tick=<personaId>/<tickId>` opens that tick's view once the page loads.
  function tickFromFragment() {
    const match = /(?:^#|&)tick=([^&/]+)\/([^&]+)/.exec(window.location.hash);
    if (!match) return null;
    const personaId = decodedOrNull(match[1]);
    const tickId = decodedOrNull(match[2]);
    return personaId === null || tickId === null ? null : { personaId, tickId };
  }

  function tokenFromFragment() {
    const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
    if (!match) return null;
    // The fragment never reaches the server; take it out of the address bar and history too.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return (decodedOrNull(match[1]) || "").trim() || null;
  }

  function storedToken() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  function askForToken(message) {
    show($("content"), false);
    show($("session"), false);
    show($("token-panel"), true);
    notify(message, "warning");
    $("token-input").focus();
  }

  // --- talking to the admin API ---------------------------------------------------------

  async function api(path, options) {
    const token = storedToken();
    if (!token) throw new TokenRejected(MESSAGES.missing);
    const response = await fetch(path, {
      ...options,
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 401 || response.status === 403) throw new TokenRejected(MESSAGES.rejected);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) throw new ApiFailure(response.status, body);
    return body;
  }

  function insightsPath() {
    const params = new URLSearchParams({ weeks: $("weeks").value });
    if ($("archetype").value) params.set("archetype", $("archetype").value);
    if ($("space").value !== "all") params.set("space", $("space").value);
    return `${API}/insights?${params}`;
  }

  function handleFailure(error) {
    if (error instanceof TokenRejected) {
      if (error.message === MESSAGES.rejected) forgetToken();
      askForToken(error.message);
    } else if (error instanceof ApiFailure) {
      notify(`The service could not answer (${error.status}): ${error.message}`, "error");
    } else {
      notify(`The service could not be reached: ${error.message}`, "error");
    }
  }

  function notify(message, kind) {
    const notice = $("notice");
    notice.textContent = message || "";
    notice.className = `notice ${kind || ""}`;
    show(notice, Boolean(message));
  }

  async function loadAll() {
    show($("loading"), true);
    try {
      const [list, insights, releases] = await Promise.all([api(personasPath()), api(insightsPath()), api(RELEASES)]);
      showPage(list);
      state.insights = insights;
      state.releases = releases;
      notify("");
      show($("token-panel"), false);
      show($("session"), true);
      show($("content"), true);
      fillArchetypes();
      renderAll();
      window.PersonasWebhooks.load({ el, timeCell, api, API, handleFailure });
      if (state.pendingTick) openTick(state.pendingTick.personaId, state.pendingTick.tickId);
      state.pendingTick = null;
    } catch (error) {
      handleFailure(error);
    } finally {
      show($("loading"), false);
    }
  }

  async function loadInsights() {
    try {
      [state.insights, state.releases] = await Promise.all([api(insightsPath()), api(RELEASES)]);
      renderAll();
    } catch (error) {
      handleFailure(error);
    }
  }

  function renderAll() {
    renderPersonas();
    renderTrends();
    renderFriction();
    renderRuns();
    renderFailing();
    renderTools();
    renderReleases();
    const generated = state.insights.generatedAt;
    $("generated").textContent = `Updated ${generated.replace("T", " ").slice(0, 19)} UTC`;
  }

  // --- personas table -------------------------------------------------------------------

  function searched() {
    return Boolean($("persona-email").value.trim() || $("archetype").value || $("persona-cadence").value || $("persona-failing").checked);
  }

  function personasPath() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const cursor = state.page.cursors[state.page.index];
    if (cursor) params.set("cursor", cursor);
    const email = $("persona-email").value.trim();
    if (email) params.set("email", email);
    if ($("archetype").value) params.set("archetype", $("archetype").value);
    if ($("persona-cadence").value) params.set("cadence", $("persona-cadence").value);
    if ($("persona-failing").checked) params.set("failing", "true");
    return `${API}?${params}`;
  }

  function showPage(list) {
    state.personas = list.personas;
    state.page.next = list.nextCursor || null;
    for (const p of list.personas) state.archetypes.add(p.archetype);
  }

  async function loadPersonas() {
    const asked = ++state.pagesAsked;
    try {
      const list = await api(personasPath());
      // A search changed again before this answer came: the newer one's answer shows.
      if (asked !== state.pagesAsked) return;
      showPage(list);
      fillArchetypes();
      renderPersonas();
    } catch (error) {
      handleFailure(error);
    }
  }

  // A new search starts at its first page; next and previous walk the cursors.
  function searchPersonas() {
    state.page = { cursors: [null], index: 0, next: null };
    return loadPersonas();
  }

  function turnPage(step) {
    const { page } = state;
    if (step > 0) {
      if (!page.next) return;
      page.cursors = [...page.cursors.slice(0, page.index + 1), page.next];
    } else if (page.index === 0) {
      return;
    }
    page.index += step;
    loadPersonas();
  }

  // Archetypes are offered as the pages read show them (the list is never read whole).
  function fillArchetypes() {
    const select = $("archetype");
    const chosen = select.value;
    const archetypes = [...state.archetypes].sort();
    select.replaceChildren(el("option", { value: "", text: "All archetypes" }));
    for (const name of archetypes) select.append(el("option", { value: name, text: name }));
    if (chosen && !archetypes.includes(chosen)) select.append(el("option", { value: chosen, text: chosen }));
    select.value = chosen;
  }

  // The page shown, sorted within itself by the chosen column (the service pages newest first).
  function visiblePersonas() {
    const rows = [...state.personas];
    const { key, dir } = state.sort;
    const value = (p) => (key === "actions7d" ? p.actions7d : p.lastActiveAt ? Date.parse(p.lastActiveAt) : -Infinity);
    return rows.sort((a, b) => dir * (value(a) - value(b)) || a.email.localeCompare(b.email));
  }

  function renderPersonas() {
    const stale = new Map(state.insights.stale.map((s) => [s.userId, s]));
    const rows = visiblePersonas();
    const empty = state.personas.length === 0;
    const none = empty && state.page.index === 0 && !searched();
    $("personas-empty").textContent = none ? MESSAGES.empty : MESSAGES.noMatch;
    show($("personas-empty"), empty);
    show($("personas-table"), !empty);
    if (none) notify(MESSAGES.empty, "info");
    const first = state.page.index * PAGE_SIZE + 1;
    $("persona-count").textContent = empty ? "" : `(${first}–${first + rows.length - 1})`;
    $("personas-page").textContent = `Page ${state.page.index + 1}`;
    $("personas-prev").disabled = state.page.index === 0;
    $("personas-next").disabled = !state.page.next;
    $("personas-table").tBodies[0].replaceChildren(...rows.map((p) => personaRow(p, stale.get(p.userId))));
    for (const th of $("personas-table").tHead.querySelectorAll("th[aria-sort]")) {
      const key = th.querySelector("button").dataset.sort;
      const sorted = key === state.sort.key;
      th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function personaRow(persona, stale) {
    const open = el("button", { type: "button", className: "link", text: persona.email });
    open.addEventListener("click", (event) => {
      event.stopPropagation();
      selectPersona(persona.userId);
    });
    const active = el("td", {}, timeCell(persona.lastActiveAt));
    if (stale) {
      const label = persona.lastActiveAt ? `stale — overdue ${duration(stale.overdueSeconds)}` : "stale — never ran";
      active.append(" ", el("span", { className: "badge stale-badge", text: label }));
    }
    const row = el(
      "tr",
      {
        className: [stale ? "stale" : "", persona.userId === state.selected ? "selected" : ""].join(" ").trim() || null,
        "data-user-id": persona.userId,
        "aria-selected": persona.userId === state.selected ? "true" : null,
      },
      el("td", {}, open),
      el("td", { text: persona.archetype }),
      el("td", { text: persona.tickCadence }),
      active,
      el("td", { className: "number", text: String(persona.actions7d) }),
    );
    row.addEventListener("click", () => selectPersona(persona.userId));
    return row;
  }

  function sortBy(key) {
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : -1 };
    renderPersonas();
  }

  // --- the trend chart ------------------------------------------------------------------

  const CHART = { width: 760, height: 300, left: 44, right: 20, top: 20, bottom: 40 };

  function renderTrends() {
    const { modules } = state.insights;
    const weeks = modules.length ? modules[0].weekly.map((w) => w.weekStart) : [];
    const regressed = modules.filter((m) => m.regression);
    $("regressions").classList.toggle("none", !regressed.length);
    $("regressions").textContent = regressed.length
      ? regressed.map((m) => `▼ ${m.module}: regression since ${m.regression.since}: ${regressionWords(m.regression)}`).join(" · ")
      : modules.length
        ? "No module got worse in the last 7 days."
        : "";
    if (!modules.length) {
      $("chart").replaceChildren(el("p", { className: "empty", text: "No ratings in these weeks." }));
      $("legend").replaceChildren();
      $("trend-table").replaceChildren();
      return;
    }
    $("chart").replaceChildren(chart(modules, weeks));
    $("legend").replaceChildren(...modules.map((m, i) => legendItem(m, colour(i))));
    $("trend-table").replaceChildren(...trendTable(modules, weeks));
  }

  function colour(index) {
    return PALETTE[index % PALETTE.length];
  }

  function chart(modules, weeks) {
    const { width, height, left, right, top, bottom } = CHART;
    const step = weeks.length > 1 ? (width - left - right) / (weeks.length - 1) : 0;
    const x = (i) => left + (weeks.length > 1 ? i * step : (width - left - right) / 2);
    const y = (r) => top + ((5 - r) / 4) * (height - top - bottom);
    const title = svg("title", { id: "chart-title" });
    title.textContent = `Mean rating per module over ${weeks.length} weeks`;
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": "chart-title",
      class: "trend-chart",
    }, title);
    root.append(axes(weeks, x, y));
    if (state.releases) {
      root.append(window.PersonasReleases.markers(helpers, state.releases.releases, weeks, x, top, height - bottom));
    }
    modules.forEach((module, i) => root.append(moduleLine(module, colour(i), x, y)));
    return root;
  }

  function axes(weeks, x, y) {
    const group = svg("g", { class: "axes", "aria-hidden": "true" });
    for (let r = 1; r <= 5; r += 1) {
      group.append(svg("line", { x1: CHART.left, x2: CHART.width - CHART.right, y1: y(r), y2: y(r), class: "grid" }));
      const label = svg("text", { x: CHART.left - 10, y: y(r) + 4, "text-anchor": "end" });
      label.textContent = String(r);
      group.append(label);
    }
    const every = Math.ceil(weeks.length / 10);
    weeks.forEach((week, i) => {
      if (i % every !== 0 && i !== weeks.length - 1) return;
      const label = svg("text", { x: x(i), y: CHART.height - CHART.bottom + 20, "text-anchor": "middle" });
      label.textContent = week.slice(5);
      group.append(label);
    });
    return group;
  }

  function moduleLine(module, stroke, x, y) {
    const judged = module.regression ? "series regressed" : module.evidence === "insufficient" ? "series insufficient" : "series";
    const group = svg("g", { class: judged });
    let d = "";
    let pen = "M";
    module.weekly.forEach((week, i) => {
      if (week.avgRating === null) {
        pen = "M"; // an empty week breaks the line rather than drawing through it
        return;
      }
      d += `${pen}${x(i).toFixed(1)},${y(week.avgRating).toFixed(1)} `;
      pen = "L";
    });
    group.append(svg("path", {
      d: d.trim() || "M0,0",
      fill: "none",
      stroke,
      "stroke-width": module.regression ? 3.5 : 2,
      // Too few ratings to judge: a dotted line, not a confident one.
      ...(module.evidence === "insufficient" ? { "stroke-dasharray": "2 5" } : {}),
      "data-module": module.module,
      class: "line",
    }));
    module.weekly.forEach((week, i) => {
      if (week.avgRating === null) return;
      const dot = svg("circle", { cx: x(i), cy: y(week.avgRating), r: 3.5, fill: stroke });
      const tip = svg("title");
      tip.textContent = `${module.module}, week of ${week.weekStart}: ${rating(week.avgRating)} (${ratings(week.count)})`;
      dot.append(tip);
      group.append(dot);
    });
    if (module.regression) group.append(regressionMark(module, x, y));
    return group;
  }

  function regressionMark(module, x, y) {
    const i = module.weekly.findIndex((w) => w.weekStart === module.regression.since);
    const point = i >= 0 ? module.weekly[i] : null;
    const cx = i >= 0 ? x(i) : CHART.width - CHART.right;
    const cy = point && point.avgRating !== null ? y(point.avgRating) : y(1);
    const mark = svg("text", { x: cx, y: cy + 22, "text-anchor": "middle", class: "regression-mark" });
    mark.textContent = `▼ ${module.module}`;
    const tip = svg("title");
    tip.textContent = `${module.module}: regression since ${module.regression.since}`;
    mark.append(tip);
    return mark;
  }

  function legendItem(module, stroke) {
    const swatch = el("span", { className: "swatch", "aria-hidden": "true" });
    swatch.style.backgroundColor = stroke; // CSSOM, allowed by the style-src policy
    const item = el(
      "li",
      { className: module.regression ? "regressed" : null, "data-module": module.module },
      swatch,
      el("strong", { text: module.module }),
      ` ${rating(module.avgRating)} from ${ratings(module.count)}`,
    );
    if (module.regression) {
      item.append(" ", el("span", {
        className: "badge regression-badge",
        text: `▼ regression since ${module.regression.since}: ${regressionWords(module.regression)}`,
      }));
    } else if (module.evidence === "insufficient") {
      item.append(" ", el("span", { className: "badge insufficient-badge", text: "too little data to judge" }));
    }
    return item;
  }

  function trendTable(modules, weeks) {
    const head = el("tr", {}, el("th", { scope: "col", text: "Module" }), ...weeks.map((w) => el("th", { scope: "col", text: w })));
    const rows = modules.map((m) => el(
      "tr",
      {},
      el("th", { scope: "row", text: m.regression ? `${m.module} (▼ regression since ${m.regression.since})` : m.module }),
      ...m.weekly.map((w) => el("td", { className: "number", text: w.count ? `${rating(w.avgRating)} (${w.count})` : "–" })),
    ));
    return [el("thead", {}, head), el("tbody", {}, ...rows)];
  }

  function regressionWords(regression) {
    return window.PersonasReleases.regressionWords(helpers, regression);
  }

  // --- since the last release -----------------------------------------------------------

  function renderReleases() {
    if (state.releases) $("release-panel").replaceChildren(...window.PersonasReleases.panel(helpers, state.releases));
  }

  // --- friction notes -------------------------------------------------------------------

  function renderFriction() {
    const notes = state.insights.friction;
    show($("friction-empty"), notes.length === 0);
    $("friction").replaceChildren(...notes.map((f) => el(
      "li",
      { className: `rating-${f.rating}` },
      el("span", { className: "badge low-badge", text: `${f.rating}/5` }),
      " ",
      el("strong", { text: f.module }),
      " — ",
      el("q", { text: f.notes }),
      el("span", { className: "muted meta" }, ` ${f.email} · `, tickButton(f.userId, f.tickId, `tick ${f.tickId}`), " · ", timeCell(f.createdAt)),
    )));
  }

  // --- runs, failing personas, tool health ----------------------------------------------

  function table(id, headings, rows) {
    const head = el("tr", {}, ...headings.map((h) => el("th", { scope: "col", text: h })));
    $(id).replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  }

  function usd(value) {
    return `$${Number(value).toFixed(2)}`;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`;
  }

  function stateBar(day, busiest) {
    // One bar per day, as long as its runs against the busiest day's, its segments as wide
    // as the day's ok / failed / timeout / running ticks.
    const total = day.ok + day.failed + day.timeout + day.running;
    const bar = el("div", { className: "state-bar", role: "img",
      "aria-label": `${day.ok} ok, ${day.failed} failed, ${day.timeout} timed out, ${day.running} running` });
    bar.style.width = `${busiest ? (10 * total) / busiest : 0}rem`;
    for (const key of ["ok", "failed", "timeout", "running"]) {
      if (!day[key]) continue;
      const part = el("span", { className: `seg seg-${key}` });
      part.style.flexGrow = String(day[key] / total);
      bar.append(part);
    }
    return bar;
  }

  function renderRuns() {
    const { daily } = state.insights.runs;
    const budget = state.insights.budget;
    $("budget-note").textContent = budget
      ? ` against the daily budget of ${usd(budget.limitUsd)} (today ${usd(budget.spentUsd)} spent)`
      : "";
    const busiest = Math.max(0, ...daily.map((d) => d.ok + d.failed + d.timeout + d.running));
    const headings = ["Day", "Runs", "ok", "failed", "timeout", "running", "Tokens in / out", "Spend", "By driver"];
    table("runs-table", headings, daily.slice().reverse().map((d) => {
      const over = budget && d.costUsd >= budget.limitUsd;
      return el(
        "tr",
        { className: d.failed + d.timeout > 0 ? "has-failures" : null },
        el("td", { text: d.day }),
        el("td", {}, stateBar(d, busiest)),
        el("td", { className: "number", text: String(d.ok) }),
        el("td", { className: "number failed-count", text: String(d.failed) }),
        el("td", { className: "number", text: String(d.timeout) }),
        el("td", { className: "number", text: String(d.running) }),
        el("td", { className: "number", text: `${d.inputTokens} / ${d.outputTokens}` }),
        el("td", { className: over ? "number over-budget" : "number",
          text: budget ? `${usd(d.costUsd)} of ${usd(budget.limitUsd)}${over ? " (budget reached)" : ""}` : usd(d.costUsd) }),
        el("td", { className: "by-driver", text: d.byDriver
          .map((r) => `${r.driver || "unnamed"}: ${r.ticks} for ${usd(r.costUsd)}`).join(", ") }),
      );
    }));
  }

  function renderFailing() {
    const failing = state.insights.runs.failing;
    show($("failing-empty"), failing.length === 0);
    table("failing-table", ["Persona", "Failed ticks", "Last step", "Last error", "When", "Last tick"], failing.map((f) => el(
      "tr",
      { className: "failed" },
      el("td", { text: f.email }),
      el("td", { className: "number", text: String(f.failedTicks) }),
      el("td", { text: f.lastStep || "" }),
      el("td", { className: "error-text", text: f.lastError || "" }),
      el("td", {}, timeCell(f.lastAt)),
      el("td", {}, tickButton(f.userId, f.lastTickId, "Open tick")),
    )));
  }

  function renderTools() {
    const { tools } = state.insights;
    show($("tools-empty"), tools.length === 0);
    table("tools-table", ["Tool", "Module", "Calls", "Errors", "Error rate", "p95 latency", "Weekly error rate"], tools.map((t) => el(
      "tr",
      { className: t.errorRate >= 0.1 ? "failed" : null },
      el("td", { text: t.tool }),
      el("td", { text: t.module }),
      el("td", { className: "number", text: String(t.calls) }),
      el("td", { className: "number", text: String(t.errors) }),
      el("td", { className: "number", text: percent(t.errorRate) }),
      el("td", { className: "number", text: t.p95LatencyMs === null ? "–" : `≤ ${t.p95LatencyMs} ms` }),
      el("td", { className: "muted", text: t.weekly.map((w) => percent(w.errorRate)).join(" · ") }),
    )));
  }

  // --- one persona ----------------------------------------------------------------------

  async function selectPersona(userId) {
    state.selected = userId;
    renderPersonas();
    show($("detail"), true);
    $("detail-body").replaceChildren(el("p", { role: "status", text: "Loading the persona…" }));
    try {
      const detail = await api(`${API}/${encodeURIComponent(userId)}`);
      if (state.selected === userId) renderDetail(detail);
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 404) {
        $("detail-body").replaceChildren(el("p", { className: "empty", text: "This persona no longer exists." }));
      } else {
        handleFailure(error);
      }
    }
  }

  // "Shared space fam: partner X did notes.create, todo.create (1 failed)", per partner.
  function spacePanel(space) {
    const partners = space.partners.map((partner) => {
      const ticks = partner.recentTicks.map((t) => el("li", {},
        timeCell(t.startedAt), ` ${t.state}: `,
        t.tools.length ? t.tools.join(", ") : "no tool calls",
        ` (${t.toolCalls} calls, ${t.toolErrors} failed)`));
      return el("li", { className: "space-partner", "data-user-id": partner.userId },
        el("strong", { text: partner.email }), " did:",
        ticks.length ? el("ul", {}, ...ticks) : el("span", { className: "empty", text: " nothing yet" }));
    });
    return el("section", { className: "shared-space", "data-space-id": space.spaceId },
      el("h3", { text: `Shared space ${space.spaceId}` }), el("ul", {}, ...partners));
  }

  function renderDetail({ persona, recentActions, feedbackByModule, recentTicks, spaces }) {
    $("detail-heading").textContent = persona.email;
    const runStatus = el("span", { className: "run-status", role: "status" });
    const run = el("button", { type: "button", id: "run-now", text: "Run now" });
    run.addEventListener("click", () => runNow(persona, run, runStatus));
    const failures = recentActions.filter((a) => a.result === "error").length;
    $("detail-body").replaceChildren(
      el("p", { className: "muted" }, `${persona.archetype} · ${persona.tickCadence} · last active `, timeCell(persona.lastActiveAt)),
      el("p", {}, run, " ", runStatus),
      ...(recentTicks ? [
        el("h3", { text: `Recent ticks (${recentTicks.length})` }),
        recentTicks.length ? ticksTable(persona.userId, recentTicks) : el("p", { className: "empty", text: "No ticks recorded yet." }),
      ] : []),
      ...(spaces || []).map(spacePanel),
      el("h3", { text: `Recent actions (${failures} failed of ${recentActions.length})` }),
      recentActions.length ? actionsTable(recentActions) : el("p", { className: "empty", text: "No actions recorded yet." }),
      el("h3", { text: "Ratings by module, lowest first" }),
      feedbackByModule.length ? ratingsList(feedbackByModule) : el("p", { className: "empty", text: "No ratings yet." }),
    );
  }

  function ticksTable(personaId, ticks) {
    const head = el("tr", {}, ...["Started", "State", "Step", "Tools (errors)", "Cost", "Error", "Tick"].map((h) => el("th", { scope: "col", text: h })));
    const rows = ticks.map((t) => el(
      "tr",
      { className: t.state === "failed" || t.state === "timeout" ? "failed" : null },
      el("td", {}, timeCell(t.startedAt)),
      el("td", { className: `tick-state state-${t.state}`, text: t.state }),
      el("td", { text: t.step || "" }),
      el("td", { className: "number", text: `${t.toolCalls ?? 0} (${t.toolErrors ?? 0})` }),
      el("td", { className: "number", text: usd(t.costUsd ?? 0) }),
      el("td", { className: "error-text", text: t.error || "" }),
      el("td", {}, tickButton(personaId, t.tickId, "Open")),
    ));
    return el("div", { className: "table-scroll" }, el("table", { className: "ticks" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  function actionsTable(actions) {
    const head = el("tr", {}, ...["When", "Tool", "Result", "Latency", "Error"].map((h) => el("th", { scope: "col", text: h })));
    const rows = actions.map((a) => el(
      "tr",
      { className: a.result === "error" ? "failed" : null },
      el("td", {}, timeCell(a.createdAt)),
      el("td", { text: a.toolName }),
      el("td", { className: "result", text: a.result === "error" ? "✖ failed" : "ok" }),
      el("td", { className: "number", text: a.latencyMs === null ? "–" : `${a.latencyMs} ms` }),
      el("td", { text: a.errorMessage || "" }),
    ));
    return el("div", { className: "table-scroll" }, el("table", { className: "actions" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  function ratings(count) {
    return count === 1 ? "1 rating" : `${count} ratings`;
  }

  function ratingsList(modules) {
    return el("ul", { className: "ratings" }, ...modules.map((m) => el(
      "li",
      { className: m.avgRating <= 2.5 ? "low" : null },
      el("strong", { text: m.module }),
      ` ${rating(m.avgRating)} average from ${ratings(m.count)}`,
      m.lastRating !== undefined && m.lastRating !== null ? `, last ${m.lastRating}/5` : "",
      m.lastNote ? el("q", { className: "note", text: m.lastNote }) : null,
    )));
  }

  async function runNow(persona, button, status) {
    button.disabled = true;
    status.textContent = "Asking the service…";
    try {
      await api(`${API}/${encodeURIComponent(persona.userId)}/run-now`, { method: "POST" });
      status.textContent = "Queued: the persona is due now and runs on the next runner poll.";
    } catch (error) {
      if (error instanceof ApiFailure && (error.status === 404 || error.status === 405)) {
        status.textContent = "Run now is not available: this service does not offer it yet, or the persona is gone.";
      } else if (error instanceof TokenRejected) {
        handleFailure(error);
      } else {
        status.textContent = `Run now failed: ${error.message}`;
      }
    } finally {
      button.disabled = false;
    }
  }

  // --- one tick -------------------------------------------------------------------------

  function tickButton(personaId, tickId, label) {
    const button = el("button", { type: "button", className: "link open-tick", "data-persona-id": personaId, "data-tick-id": tickId, text: label });
    button.addEventListener("click", () => openTick(personaId, tickId));
    return button;
  }

  async function openTick(personaId, tickId) {
    const body = $("tick-body");
    show($("tick-view"), true);
    $("tick-heading").textContent = `Tick ${tickId}`;
    body.replaceChildren(el("p", { role: "status", text: "Loading the tick…" }));
    $("tick-view").scrollIntoView();
    try {
      const answer = await api(`${API}/${encodeURIComponent(personaId)}/ticks/${encodeURIComponent(tickId)}`);
      body.replaceChildren(...window.PersonasTickView.render({ el, timeCell, usd }, personaId, answer));
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 404) {
        body.replaceChildren(el("p", { className: "empty", text: "This tick is not on record (its persona may be gone)." }));
      } else {
        handleFailure(error);
      }
    }
  }

  // --- wiring ---------------------------------------------------------------------------

  function start() {
    state.pendingTick = tickFromFragment();
    const fromFragment = tokenFromFragment();
    if (fromFragment) sessionStorage.setItem(TOKEN_KEY, fromFragment);
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token-input").value = "";
      loadAll();
    });
    $("forget-token").addEventListener("click", () => {
      forgetToken();
      askForToken(MESSAGES.missing);
    });
    $("refresh").addEventListener("click", loadAll);
    $("close-tick").addEventListener("click", () => show($("tick-view"), false));
    $("weeks").addEventListener("change", loadInsights);
    $("archetype").addEventListener("change", () => {
      loadInsights();
      searchPersonas();
    });
    $("persona-search").addEventListener("submit", (event) => {
      event.preventDefault();
      searchPersonas();
    });
    $("persona-cadence").addEventListener("change", searchPersonas);
    $("persona-failing").addEventListener("change", searchPersonas);
    $("personas-prev").addEventListener("click", () => turnPage(-1));
    $("personas-next").addEventListener("click", () => turnPage(1));
    $("space").addEventListener("change", loadInsights);
    for (const button of document.querySelectorAll("button[data-sort]")) {
      button.addEventListener("click", () => sortBy(button.dataset.sort));
    }
    if (storedToken()) loadAll();
    else askForToken(MESSAGES.missing);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
