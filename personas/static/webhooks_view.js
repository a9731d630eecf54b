// The webhooks panel: where alerts go (GET /admin/webhooks), a test button per webhook
// (POST .../test, its outcome shown), and a webhook's recent deliveries with status and
// attempts (GET .../deliveries). URLs and errors come from operators and receivers: shown
// as text only. The page's helpers come in as `h` ({ el, timeCell, api, API, handleFailure }).
"use strict";

window.PersonasWebhooks = (function () {
  const RECENT = 20;

  function outcome(delivery) {
    if (delivery.status === "delivered") return `Test delivered (${delivery.lastStatusCode}).`;
    const why = delivery.lastError || `the receiver answered ${delivery.lastStatusCode}`;
    if (delivery.status === "failed") return `Test failed: ${why}.`;
    return `Test not delivered yet: ${why}; it is retried.`;
  }

  async function sendTest(h, hook, button, status) {
    button.disabled = true;
    status.textContent = "Sending a test…";
    try {
      const answer = await h.api(`${h.API}/webhooks/${encodeURIComponent(hook.id)}/test`, { method: "POST" });
      status.textContent = outcome(answer.delivery);
      await showDeliveries(h, hook);
    } catch (error) {
      if (error.status === 409 || error.status === 404) status.textContent = `Test not sent: ${error.message}`;
      else h.handleFailure(error);
    } finally {
      button.disabled = false;
    }
  }

  function deliveryRow(h, d) {
    return h.el("tr", { "data-delivery-id": d.id },
      h.el("td", {}, h.timeCell(d.createdAt)),
      h.el("td", { text: d.event }),
      h.el("td", {}, h.el("span", { className: `delivery-status status-${d.status}`, text: d.status })),
      h.el("td", { text: String(d.attempts) }),
      h.el("td", { text: d.lastStatusCode === null ? "–" : String(d.lastStatusCode) }),
      h.el("td", { className: "error-text", text: d.lastError || "–" }),
      h.el("td", {}, d.nextAttemptAt ? h.timeCell(d.nextAttemptAt) : "–"),
    );
  }

  async function showDeliveries(h, hook) {
    const panel = document.getElementById("deliveries");
    panel.hidden = false;
    document.getElementById("deliveries-heading").textContent = `Recent deliveries to ${hook.url}`;
    const body = document.getElementById("deliveries-body");
    try {
      const answer = await h.api(`${h.API}/webhooks/${encodeURIComponent(hook.id)}/deliveries?limit=${RECENT}`);
      if (!answer.deliveries.length) {
        body.replaceChildren(h.el("p", { className: "empty", text: "Nothing sent to this webhook yet." }));
        return;
      }
      const head = h.el("tr", {}, ...["Queued", "Event", "Status", "Attempts", "Last answer", "Last error", "Next attempt"]
        .map((t) => h.el("th", { scope: "col", text: t })));
      body.replaceChildren(h.el("div", { className: "table-scroll" }, h.el("table", { id: "deliveries-table" },
        h.el("thead", {}, head), h.el("tbody", {}, ...answer.deliveries.map((d) => deliveryRow(h, d))))));
    } catch (error) {
      h.handleFailure(error);
    }
  }

  function webhookRow(h, hook) {
    const test = h.el("button", { type: "button", className: "send-test", text: "Send test", disabled: Boolean(hook.disabledAt) });
    const log = h.el("button", { type: "button", className: "link show-deliveries", text: "Deliveries" });
    const status = h.el("span", { className: "test-status", role: "status" });
    test.addEventListener("click", () => sendTest(h, hook, test, status));
    log.addEventListener("click", () => showDeliveries(h, hook));
    return h.el("tr", { "data-webhook-id": hook.id },
      h.el("td", {}, h.el("code", { text: hook.url })),
      h.el("td", { text: hook.description || "–" }),
      h.el("td", { text: hook.format }),
      h.el("td", { text: hook.events.join(", ") }),
      h.el("td", { text: hook.disabledAt ? "disabled (410)" : "active" }),
      h.el("td", {}, test, " ", log, " ", status),
    );
  }

  async function load(h) {
    try {
      const { webhooks } = await h.api(`${h.API}/webhooks`);
      document.getElementById("webhooks-empty").hidden = webhooks.length > 0;
      const head = h.el("tr", {}, ...["URL", "Description", "Format", "Events", "State", ""]
        .map((t) => h.el("th", { scope: "col", text: t })));
      document.getElementById("webhooks-table").replaceChildren(
        h.el("thead", {}, head), h.el("tbody", {}, ...webhooks.map((hook) => webhookRow(h, hook))));
    } catch (error) {
      h.handleFailure(error);
    }
  }

  return { load };
})();
