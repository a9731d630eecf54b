// Product releases on the dashboard: the words a finding is shown in, the version marks on
// the rating chart, and the "since the last release" panel, from GET
// /admin/insights/releases. Version strings come from the product, so they are shown as
// text only. The page's DOM helpers come in as `h` ({ el, svg, rating }).
"use strict";

window.PersonasReleases = (function () {
  function pValue(p) {
    return p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // "2.6 from 10 ratings by 5 personas, was 4.5 from 18; p = 0.001"
  function regressionWords(h, r) {
    return `${h.rating(r.recentAvg)} from ${plural(r.recentCount, "rating")} by ${plural(r.recentPersonas, "persona")},`
      + ` was ${h.rating(r.baselineAvg)} from ${r.baselineCount}; ${pValue(r.pValue)}`;
  }

  function changeWords(h, m) {
    if (m.verdict === "insufficient") {
      return `too little data to judge (${m.toCount} ratings on the new version, ${m.fromCount} before)`;
    }
    const base = `${h.rating(m.toAvg)} from ${m.toCount}, was ${h.rating(m.fromAvg)} from ${m.fromCount}`;
    return m.pValue === null ? base : `${base}; ${pValue(m.pValue)}`;
  }

  // Where a moment falls on the chart's week axis (weeks start on the dates given, 7 days each).
  function weekPosition(weeks, iso) {
    const t = Date.parse(iso);
    const first = Date.parse(`${weeks[0]}T00:00:00Z`);
    const position = (t - first) / (7 * 24 * 3600 * 1000);
    // The axis ends at the current week's Monday: a version of this week is marked there.
    return position >= 0 && position <= weeks.length ? Math.min(position, weeks.length - 1) : null;
  }

  // One dashed vertical line and label per version first seen within the weeks shown.
  function markers(h, releases, weeks, x, top, bottom) {
    const group = h.svg("g", { class: "release-marks" });
    if (!weeks.length) return group;
    const step = weeks.length > 1 ? x(1) - x(0) : 0;
    for (const release of releases) {
      const position = weekPosition(weeks, release.firstSeen);
      if (position === null) continue;
      const at = x(0) + position * step;
      const mark = h.svg("g", { class: "release-mark", "data-version": release.version });
      mark.append(h.svg("line", { x1: at, x2: at, y1: top, y2: bottom, class: "release-line" }));
      const label = h.svg("text", { x: at + 3, y: top + 10, class: "release-label" });
      label.textContent = release.version;
      const tip = h.svg("title");
      tip.textContent = `Product version ${release.version}, first seen ${release.firstSeen.slice(0, 10)}`;
      mark.append(label, tip);
      group.append(mark);
    }
    return group;
  }

  function moduleRow(h, m) {
    return h.el(
      "tr",
      { className: `verdict-${m.verdict}`, "data-module": m.module },
      h.el("td", { text: m.module }),
      h.el("td", { text: m.verdict }),
      h.el("td", { text: changeWords(h, m) }),
    );
  }

  function percent(rate) {
    return rate === null ? "–" : `${(rate * 100).toFixed(0)}%`;
  }

  function toolRow(h, t) {
    const ms = (v) => (v === null ? "–" : `${v} ms`);
    return h.el(
      "tr",
      { className: `verdict-${t.verdict}`, "data-tool": t.tool },
      h.el("td", { text: t.tool }),
      h.el("td", { text: t.verdict }),
      h.el("td", { text: `errors ${percent(t.toErrorRate)} of ${t.toCalls}, was ${percent(t.fromErrorRate)} of ${t.fromCalls}` }),
      h.el("td", { text: `p95 ${ms(t.toP95Ms)}, was ${ms(t.fromP95Ms)}` }),
    );
  }

  function table(h, headings, rows) {
    const head = h.el("tr", {}, ...headings.map((text) => h.el("th", { scope: "col", text })));
    return h.el("table", {}, h.el("thead", {}, head), h.el("tbody", {}, ...rows));
  }

  // The panel's content: the comparison of the newest version with the one before, worse first.
  function panel(h, answer) {
    const { compare, releases } = answer;
    if (!compare) {
      const text = releases.length
        ? `Only one product version seen so far (${releases[0].version}): nothing to compare yet.`
        : "No tick has reported a product version yet.";
      return [h.el("p", { className: "empty", text })];
    }
    const worse = compare.modules.filter((m) => m.verdict === "worse").length
      + compare.tools.filter((t) => t.verdict === "worse").length;
    const summary = h.el("p", {
      className: worse ? "release-summary worse" : "release-summary",
      text: `${compare.to} against ${compare.from}: ${worse ? `${plural(worse, "thing")} got worse` : "nothing got worse"}.`,
    });
    return [
      summary,
      h.el("h3", { text: "Modules" }),
      table(h, ["Module", "Verdict", "Evidence"], compare.modules.map((m) => moduleRow(h, m))),
      h.el("h3", { text: "Tools" }),
      table(h, ["Tool", "Verdict", "Error rate", "Latency"], compare.tools.map((t) => toolRow(h, t))),
    ];
  }

  return { regressionWords, markers, panel };
})();
