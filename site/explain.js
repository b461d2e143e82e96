// What the page adds to an answer (issue 27): the middle band ("probably X, possibly Y" when the API says
// "confidence": "low"), the words behind the answer on request ("explain": true, docs/explanations.md), and
// the share link: the text lives in the URL fragment (#text=…), which browsers never send to a server.
// Loaded before app.js, which calls window.ClassifierExtras. Every string from the API or the link is set
// with textContent, never innerHTML.
"use strict";

window.ClassifierExtras = (function () {
  const FRAGMENT = "#text=";
  const SHOWN_WORDS = 3;  // the words the answer rests on most are marked strongly
  const MIN_POINTS = 1;  // a word whose removal costs less than one percentage point is not marked

  const $ = (id) => document.getElementById(id);
  const text = $("text"), toggle = $("explain");

  // --- the share link -----------------------------------------------------------------------------------
  /** The text a #text=… link carries, or null. */
  function sharedText() {
    if (!location.hash.startsWith(FRAGMENT)) return null;
    try {
      return decodeURIComponent(location.hash.slice(FRAGMENT.length));
    } catch (_) {
      return null;  // a malformed link: the box stays as it is
    }
  }

  /** Keep the box's text in the fragment (replaced, so Back does not step through every keystroke). */
  function keepText(value) {
    const url = location.pathname + location.search + (value ? FRAGMENT + encodeURIComponent(value) : "");
    history.replaceState(null, "", url);
  }

  /** Fill the box from the link; the visitor presses Classify (nothing is sent before). */
  function restore() {
    const shared = sharedText();
    if (shared === null || shared === text.value) return;
    text.value = shared;
    text.dispatchEvent(new Event("input"));  // app.js counts the characters
    const status = $("status");
    status.className = "status";
    status.textContent = "The text from the link is in the box. Press Classify to classify it.";
  }

  text.addEventListener("input", () => keepText(text.value));
  window.addEventListener("hashchange", restore);

  // --- the middle band ----------------------------------------------------------------------------------
  /** Show "probably X, possibly Y" for a low-confidence answer; return those words ("" otherwise). */
  function showBand(answer, displayName) {
    const low = answer.confidence === "low";
    const top = Array.isArray(answer.top) ? answer.top : [];
    const second = top.length > 1 ? displayName(String(top[1].label)) : "";
    const said = low ? "probably " + displayName(answer.label) + (second ? ", possibly " + second : "") : "";
    $("eyebrow").textContent = low ? "It is probably about" : "It is about";
    $("possibly").textContent = low && second ? "or possibly " + second : "";
    $("possibly").hidden = !(low && second);
    return said;
  }

  // --- the words behind the answer ----------------------------------------------------------------------
  function points(weight) {
    return Math.round(Number(weight) * 100);
  }

  function pointsText(n) {
    return n + (n === 1 ? " point" : " points");
  }

  function wordSpan(item, strong) {
    const n = points(item.weight);
    if (n < MIN_POINTS) return document.createTextNode(String(item.word));
    const mark = document.createElement("mark");
    mark.className = strong ? "why-strong" : "why-some";
    mark.textContent = String(item.word);
    const spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = " (" + (strong ? "key word, " : "") + pointsText(n) + ")";
    mark.append(spoken);
    return mark;
  }

  function showWhy(answer, displayName) {
    const why = $("why");
    const words = Array.isArray(answer.explanation) ? answer.explanation : null;
    why.hidden = words === null;
    if (words === null) return;
    const ranked = words.map((w, i) => [Number(w.weight), i]).filter(([w]) => points(w) >= MIN_POINTS)
      .sort((a, b) => b[0] - a[0]).slice(0, SHOWN_WORDS).map(([, i]) => i);
    const strong = new Set(ranked);
    $("why-label").textContent = displayName(answer.label);
    $("why-text").replaceChildren(...words.flatMap((w, i) => [i ? " " : "", wordSpan(w, strong.has(i))]));
    const most = ranked.map((i) => words[i].word + " (" + pointsText(points(words[i].weight)) + ")");
    const parts = [most.length
      ? "Without each of these words its probability drops most: " + most.join(", ") + "."
      : "No single word moves its probability by a point or more."];
    const weighed = Number(answer.explainedWords), total = Number(answer.words);
    if (weighed < total) parts.push("Only the first " + weighed + " of its " + total + " words were weighed.");
    $("why-note").textContent = parts.join(" ");
  }

  /** What app.js adds to a request: "explain": true when the visitor asked for the words. */
  function request() {
    return toggle && toggle.checked ? { explain: true } : {};
  }

  /** Show the extras of a labelled answer; return the middle band's words ("" for a confident answer). */
  function show(answer, displayName) {
    showWhy(answer, displayName);
    return showBand(answer, displayName);
  }

  restore();
  return { keepText, request, show };
})();
