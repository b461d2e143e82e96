// The page's behaviour: check the text, POST it to {apiUrl}/classify (empty apiUrl: its own origin) and
// show the answer.
// Every string that comes from the API is set with textContent (or an attribute), never innerHTML,
// so a label or a message can never inject markup.
"use strict";

(function () {
  const TIMEOUT_MS = 30000;
  const MAX_MESSAGE_CHARS = 300;

  const config = window.CLASSIFIER_CONFIG || {};
  const extras = window.ClassifierExtras;  // explain.js: the middle band, the words, the share link
  const apiUrl = typeof config.apiUrl === "string" ? config.apiUrl.trim().replace(/\/+$/, "") : "";
  // The Lambda's MAX_TEXT_CHARS (ml/config.py max_text_chars, through config.js); it counts code points,
  // as Array.from does. Without it the page is not set up.
  const MAX_CHARS = Number.isInteger(config.maxTextChars) && config.maxTextChars > 0 ? config.maxTextChars : 0;

  const $ = (id) => document.getElementById(id);
  const form = $("classify-form"), text = $("text"), button = $("classify"), count = $("count");
  const status = $("status"), result = $("result"), unknown = $("unknown");
  const buttonText = button.querySelector(".button-text");
  const number = new Intl.NumberFormat("en");
  const percentFormat = new Intl.NumberFormat("en", {
    style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1,
  });

  // --- what the page shows of the deployed model (config.js page: ml/page.py) -------------------------
  const page = config.page && typeof config.page === "object" ? config.page : {};
  const labels = Array.isArray(page.labels) ? page.labels.filter((l) => l && typeof l.label === "string") : [];
  const examples = Array.isArray(page.examples) ? page.examples.filter((e) => e && typeof e.text === "string") : [];
  const noun = typeof page.noun === "string" ? page.noun : "labels";
  const words = (key, fallback) => (typeof page[key] === "string" && page[key] ? page[key] : fallback);
  const names = new Map(labels.map((l) => [l.label, typeof l.name === "string" && l.name ? l.name : l.label]));

  function renderPage() {
    const n = labels.length;
    const intro = words("intro", "Write a text. A machine-learning model guesses which of " + n + " " + noun
      + " it belongs to.");
    $("intro").textContent = intro;
    const meta = document.querySelector('meta[name="description"]');
    if (meta) meta.setAttribute("content", intro);
    $("hint").firstChild.data = words("hint", "One or two sentences work best.") + "\n";  // before the shortcut
    if (page.placeholder) text.placeholder = page.placeholder;
    $("scope").textContent = words("scope", "It knows the " + n + " " + noun
      + " below; try a text like the examples.");
    $("topics-heading").textContent = "The " + n + " " + noun + " it knows";
    for (const span of document.querySelectorAll(".noun")) span.textContent = noun;
    // Each item and button after a space, as markup written by hand would have it (inline layout shows it).
    $("classes").replaceChildren(...labels.flatMap((l) => {
      const li = document.createElement("li");
      li.dataset.label = l.label;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = names.get(l.label);
      li.append(name);
      if (typeof l.description === "string" && l.description) {
        const desc = document.createElement("span");
        desc.className = "desc";
        desc.textContent = l.description;
        li.append(" ", desc);
      }
      return [" ", li];
    }));
    const fieldset = $("examples");
    for (const e of examples) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "example";
      button.dataset.text = e.text;
      button.textContent = typeof e.caption === "string" && e.caption ? e.caption : e.text.slice(0, 40);
      fieldset.append(" ", button);
    }
    fieldset.hidden = examples.length === 0;
    const footer = Array.isArray(page.footer) ? page.footer
      : ["A fastText (SageMaker BlazingText) text classifier. Its answers are a guess and can be wrong."];
    const card = document.createElement("a");  // the live version's model card, served with the site
    card.href = "model-card.html";
    card.textContent = "About this model";
    $("footer").replaceChildren(...footer.map((part) => {
      if (typeof part === "string") return part;
      const a = document.createElement("a");
      a.textContent = String(part && part.text);
      const href = String(part && part.href);
      if (/^https:\/\//.test(href)) a.href = href;
      return a;
    }), " ", card);
  }

  /** The user's label as labels.json names it; an unknown CamelCase word is split; else as is. */
  function displayName(label) {
    if (names.has(label)) return names.get(label);
    if (!/^[A-Z][A-Za-z]*$/.test(label)) return label;
    const spaced = label.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
    return spaced.charAt(0).toUpperCase() + spaced.slice(1);
  }

  function probabilityOf(value) {
    const p = Number(value);
    return Number.isFinite(p) ? Math.max(0, Math.min(1, p)) : 0;
  }

  /** One decimal; never "0.0%" for a non-zero chance, nor "100.0%" short of certainty. */
  function percent(p) {
    if (p > 0 && p < 0.0005) return "<0.1%";
    if (p >= 0.9995) return ">99.9%"; // a softmax is never certain; 1.0 is rounding
    return percentFormat.format(p);
  }

  function charCount(value) {
    return Array.from(value).length;
  }

  // --- status line: loading, errors, and a spoken summary of a result ---------------------------------
  function setStatus(kind, message, reference) {
    status.className = "status" + (kind ? " " + kind : "");
    const parts = [];
    if (message) {
      const span = document.createElement("span");
      span.textContent = message;
      parts.push(span);
    }
    if (reference) {
      const ref = document.createElement("span");
      ref.className = "reference";
      ref.textContent = "Reference: " + reference;
      parts.push(" ", ref);
    }
    status.replaceChildren(...parts);
  }

  function markInput(invalid) {
    if (invalid) text.setAttribute("aria-invalid", "true");
    else text.removeAttribute("aria-invalid");
  }

  function hideAnswers() {
    result.hidden = true;
    unknown.hidden = true;
  }

  function inputError(message) {
    hideAnswers();
    markInput(true);
    setStatus("error", message);
    text.focus();
  }

  function setBusy(busy) {
    if (busy) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
    // aria-disabled rather than disabled: a disabled button would drop the keyboard focus.
    button.setAttribute("aria-disabled", String(busy));
    buttonText.textContent = busy ? "Classifying…" : "Classify";
    result.classList.toggle("stale", busy);
    unknown.classList.toggle("stale", busy);
  }

  function updateCount() {
    const n = charCount(text.value);
    count.textContent = number.format(n) + (MAX_CHARS ? " / " + number.format(MAX_CHARS) : "") + " characters";
    count.classList.toggle("over", Boolean(MAX_CHARS) && n > MAX_CHARS);
    if (text.getAttribute("aria-invalid") === "true" && text.value.trim() && n <= MAX_CHARS) {
      markInput(false);
      setStatus("", "");
    }
  }

  // --- the API call ---------------------------------------------------------------------------------
  class ServiceError extends Error {
    constructor(message, reference) {
      super(message);
      this.reference = reference;
    }
  }

  function sentence(message) {
    let s = message.trim();
    if (s.length > MAX_MESSAGE_CHARS) s = s.slice(0, MAX_MESSAGE_CHARS).trimEnd() + "…";
    return /[.!?…]$/.test(s) ? s : s + ".";
  }

  function failure(httpStatus, body) {
    const reference = body && typeof body.requestId === "string" ? body.requestId : "";
    if (httpStatus === 429) return new ServiceError("The classifier is busy. Please try again in a moment.");
    if (body && typeof body.message === "string" && body.message.trim()) {
      return new ServiceError("Sorry, that did not work: " + sentence(body.message), reference);
    }
    if (httpStatus >= 500) {
      return new ServiceError("The classifier had a problem (HTTP " + httpStatus + "). Please try again later.",
        reference);
    }
    return new ServiceError("The request failed (HTTP " + httpStatus + ").", reference);
  }

  async function classify(value) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(apiUrl + "/classify", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: value, k: Math.max(1, Math.min(3, labels.length || 3)), ...extras.request() }),
        signal: controller.signal,
      });
    } catch (error) {
      if (error && error.name === "AbortError") {
        throw new ServiceError("The classifier took too long to answer. Please try again.");
      }
      throw new ServiceError("The classifier cannot be reached right now. Check your connection and try again.");
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: handled below */ }
    if (!response.ok) throw failure(response.status, body);
    const cannotTell = body && body.label === null && typeof body.reason === "string";
    if (!body || (typeof body.label !== "string" && !cannotTell)) {
      throw new ServiceError("The classifier gave an answer this page cannot read.");
    }
    return body;
  }

  // --- the result -----------------------------------------------------------------------------------
  function topItem(item, first) {
    const label = String(item && item.label);
    const p = probabilityOf(item && item.probability);
    const li = document.createElement("li");
    if (first) li.className = "first";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = displayName(label);
    name.title = label;
    name.dataset.label = label;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = (p * 100).toFixed(1) + "%";
    bar.appendChild(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(p);
    li.append(name, bar, pct);
    return li;
  }

  /** The API's answer for a text the model cannot judge: no topic, the reason instead. */
  function showUnknown(answer) {
    const reason = sentence(answer.reason);
    result.hidden = true;
    $("reason").textContent = reason;
    unknown.hidden = false;
    setStatus("done", "I can't tell what this is about. " + reason);
  }

  function showResult(answer) {
    if (answer.label === null) return showUnknown(answer);
    unknown.hidden = true;
    const p = probabilityOf(answer.probability);
    const name = displayName(answer.label);
    const label = $("label");
    label.textContent = name;
    label.title = answer.label;
    label.dataset.label = answer.label;
    $("probability").textContent = percent(p);
    $("unsure").hidden = answer.confidence !== "low";  // the API's middle band (docs/confidence.md)
    const top = Array.isArray(answer.top) && answer.top.length ? answer.top : [answer];
    $("top").replaceChildren(...top.map((item, i) => topItem(item, i === 0)));
    const said = extras.show(answer, displayName);  // "probably X, possibly Y" in the middle band, else ""
    result.hidden = false;
    setStatus("done", "Result: " + (said || name) + ", " + percent(p) + " confidence.");
  }

  // --- events ---------------------------------------------------------------------------------------
  let busy = false;

  async function submit() {
    if (busy) return;
    const value = text.value.trim();
    const n = charCount(value);
    if (!value) return inputError("Type a sentence to classify first.");
    if (MAX_CHARS && n > MAX_CHARS) {
      return inputError("Your text has " + number.format(n) + " characters; the limit is "
        + number.format(MAX_CHARS) + ". Please shorten it.");
    }
    markInput(false);
    extras.keepText(value);  // the share link (an example's text too)
    if (!MAX_CHARS) {
      hideAnswers();
      return setStatus("error", "This page is not set up yet: it has no classifier address (config.js).");
    }
    busy = true;
    setBusy(true);
    setStatus("loading", "Classifying…");
    try {
      const answer = await classify(value);
      showResult(answer);
      document.dispatchEvent(new CustomEvent("classifier:answer", { detail: { text: value, answer } }));
    } catch (error) {
      hideAnswers();
      const known = error instanceof ServiceError;
      setStatus("error", known ? error.message : "Something went wrong on this page.", known ? error.reference : "");
    } finally {
      busy = false;
      setBusy(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });
  text.addEventListener("input", updateCount);
  renderPage();
  for (const example of document.querySelectorAll(".example")) {
    example.addEventListener("click", () => {
      if (busy) return;
      text.value = example.dataset.text;
      updateCount();
      submit();
    });
  }

  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || "";
  if (/mac|iphone|ipad/i.test(platform)) {
    for (const key of document.querySelectorAll(".mod-key")) key.textContent = "⌘";
  }
  updateCount();
})();
