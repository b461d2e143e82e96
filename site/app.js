// The page's behaviour: POST the text to the API and show the answer. All API text is set with
// textContent, never innerHTML, so a label or message can never inject markup.
"use strict";

(function () {
  const MAX_CHARS = 5000;
  const config = window.CLASSIFIER_CONFIG || {};
  const apiUrl = (config.apiUrl || "").replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  const form = $("classify-form"), text = $("text"), button = $("classify"), count = $("count");
  const status = $("status"), result = $("result");

  function showStatus(message, isError) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
    status.hidden = false;
  }

  function percent(p) { return (Math.max(0, Math.min(1, p)) * 100).toFixed(1) + "%"; }

  function showResult(answer) {
    $("label").textContent = answer.label;
    $("probability").textContent = percent(answer.probability);
    const list = $("top");
    list.replaceChildren();
    for (const item of answer.top || []) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = item.label;
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = percent(item.probability);
      bar.appendChild(fill);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = percent(item.probability);
      li.append(name, bar, pct);
      list.appendChild(li);
    }
    status.hidden = true;
    result.hidden = false;
  }

  async function classify(value) {
    const response = await fetch(apiUrl + "/classify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: value, k: 3 }),
    });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: reported below */ }
    if (!response.ok) {
      const message = body && typeof body.message === "string" ? body.message : "HTTP " + response.status;
      throw new Error(message);
    }
    if (!body || typeof body.label !== "string") throw new Error("the service gave an unreadable answer");
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    result.hidden = true;
    if (!value) { showStatus("Type some text first.", true); text.focus(); return; }
    if (value.length > MAX_CHARS) { showStatus("The text is too long: at most " + MAX_CHARS + " characters.", true); return; }
    if (!apiUrl) { showStatus("The page is not configured with an API address (config.js).", true); return; }
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    showStatus("Classifying…", false);
    try {
      showResult(await classify(value));
    } catch (error) {
      const reason = error instanceof TypeError ? "the service cannot be reached" : error.message;
      showStatus("Sorry, that did not work: " + reason + ".", true);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  text.addEventListener("input", () => { count.textContent = text.value.length + " / " + MAX_CHARS; });
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      text.value = example.dataset.text;
      text.dispatchEvent(new Event("input"));
      form.requestSubmit();
    });
  }
})();
