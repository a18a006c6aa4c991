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

// Each message carries when the worker received it (at, ms): a tab that
// marked gmc down in the meantime ignores older news.
function send(msg) {
  msg.at = Date.now();
  for (const p of ports) p.postMessage(msg);
}

function connect() {
  if (es) es.close();
  open = false;
  es = new EventSource('/api/ui/events');
  es.onopen = () => { open = true; send({type: 'open'}); };
  es.onerror = () => {
    open = false;
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
    // A tab that heard gmc again asks for a stream the browser gave up on.
    else if (m.data === 'reopen' && (!es || es.readyState === EventSource.CLOSED)) connect();
  };
  port.start();
  if (!es) {
    connect();
  } else if (open) {
    port.postMessage({type: 'open', at: Date.now()});
    if (alerts) port.postMessage({type: 'alerts', data: alerts, at: Date.now()});
  }
};
