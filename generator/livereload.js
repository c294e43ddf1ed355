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
      ol { margin: 0; padding: 0 0 0 2.2em; }
      ol.single { list-style: none; padding: 0; }
      li { margin: 0 0 10px; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
           white-space: pre-wrap; overflow-wrap: anywhere; }
      li::marker { color: #8a8a8a; }
      li.warning { color: #ffd08a; }
      .place { color: #7cc4ff; font-weight: 600; }
      pre { margin: 6px 0 0; padding: 8px 12px; background: #2b2b2b; border-radius: 4px; color: #e8e8e8;
            font: inherit; white-space: pre; overflow-x: auto; }
      .gutter { color: #8a8a8a; user-select: none; }
      .caret { color: #ff6b6b; font-weight: 700; }
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
    if (diagnostics.length === 1) list.className = "single";
    for (const d of diagnostics) {
      const item = document.createElement("li");
      item.className = d.severity || "error";
      // "path:line:col" stands out; the text as a whole is the terminal's line.
      const place = d.path + (d.line ? `:${d.line}:${d.column || 1}` : "");
      if (d.path && d.text.startsWith(place + ":")) {
        const where = document.createElement("span");
        where.className = "place";
        where.textContent = place;
        item.append(where, d.text.slice(place.length));
      } else {
        item.textContent = d.text;
      }
      if (d.source) item.append(excerpt(d.source));
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

  // The line a diagnostic points at, numbered, with a caret under its column.
  function excerpt(source) {
    const pre = document.createElement("pre");
    const gutter = `${source.line} | `;
    const number = document.createElement("span");
    number.className = "gutter";
    number.textContent = gutter;
    pre.append(number, source.text);
    if (source.caret !== null && source.caret !== undefined) {
      const caret = document.createElement("span");
      caret.className = "caret";
      caret.textContent = "\n" + " ".repeat(gutter.length + source.caret) + "^";
      pre.append(caret);
    }
    return pre;
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

  // Scripts the page would run: any <script> that is not data (JSON-LD, JSON, templates).
  function runnable(doc) {
    return Array.from(doc.querySelectorAll("script")).filter((s) =>
      !(s.getAttribute("src") || "").endsWith("__briefing__/livereload.js") &&
      (!s.type.trim() || /^(text|application)\/(x-)?(java|ecma)script$|^module$/i.test(s.type.trim())));
  }

  function links(doc) {
    return Array.from(doc.querySelectorAll('head link[rel~="stylesheet"]'), (l) => l.getAttribute("href")).join("\n");
  }

  function rootAttributes(doc) {
    return Array.from(doc.documentElement.attributes, (a) => `${a.name}=${a.value}`).join("\n");
  }

  // Show the page's new version without a navigation: fetch it and put its <body> (and the
  // <head>'s title, meta and the like) in place of the old. The stylesheets, this script and its
  // event stream stay, and so does the scroll position; it is also much quicker than a reload,
  // which fetches and applies every stylesheet and script again. Anything a swap could get
  // wrong (an error or redirect, other stylesheets, scripts to run, another <html lang>) reloads instead.
  async function refresh(build) {
    const response = await fetch(location.href, { cache: "no-store" });
    if (!response.ok || response.redirected) return location.reload();
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    if (links(fresh) !== links(document) || rootAttributes(fresh) !== rootAttributes(document) ||
        runnable(fresh).length || runnable(document).length) {
      return location.reload();
    }
    const keep = (node) => node.matches('link[rel~="stylesheet"], script[src]');
    for (const node of Array.from(document.head.children)) if (!keep(node)) node.remove();
    const anchor = document.head.querySelector('link[rel~="stylesheet"], script[src]');
    for (const node of Array.from(fresh.head.children)) {
      if (!keep(node)) document.head.insertBefore(document.adoptNode(node), anchor);
    }
    const x = scrollX, y = scrollY;
    document.body.replaceWith(document.adoptNode(fresh.body));
    scrollTo(x, y);
    pageBuild = build;
  }

  // One refresh at a time; events that come in the meantime are folded into one more.
  let refreshing = null, again = null;
  function scheduleRefresh(build) {
    if (refreshing) { again = build; return; }
    refreshing = refresh(build).catch(() => location.reload()).finally(() => {
      refreshing = null;
      if (again !== null) { const next = again; again = null; scheduleRefresh(next); }
    });
  }

  // Whether these changed output files include one a page may use: a stylesheet, a script, an
  // image, a font (feeds, the sitemap and robots.txt are not).
  function assetsChanged(paths) {
    return paths.some((p) => !/\.(html|xml|txt)$/.test(p));
  }

  // Whether a change to these output files (null: unknown) makes this page stale: its own file,
  // or an asset. A 404 page has no file: any change may have created the page that was asked for.
  function stale(paths) {
    return !paths || !pageFile || paths.includes(pageFile) || assetsChanged(paths);
  }

  // A state reply can cross an event: asked for before a rebuild, answered after the rebuild's
  // event arrived. Both carry the count of events the server had sent (`seq`, per server run);
  // what is older than what the page has applied is ignored, or a stale "ok" would hide errors.
  let applied = { run: "", seq: -1 };
  function current(data) {
    const run = String(data.build).split(".")[0];
    if (run === applied.run && data.seq <= applied.seq) return false;
    applied = { run, seq: data.seq };
    return true;
  }

  // The site now, and what changed since this page's build: on every (re)connection.
  function onState(state) {
    if (!current(state)) return;
    if (state.build !== pageBuild) {
      if (stale(state.paths)) return location.reload();
      pageBuild = state.build;
    }
    if (state.ok) hideErrors(); else showErrors(state.diagnostics);
  }
  const handlers = {
    // A rebuild that succeeded: the overlay goes on every page, whether it shows a change or not.
    reload(data) {
      const { build, paths } = JSON.parse(data);
      hideErrors();
      if (!stale(paths)) pageBuild = build;
      else if (pageFile && paths && !assetsChanged(paths)) scheduleRefresh(build);
      else location.reload();
    },
    css(data) {
      hideErrors();
      swapStylesheets(JSON.parse(data).build).catch(() => location.reload());
    },
    errors(data) { showErrors(JSON.parse(data).diagnostics); },
    ok() { hideErrors(); },
  };
  function handle(type, data) {
    if (current(JSON.parse(data))) handlers[type](data);
  }
  // One stream for all of this browser's tabs (livereload-worker.js): a browser opens at most six
  // connections to a host, and a stream per tab would leave the seventh tab unable to load.
  let worker = null;
  try {
    worker = typeof SharedWorker === "function" &&
      new SharedWorker(base + "__briefing__/livereload-worker.js", { name: "briefing-livereload" });
  } catch (error) {
    worker = null;   // (a page where workers are not allowed)
  }
  if (worker) {
    const askState = () => fetch(base + "__briefing__/state?since=" + encodeURIComponent(pageBuild),
                                 { cache: "no-store" })
      .then((response) => response.json()).then(onState).catch(() => {});
    worker.port.onmessage = ({ data: { type, data } }) => {
      if (type === "connected") askState();
      else if (handlers[type]) handle(type, data);
    };
    worker.port.start();
    addEventListener("pagehide", () => worker.port.postMessage("bye"));
    addEventListener("pageshow", (event) => {
      if (event.persisted) { worker.port.postMessage("hello"); askState(); }
    });
    askState();
  } else {
    const events = new EventSource(base + "__briefing__/events?since=" + encodeURIComponent(pageBuild));
    events.addEventListener("state", (event) => onState(JSON.parse(event.data)));
    for (const type of Object.keys(handlers)) {
      events.addEventListener(type, (event) => handle(type, event.data));
    }
  }
})();
