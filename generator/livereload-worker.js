// briefing serve: one event stream shared by every preview tab of this browser (a SharedWorker).
// A browser opens at most six connections to one host; an EventSource per tab would hold one
// each, and a seventh tab could never load. Tabs ask the server for their own state with a
// plain request (livereload.js); this worker only passes the stream's events on.
"use strict";
const ports = new Set();
let source = null;

function broadcast(type, data) {
  for (const port of ports) port.postMessage({ type, data });
}

function listen() {
  source = new EventSource("events");   // beside this script: <base>__briefing__/events
  // The first event of every (re)connection: tabs then ask what changed since their own build.
  source.addEventListener("state", () => broadcast("connected", null));
  for (const type of ["reload", "css", "errors", "ok"]) {
    source.addEventListener(type, (event) => broadcast(type, event.data));
  }
}

onconnect = (event) => {
  const port = event.ports[0];
  ports.add(port);
  // a tab leaving says so; one restored from the back-forward cache says hello again
  port.onmessage = (message) => {
    if (message.data === "bye") ports.delete(port);
    else if (message.data === "hello") ports.add(port);
  };
  port.start();
  if (!source) listen();
};
