// briefing serve: live reload and the error overlay. Added to preview pages only, never to `build` output.
(() => {
  "use strict";
  const script = document.currentScript;
  const base = script.dataset.base || "/";
  let pageBuild = script.dataset.build || "";
  const pageFile = script.dataset.file || "";
  const HOST_ID = "briefing-overlay";

  function showErrors(diagnostics) {
    hideErrors();
    const host = document.createElement("div");
    host.id = HOST_ID;
    host.setAttribute("role", "alert");
    host.style.cssText = "all: initial; position: fixed; z-index: 2147483647; inset: 0 0 auto 0;";
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = `
      .panel { box-sizing: border-box; max-height: 70vh; overflow: auto; margin: 0; padding: 16px 20px;
               background: #1e1e1e; color: #f2f2f2; border-bottom: 4px solid #e5484d;
               box-shadow: 0 4px 24px rgba(0,0,0,.45); font: 14px/1.5 system-ui, sans-serif; }
      h2 { margin: 0 0 8px; font-size: 16px; color: #ff9592; }
      p { margin: 0 0 10px; color: #c8c8c8; }
      ol { margin: 0; padding: 0 0 0 1.5em; }
      li { margin: 0 0 6px; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
           white-space: pre-wrap; overflow-wrap: anywhere; }
      li.warning { color: #ffd08a; }
      button { position: absolute; top: 10px; right: 14px; background: none; border: 0; color: #c8c8c8;
               font: 22px/1 system-ui, sans-serif; cursor: pointer; }`;
    const panel = document.createElement("div");
    panel.className = "panel";
    const title = document.createElement("h2");
    const errors = diagnostics.filter((d) => d.severity !== "warning").length;
    title.textContent = `Build failed: ${errors} error${errors === 1 ? "" : "s"}`;
    const note = document.createElement("p");
    note.textContent = "The preview shows the last good version. Fix the file and save: this goes away.";
    const list = document.createElement("ol");
    for (const d of diagnostics) {
      const item = document.createElement("li");
      item.className = d.severity || "error";
      item.textContent = d.text;
      list.append(item);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.title = "Hide until the next build";
    close.textContent = "\u00d7";
    close.addEventListener("click", hideErrors);
    panel.append(close, title, note, list);
    root.append(style, panel);
    document.documentElement.append(host);
  }

  function hideErrors() {
    const host = document.getElementById(HOST_ID);
    if (host) host.remove();
  }

  // Swap the stylesheets for the ones the page links now (their names are fingerprinted),
  // without a navigation: the scroll position and everything on the page stay.
  async function swapStylesheets(build) {
    const response = await fetch(location.href, { cache: "no-store" });
    if (!response.ok) return location.reload();
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const stale = Array.from(document.querySelectorAll('link[rel~="stylesheet"]'));
    const anchor = stale[0] || null;
    const loads = [];
    for (const link of fresh.querySelectorAll('link[rel~="stylesheet"]')) {
      const copy = document.importNode(link, true);
      loads.push(new Promise((resolve) => { copy.onload = copy.onerror = resolve; }));
      if (anchor) anchor.before(copy); else document.head.append(copy);
    }
    await Promise.all(loads);
    for (const link of stale) link.remove();
    pageBuild = build;
  }

  // Whether a change to these output files (null: unknown) makes this page stale: its own file,
  // or any file that is not a page (an image, a script). A 404 page has no file: any change may
  // have created the page that was asked for.
  function stale(paths) {
    return !paths || !pageFile || paths.includes(pageFile) || paths.some((p) => !p.endsWith(".html"));
  }

  const events = new EventSource(base + "__briefing__/events?since=" + encodeURIComponent(pageBuild));
  // The first event on every (re)connection: the site now, and what changed since this page's build.
  events.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    if (state.build !== pageBuild) {
      if (stale(state.paths)) return location.reload();
      pageBuild = state.build;
    }
    if (state.ok) hideErrors(); else showErrors(state.diagnostics);
  });
  events.addEventListener("reload", (event) => {
    const { build, paths } = JSON.parse(event.data);
    if (stale(paths)) location.reload(); else pageBuild = build;
  });
  events.addEventListener("css", (event) => {
    hideErrors();
    swapStylesheets(JSON.parse(event.data).build).catch(() => location.reload());
  });
  events.addEventListener("errors", (event) => showErrors(JSON.parse(event.data).diagnostics));
  events.addEventListener("ok", hideErrors);
})();
