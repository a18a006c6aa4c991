// The dashboard's event stream, shared by every tab (a SharedWorker).
// Browsers open at most six HTTP/1.1 connections to one server, and an
// event stream holds one for as long as its tab is open: with an
// EventSource per tab a seventh tab could load nothing. This worker holds
// the one EventSource to /api/ui/events and hands each event ("open",
// "error", "alerts", "ping") to every tab that connected; a tab that
// connects later gets the last alerts at once.
/* eslint-env worker */
const ports = new Set();
let es = null;
let open = false;
let alerts = null;
// triedAt: when this worker last made the stream (ms); failedAt: when it
// last failed (the browser then retries after the stream's "retry", 2 s).
let triedAt = 0;
let failedAt = 0;

/**
 * stuck says whether a tab that heard gmc again (its /-/healthy answered)
 * should get a new stream: the browser gave up on it, or its retry is
 * still waiting more than RETRY_WAIT after a failure, or an attempt has
 * been under way ATTEMPT_WAIT without opening (queued behind the tab's
 * other requests, or lost).
 */
const RETRY_WAIT = 1000;
const ATTEMPT_WAIT = 5000;
function stuck(now) {
  if (!es || es.readyState === EventSource.CLOSED) return true;
  if (open) return false;
  if (failedAt >= triedAt && now - failedAt > RETRY_WAIT) return true;
  return now - Math.max(triedAt, failedAt) > ATTEMPT_WAIT;
}

// Each message carries when the worker received it (at, ms): a tab that
// marked gmc down in the meantime ignores older news.
function send(msg) {
  msg.at = Date.now();
  for (const p of ports) p.postMessage(msg);
}

function connect() {
  if (es) es.close();
  open = false;
  triedAt = Date.now();
  es = new EventSource('/api/ui/events');
  es.onopen = () => { open = true; send({type: 'open'}); };
  es.onerror = () => {
    open = false;
    failedAt = Date.now();
    send({type: 'error', data: es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'});
  };
  es.addEventListener('alerts', (ev) => { alerts = ev.data; send({type: 'alerts', data: ev.data}); });
  es.addEventListener('ping', (ev) => send({type: 'ping', data: ev.data}));
}

self.onconnect = (e) => {
  const port = e.ports[0];
  ports.add(port);
  port.onmessage = (m) => {
    if (m.data === 'bye') ports.delete(port);
    // A tab that heard gmc again asks for a new stream when this one is stuck.
    else if (m.data === 'reopen' && stuck(Date.now())) connect();
  };
  port.start();
  if (!es) {
    connect();
  } else if (open) {
    port.postMessage({type: 'open', at: Date.now()});
    if (alerts) port.postMessage({type: 'alerts', data: alerts, at: Date.now()});
  }
};
