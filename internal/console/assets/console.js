// OpenCEN console: progressive enhancement only; every page works without it.
"use strict";

// Fields shown only when another control has a value: data-show-when="Name=value",
// alternatives joined by "|", conditions of one alternative by "&".
function valueOf(form, name) {
  const els = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
  for (const el of els) {
    if (el.type === "radio" || el.type === "checkbox") {
      if (el.checked) return el.value;
    } else {
      return el.value;
    }
  }
  return "";
}

function applyShowWhen(root) {
  for (const el of root.querySelectorAll("[data-show-when]")) {
    const form = el.closest("form");
    if (!form) continue;
    const show = el.dataset.showWhen.split("|").some(alt =>
      alt.split("&").every(cond => {
        const [name, want] = cond.split("=");
        return valueOf(form, name) === want;
      }));
    el.hidden = !show;
  }
}

// Live regions: <section id=X data-refresh=SECONDS> is re-fetched as ?partial=X and
// swapped in place, unless the user is typing inside it.
function startRefresh(el) {
  const every = Number(el.dataset.refresh) * 1000;
  setInterval(async () => {
    if (document.hidden || el.contains(document.activeElement) && document.activeElement.matches("input,select,textarea")) return;
    const url = new URL(location.href);
    url.searchParams.set("partial", el.id);
    url.searchParams.delete("flash");
    try {
      const res = await fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}});
      if (!res.ok) return;
      const html = await res.text();
      if (html !== el.dataset.last) {
        el.dataset.last = html;
        el.innerHTML = html;
      }
    } catch (_) { /* next tick retries */ }
  }, every);
}

document.addEventListener("DOMContentLoaded", () => {
  applyShowWhen(document);
  document.addEventListener("change", () => applyShowWhen(document));
  document.querySelectorAll("[data-refresh]").forEach(startRefresh);
  // Put keyboard focus on the first field in error, so it is announced and fixable at once.
  const bad = document.querySelector("[aria-invalid=true]");
  if (bad) bad.focus();
});
