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

// Live regions: <section id=X data-refresh=SECONDS data-src=URL> is fetched again as
// URL?partial=X and swapped in place, unless the user is typing inside it. URL is the page's
// own address (the document may be the answer to a form post). When the session has ended
// the page reloads, which leads to the sign-in.
function startRefresh(el) {
  const every = Number(el.dataset.refresh) * 1000;
  const timer = setInterval(async () => {
    const typing = el.contains(document.activeElement) && document.activeElement.matches("input,select,textarea");
    if (document.hidden || typing) return;
    const url = new URL(el.dataset.src || location.href, location.href);
    url.searchParams.set("partial", el.id);
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" }, redirect: "manual" });
      if (res.status === 401 || res.type === "opaqueredirect") {
        clearInterval(timer);
        location.assign(new URL(el.dataset.src || location.href, location.href));
        return;
      }
      if (!res.ok) return;
      const html = await res.text();
      if (html !== el.dataset.last) {
        el.dataset.last = html;
        el.innerHTML = html;
      }
    } catch (_) { /* the next tick retries */ }
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
