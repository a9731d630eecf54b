// The tick view: what happened in one tick, from GET /admin/<id>/ticks/<tickId>. Every
// string of the answer comes from a runner, the product or a model, so it is shown as
// text (textContent through `h.el`), never parsed as markup. The page's DOM helpers come
// in as `h` ({ el, timeCell, usd }) so there is one of each.
"use strict";

window.PersonasTickView = (function () {
  function facts(h, tick) {
    const tokens = `${tick.inputTokens} in / ${tick.outputTokens} out`
      + ` (cache ${tick.cacheReadTokens} read, ${tick.cacheWriteTokens} written)`;
    const rows = [
      ["State", h.el("span", { className: `tick-state state-${tick.state}`, text: tick.state })],
      ["Step", tick.step || "–"],
      ["Error", tick.error ? h.el("span", { className: "error-text", text: tick.error }) : "–"],
      ["Started", h.timeCell(tick.startedAt)],
      ["Finished", tick.finishedAt ? h.timeCell(tick.finishedAt) : "still running"],
      ["Tool calls", `${tick.toolCalls} (${tick.toolErrors} failed)`],
      ["Tokens", tokens],
      ["Cost", h.usd(tick.costUsd)],
      ["Driver / model", `${tick.driver || "–"} / ${tick.model || "–"}`],
      ["Space", tick.spaceId || "–"],
      ["Product", tick.product ? `${tick.product.name} ${tick.product.version}` : "not reported"],
      ["Trace id", tick.traceId ? h.el("code", { className: "trace-id", text: tick.traceId }) : "none reported"],
    ];
    return h.el("dl", { className: "tick-facts" }, ...rows.flatMap(([name, value]) => [
      h.el("dt", { text: name }),
      h.el("dd", { "data-fact": name }, value),
    ]));
  }

  function said(h, event) {
    return h.el("li", { className: "event event-model" },
      h.el("span", { className: "event-kind", text: "Persona said" }),
      h.el("p", { className: "said", text: event.text }));
  }

  function called(h, event) {
    const failed = event.result === "error";
    return h.el("li", { className: failed ? "event event-call call-error" : "event event-call" },
      h.el("span", { className: "event-kind", text: "Call" }), " ",
      h.el("code", { className: "tool", text: event.tool }), " ",
      h.el("span", { className: "result", text: failed ? "✖ error" : "✔ ok" }), " ",
      h.el("span", { className: "latency muted", text: event.latencyMs === null || event.latencyMs === undefined ? "no latency" : `${event.latencyMs} ms` }),
      h.el("div", { className: "call-part" }, h.el("span", { className: "muted", text: "Arguments" }),
        h.el("pre", { className: "arguments", text: JSON.stringify(event.arguments, null, 2) })),
      h.el("div", { className: "call-part" }, h.el("span", { className: "muted", text: failed ? "Error output" : "Output" }),
        h.el("pre", { className: "output", text: event.output === null || event.output === undefined ? "(no output)" : event.output })));
  }

  function ratingItems(h, ratings) {
    return ratings.map((r) => h.el("li", { className: r.rating <= 2 ? "rating low" : "rating" },
      h.el("strong", { text: r.module }), ` ${r.rating}/5`,
      r.notes ? h.el("q", { className: "note", text: r.notes }) : null));
  }

  function rated(h, event) {
    return h.el("li", { className: "event event-ratings" },
      h.el("span", { className: "event-kind", text: "Ratings" }),
      h.el("ul", { className: "ratings" }, ...ratingItems(h, event.ratings)));
  }

  function stopped(h, event) {
    return h.el("li", { className: "event event-error" },
      h.el("span", { className: "event-kind", text: "✖ Stopped" }),
      ` at step ${event.step}: `,
      h.el("span", { className: "error-text", text: event.message }));
  }

  const EVENTS = { model: said, call: called, ratings: rated, error: stopped };

  function events(h, list) {
    const items = list.map((event) => (EVENTS[event.kind] || (() => null))(h, event));
    return h.el("ol", { className: "events" }, ...items);
  }

  // Without a transcript (none sent, or past its retention) the audit still says which
  // calls were made and how they ended, and the ratings stay.
  function audit(h, actions, ratings) {
    const calls = actions.map((a) => h.el("li", { className: a.result === "error" ? "event event-call call-error" : "event event-call" },
      h.el("code", { className: "tool", text: a.toolName }), " ",
      h.el("span", { className: "result", text: a.result === "error" ? "✖ error" : "✔ ok" }), " ",
      h.el("span", { className: "latency muted", text: a.latencyMs === null ? "no latency" : `${a.latencyMs} ms` }),
      a.errorMessage ? h.el("p", { className: "error-text", text: a.errorMessage }) : null));
    return [
      h.el("p", { className: "empty", text: "No transcript for this tick: none was sent, or it is past its retention. The audit of its calls:" }),
      calls.length ? h.el("ol", { className: "events" }, ...calls) : h.el("p", { className: "empty", text: "No tool calls." }),
      h.el("h3", { text: "Ratings" }),
      ratings.length ? h.el("ul", { className: "ratings" }, ...ratingItems(h, ratings)) : h.el("p", { className: "empty", text: "No ratings." }),
    ];
  }

  function render(h, personaId, answer) {
    const { tick, actions, ratings, transcript } = answer;
    return [
      h.el("p", { className: "muted", text: `Persona ${personaId} · tick ${tick.tickId}` }),
      facts(h, tick),
      h.el("h3", { text: "What happened, in order" }),
      ...(transcript ? [events(h, transcript.events)] : audit(h, actions, ratings)),
    ];
  }

  return { render };
})();
