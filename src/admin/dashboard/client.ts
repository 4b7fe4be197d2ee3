// admin/dashboard/client: the dashboard's own script, as the text the page embeds. It reads the
// event stream GET /api/events with fetch() and a stream reader (EventSource cannot send the
// Authorization header, and the token must never ride in a URL that gets logged), keeps the last two
// minutes of snapshots for its charts (inline SVG), and renders the tables. With a shared store the
// connection list switches between this instance and the cluster (the stream's ?scope=cluster), with
// the instance holding each connection. The admin token lives in sessionStorage and is asked for when
// the API answers 401. Plain ES2020, no build step: it is sent as written, so it holds no backquote
// and no dollar-brace.
export const DASHBOARD_SCRIPT = `
(() => {
  const $ = (id) => document.getElementById(id);
  const HISTORY = 120;             // snapshots kept for the charts: two minutes at one a second
  const RETRY_MS = 2000;
  const SIGNALS = {
    new_connections: 'new WebSocket connections well above the baseline',
    abnormal_closes: 'WebSockets dying (1006, 1011, 1014) above the baseline',
    http_5xx: 'HTTP 5xx answers above the baseline',
    http_p99: 'HTTP p99 latency above the baseline',
  };
  let token = sessionStorage.getItem('wsgate-admin-token') || '';
  let controller = null;
  let retryTimer = null;
  let history = [];

  // ---- the stream ----

  function setStatus(text, bad) {
    $('status').textContent = text;
    $('status').className = bad ? 'bad' : '';
  }

  function authHeaders() {
    return token ? { authorization: 'Bearer ' + token } : {};
  }

  function filtering() {
    return ['route', 'user', 'path', 'client'].some((k) => $('f-' + k).value.trim() !== '');
  }

  function streamQuery() {
    const q = new URLSearchParams();
    for (const k of ['route', 'user', 'path', 'client']) {
      const v = $('f-' + k).value.trim();
      if (v) q.set(k, v);
    }
    if ($('scope').value === 'cluster') q.set('scope', 'cluster');
    const s = q.toString();
    return s ? '?' + s : '';
  }

  async function connect() {
    if (controller) controller.abort();
    clearTimeout(retryTimer);
    const c = new AbortController();
    controller = c;
    setStatus('connecting…');
    try {
      const res = await fetch('/api/events' + streamQuery(), { headers: authHeaders(), cache: 'no-store', signal: c.signal });
      if (res.status === 401) {
        setStatus('the admin API needs the token', true);
        $('token-form').hidden = false;
        $('token').focus();
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      $('token-form').hidden = true;
      setStatus('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let at;
        while ((at = buf.indexOf('\\n\\n')) >= 0) {
          onEvent(buf.slice(0, at));
          buf = buf.slice(at + 2);
        }
      }
      throw new Error('the gateway ended the stream');
    } catch (err) {
      if (c.signal.aborted) return;
      setStatus('disconnected (' + err.message + '); retrying…', true);
      retryTimer = setTimeout(connect, RETRY_MS);
    }
  }

  function onEvent(block) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (data === '') return;
    if (event === 'snapshot') render(JSON.parse(data));
    else if (event === 'problem') setStatus('the gateway could not take a snapshot: ' + JSON.parse(data).message, true);
  }

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token').value;
    sessionStorage.setItem('wsgate-admin-token', token);
    connect();
  });

  let filterTimer = null;
  for (const k of ['route', 'user', 'path', 'client']) {
    $('f-' + k).addEventListener('input', () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(connect, 300);
    });
  }
  $('lat-route').addEventListener('change', () => drawCharts());
  $('scope').addEventListener('change', () => connect());

  // ---- formatting ----

  function num(n) {
    if (n === null || n === undefined) return '–';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return n >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
  }
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MiB';
    if (n >= 1024) return (n / 1024).toFixed(1) + ' KiB';
    return Math.round(n) + ' B';
  }
  function ms(n) {
    return n === null || n === undefined ? '–' : n >= 100 ? String(Math.round(n)) : n.toFixed(2);
  }
  function age(msAgo) {
    const s = Math.max(0, Math.floor(msAgo / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  }
  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function fill(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = cell(tr, emptyText, 'empty');
      td.colSpan = columns;
      tbody.appendChild(tr);
    }
  }

  // ---- charts: one polyline per series, scaled to the largest value shown ----

  function drawChart(id, series) {
    const svg = $(id).querySelector('svg');
    const W = 300, H = 80, PAD = 4;
    let max = 0;
    for (const s of series) for (const v of s) if (v !== null && v > max) max = v;
    const scale = max > 0 ? (H - 2 * PAD) / max : 0;
    const parts = ['<line x1="0" y1="' + (H - 0.5) + '" x2="' + W + '" y2="' + (H - 0.5) + '"></line>'];
    series.forEach((values, i) => {
      const step = W / Math.max(1, HISTORY - 1);
      const offset = HISTORY - values.length;
      const points = [];
      values.forEach((v, j) => {
        if (v === null) return;
        points.push(((offset + j) * step).toFixed(1) + ',' + (H - PAD - v * scale).toFixed(1));
      });
      parts.push('<polyline class="s' + i + '" points="' + points.join(' ') + '"></polyline>');
    });
    svg.innerHTML = parts.join('');
    svg.dataset.max = String(max);
  }

  function drawCharts() {
    const route = $('lat-route').value;
    const lat = history.map((h) => (route ? h.routes[route] || { p50: null, p99: null } : h));
    drawChart('c-conns', [history.map((h) => h.conns)]);
    drawChart('c-msgs', [history.map((h) => h.mi), history.map((h) => h.mo)]);
    drawChart('c-bytes', [history.map((h) => h.bi), history.map((h) => h.bo)]);
    drawChart('c-rps', [history.map((h) => h.rps)]);
    drawChart('c-lat', [lat.map((h) => h.p50), lat.map((h) => h.p99)]);
    const now = lat[lat.length - 1] || { p50: null, p99: null };
    $('n-p50').textContent = 'p50 ' + ms(now.p50);
    $('n-p99').textContent = 'p99 ' + ms(now.p99);
  }

  // ---- one snapshot ----

  function render(s) {
    const t = s.totals;
    const routes = {};
    for (const r of s.routes) routes[r.name] = { p50: r.p50Ms, p99: r.p99Ms };
    history.push({ conns: t.connections, mi: t.messagesInPerSec, mo: t.messagesOutPerSec, bi: t.bytesInPerSec, bo: t.bytesOutPerSec, rps: t.requestsPerSec, p50: t.p50Ms, p99: t.p99Ms, routes });
    if (history.length > HISTORY) history = history.slice(-HISTORY);

    $('live').textContent = num(t.connections);
    $('rps').textContent = num(t.requestsPerSec);
    $('lat').textContent = ms(t.p50Ms) + ' · ' + ms(t.p99Ms);
    $('mps').textContent = num(t.messagesInPerSec) + ' · ' + num(t.messagesOutPerSec);
    $('bps').textContent = bytes(t.bytesInPerSec) + ' · ' + bytes(t.bytesOutPerSec);
    $('inflight').textContent = num(t.inFlightRequests);
    $('state').textContent = s.ready ? 'ready' : 'draining';
    $('n-conns').textContent = num(t.connections);
    $('n-msgs-in').textContent = 'in ' + num(t.messagesInPerSec);
    $('n-msgs-out').textContent = 'out ' + num(t.messagesOutPerSec);
    $('n-bytes-in').textContent = 'in ' + bytes(t.bytesInPerSec);
    $('n-bytes-out').textContent = 'out ' + bytes(t.bytesOutPerSec);
    $('n-rps').textContent = num(t.requestsPerSec);
    setStatus((s.metrics ? 'live' : 'live; metrics are off (metrics.enabled: false), so no rates') + ' · ' + new Date(s.at).toLocaleTimeString());

    const select = $('lat-route');
    const names = s.routes.map((r) => r.name);
    if (select.options.length !== names.length + 1 || names.some((n, i) => select.options[i + 1].value !== n)) {
      const keep = select.value;
      select.replaceChildren(new Option('all routes', ''), ...names.map((n) => new Option(n, n)));
      select.value = names.includes(keep) ? keep : '';
      $('route-names').replaceChildren(...names.map((n) => new Option(n, n)));
    }
    drawCharts();

    fill($('routes'), s.routes.map((r) => {
      const tr = document.createElement('tr');
      cell(tr, r.name);
      cell(tr, (r.host || '') + r.path);
      cell(tr, r.upstream || '–');
      cell(tr, num(r.requestsPerSec), 'num');
      cell(tr, num(r.errorsPerSec), 'num');
      cell(tr, ms(r.p50Ms), 'num');
      cell(tr, ms(r.p99Ms), 'num');
      cell(tr, num(r.wsActive), 'num');
      cell(tr, num(r.messagesInPerSec), 'num');
      cell(tr, num(r.messagesOutPerSec), 'num');
      return tr;
    }), 10, 'no routes');

    const now = Date.parse(s.at);
    const targets = [];
    for (const u of s.upstreams) for (const x of u.targets) {
      const tr = document.createElement('tr');
      cell(tr, u.name);
      cell(tr, x.url + (x.backup ? ' (backup)' : ''));
      const h = cell(tr, x.healthy ? 'healthy' : 'unhealthy');
      const dot = document.createElement('span');
      dot.className = 'dot ' + (x.healthy ? 'up' : 'down');
      h.prepend(dot);
      cell(tr, x.healthReason + (x.ejectedUntil ? ' until ' + new Date(x.ejectedUntil).toLocaleTimeString() : ''), 'wrap');
      cell(tr, x.lastCheck ? x.lastCheck.result + ' · ' + age(now - Date.parse(x.lastCheck.at)) + ' ago' : '–');
      cell(tr, num(x.activeConnections), 'num');
      cell(tr, num(x.inFlightRequests), 'num');
      cell(tr, x.effectiveWeight < x.weight ? x.effectiveWeight + ' / ' + x.weight : String(x.weight), 'num');
      targets.push(tr);
    }
    fill($('upstreams'), targets, 8, 'no upstreams');

    fill($('closes'), s.closes.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.code = String(c.code);
      cell(tr, String(c.code));
      cell(tr, c.meaning, 'wrap');
      cell(tr, num(c.lastMinute), 'num');
      cell(tr, num(c.total), 'num');
      return tr;
    }), 4, 'no WebSocket closed yet');

    fill($('anomalies'), s.anomalies.map((a) => {
      const tr = document.createElement('tr');
      tr.className = 'alert';
      cell(tr, a.route);
      cell(tr, a.signal);
      cell(tr, SIGNALS[a.signal] || '', 'wrap');
      return tr;
    }), 3, 'none');

    // The switch shows only with a shared store; a stream asked for the cluster without one is asked again.
    $('scope').hidden = !s.sharedStore;
    if (!s.sharedStore && $('scope').value === 'cluster') {
      $('scope').value = 'local';
      connect();
      return;
    }
    const cluster = s.connections.scope === 'cluster';
    const list = s.connections.connections;
    $('conn-count').textContent = list.length + ' shown of ' + s.connections.total + (cluster ? ' on ' + s.connections.instances.length + (s.connections.instances.length === 1 ? ' instance' : ' instances') : '');
    $('conn-note').hidden = !cluster || s.connections.complete;
    $('conn-note').textContent = cluster && !s.connections.complete ? "incomplete: the shared store did not answer, so only this instance's connections are listed" : '';
    $('th-instance').hidden = !cluster;
    fill($('conns'), list.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.id = c.id;
      cell(tr, c.id);
      cell(tr, c.route);
      cell(tr, c.path);
      cell(tr, c.user || '–');
      cell(tr, c.client + (c.clientPort ? ':' + c.clientPort : '') + (c.worker ? ' (worker ' + c.worker + ')' : ''));
      cell(tr, c.target);
      cell(tr, age(now - Date.parse(c.openedAt)));
      cell(tr, age(now - Date.parse(c.lastActivity)));
      cell(tr, num(c.messagesIn), 'num');
      cell(tr, num(c.messagesOut), 'num');
      cell(tr, bytes(c.bytesIn), 'num');
      cell(tr, bytes(c.bytesOut), 'num');
      if (cluster) cell(tr, c.instance || '–');
      const b = document.createElement('button');
      b.className = 'close';
      b.textContent = 'close';
      b.title = 'close with 1008 "closed by operator"';
      b.onclick = () => closeConnection(c.id);
      const td = document.createElement('td');
      td.appendChild(b);
      tr.appendChild(td);
      return tr;
    }), cluster ? 14 : 13, 'no live connections' + (filtering() ? ' match the filter' : ''));
  }

  async function closeConnection(id) {
    if (!confirm('Close connection ' + id + ' with 1008?')) return;
    try {
      const res = await fetch('/api/connections/' + encodeURIComponent(id), { method: 'DELETE', headers: authHeaders() });
      const body = await res.json();
      setStatus(res.ok ? 'closing ' + id : 'could not close ' + id + ': ' + body.error.message, !res.ok);
    } catch (err) {
      setStatus('could not close ' + id + ': ' + err.message, true);
    }
  }

  connect();
})();
`;
