// Feedback under an answer (docs/feedback.md): "Right", or "Wrong? Pick the topic" from the model's labels,
// POSTed to {apiUrl}/feedback only after the visitor ticks the consent box. Nothing is sent without it.
// Off (config.feedback false: --no-feedback, or no storage) the section is never shown.
// Strings from the API and the labels are set with textContent, never innerHTML.
"use strict";

(function () {
  const config = window.CLASSIFIER_CONFIG || {};
  if (config.feedback !== true) return;
  const apiUrl = typeof config.apiUrl === "string" ? config.apiUrl.trim().replace(/\/+$/, "") : "";
  const page = config.page && typeof config.page === "object" ? config.page : {};
  const labels = Array.isArray(page.labels) ? page.labels.filter((l) => l && typeof l.label === "string") : [];
  const result = document.getElementById("result");
  if (!result || labels.length === 0) return;

  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children);
    return node;
  };
  const consent = el("input", { type: "checkbox", id: "feedback-consent" });
  const right = el("button", { type: "button", id: "feedback-right", className: "secondary" }, "Right");
  const pick = el("select", { id: "feedback-correct" },
    el("option", { value: "" }, "Choose…"),
    ...labels.map((l) => el("option", { value: l.label }, typeof l.name === "string" && l.name ? l.name : l.label)));
  const wrong = el("button", { type: "button", id: "feedback-wrong", className: "secondary" }, "Send");
  const status = el("p", { id: "feedback-status", className: "hint" });
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  const section = el("section", { id: "feedback", className: "feedback" },
    el("h3", { id: "feedback-heading" }, "Was this right?"),
    el("p", {}, consent, " ", el("label", { htmlFor: "feedback-consent" },
      "Keep my text and my answer to improve the model. Stored without my IP address or cookies, "
      + "read by a person before any use, and deleted after a while.")),
    el("div", { className: "row feedback-actions" }, right, " ",
      el("label", { htmlFor: "feedback-correct" }, "Wrong? Pick the topic:"), " ", pick, " ", wrong),
    status);
  section.setAttribute("aria-labelledby", "feedback-heading");
  section.hidden = true;
  result.append(section);

  let shown = null;  // {text, predicted} of the answer on screen

  function reset(answer) {
    shown = answer;
    section.hidden = !answer;
    pick.value = "";
    status.textContent = "";
    for (const b of [right, wrong]) b.removeAttribute("aria-disabled");
  }

  async function send(correct) {
    if (!shown || right.getAttribute("aria-disabled") === "true") return;
    if (!consent.checked) {
      status.textContent = "Tick the box above to let us keep your text; nothing was sent.";
      consent.focus();
      return;
    }
    if (!correct) {
      status.textContent = "Pick the right topic first.";
      pick.focus();
      return;
    }
    const item = { text: shown.text, predicted: shown.predicted, correct, modelSha256: config.modelSha256,
      consent: true };
    status.textContent = "Sending…";
    try {
      const response = await fetch(apiUrl + "/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(item),
      });
      let body = null;
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      if (!response.ok) {
        const message = body && typeof body.message === "string" ? body.message : "HTTP " + response.status;
        status.textContent = "Sorry, your feedback was not kept: " + message.slice(0, 300);
        return;
      }
      for (const b of [right, wrong]) b.setAttribute("aria-disabled", "true");
      status.textContent = "Thank you: your feedback was kept.";
    } catch (_) {
      status.textContent = "Sorry, your feedback could not be sent. Check your connection and try again.";
    }
  }

  right.addEventListener("click", () => send(shown && shown.predicted));
  wrong.addEventListener("click", () => send(pick.value));
  // app.js announces each answer; a text the model cannot judge has no label to confirm or correct.
  document.addEventListener("classifier:answer", (event) => {
    const detail = event.detail || {};
    const answer = detail.answer || {};
    reset(typeof answer.label === "string" ? { text: detail.text, predicted: answer.label } : null);
  });
})();
