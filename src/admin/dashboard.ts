// admin/dashboard: the operator's page at GET / on the admin listener: live connections, upstream
// health and throughput, read from the JSON API every two seconds. Self-contained (no external
// resources); the page itself holds no data, so it is served without the admin token, and asks for
// the token when the API answers 401.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate dashboard</title>
<style>
  :root { --bg:#0f1419; --panel:#171d24; --line:#263040; --text:#d8dee6; --dim:#8a96a6; --ok:#3fb950; --bad:#f85149; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 20px; border-bottom:1px solid var(--line); }
  header h1 { font-size:17px; margin:0; }
  header .status { color:var(--dim); font-size:13px; }
  main { padding:16px 20px; display:grid; gap:16px; }
  .cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(160px, 1fr)); gap:12px; }
  .card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
  .card .v { font-size:22px; font-variant-numeric:tabular-nums; }
  .card .k { color:var(--dim); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; overflow:auto; }
  section h2 { font-size:13px; margin:0; padding:10px 14px; border-bottom:1px solid var(--line); color:var(--dim); text-transform:uppercase; letter-spacing:.04em; }
  table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
  th, td { text-align:left; padding:6px 14px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--dim); font-weight:500; font-size:12px; }
  td.num, th.num { text-align:right; }
  .dot { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:6px; }
  .up { background:var(--ok); } .down { background:var(--bad); }
  button { background:none; border:1px solid var(--line); color:var(--bad); border-radius:4px; cursor:pointer; font-size:12px; }
  .empty { color:var(--dim); padding:10px 14px; }
  input { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:4px 8px; }
</style>
</head>
<body>
<header><h1>wsgate</h1><span class="status" id="status">connecting…</span></header>
<main>
  <div class="cards">
    <div class="card"><div class="k">live WebSockets</div><div class="v" id="live">–</div></div>
    <div class="card"><div class="k">messages/s in · out</div><div class="v" id="mps">–</div></div>
    <div class="card"><div class="k">KB/s in · out</div><div class="v" id="kbps">–</div></div>
    <div class="card"><div class="k">in-flight HTTP</div><div class="v" id="inflight">–</div></div>
    <div class="card"><div class="k">routes</div><div class="v" id="routes">–</div></div>
  </div>
  <section><h2>Upstreams</h2><table><thead><tr><th>upstream</th><th>target</th><th>health</th><th>why</th><th>last check</th><th class="num">tunnels</th><th class="num">in flight</th><th class="num">weight</th></tr></thead><tbody id="upstreams"></tbody></table></section>
  <section><h2>Live connections <input id="filter" placeholder="filter by route or user"></h2><table><thead><tr><th>id</th><th>route</th><th>user</th><th>client</th><th>target</th><th>age</th><th>idle</th><th class="num">msgs in</th><th class="num">msgs out</th><th class="num">bytes in</th><th class="num">bytes out</th><th></th></tr></thead><tbody id="conns"></tbody></table></section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem('wsgate-admin-token') || '';
  let last = null;
  const headers = () => (token ? { authorization: 'Bearer ' + token } : {});
  async function api(path, init) {
    const res = await fetch(path, Object.assign({ headers: headers(), cache: 'no-store' }, init || {}));
    if (res.status === 401) {
      token = prompt('Admin token') || '';
      sessionStorage.setItem('wsgate-admin-token', token);
      throw new Error('unauthorized');
    }
    return res.json();
  }
  function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
  function age(ms) { const s = Math.max(0, Math.floor(ms / 1000)); return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's' : Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm'; }
  function num(n) { return n.toLocaleString(); }
  async function refresh() {
    try {
      const [conns, ups, routes] = await Promise.all([api('/api/connections?limit=500'), api('/api/upstreams'), api('/api/routes')]);
      const now = Date.now();
      let mi = 0, mo = 0, bi = 0, bo = 0, inflight = 0;
      for (const c of conns.connections) { mi += c.messagesIn; mo += c.messagesOut; bi += c.bytesIn; bo += c.bytesOut; }
      if (last) {
        const dt = (now - last.at) / 1000;
        $('mps').textContent = Math.max(0, Math.round((mi - last.mi) / dt)) + ' · ' + Math.max(0, Math.round((mo - last.mo) / dt));
        $('kbps').textContent = Math.max(0, ((bi - last.bi) / dt / 1024)).toFixed(1) + ' · ' + Math.max(0, ((bo - last.bo) / dt / 1024)).toFixed(1);
      }
      last = { at: now, mi, mo, bi, bo };
      $('live').textContent = num(conns.total);
      $('routes').textContent = routes.length;
      const ub = $('upstreams'); ub.replaceChildren();
      for (const u of ups) for (const t of u.targets) {
        inflight += t.inFlightRequests;
        const tr = document.createElement('tr');
        cell(tr, u.name); cell(tr, t.url + (t.backup ? ' (backup)' : ''));
        const h = cell(tr, t.healthy ? 'healthy' : 'unhealthy'); const dot = document.createElement('span'); dot.className = 'dot ' + (t.healthy ? 'up' : 'down'); h.prepend(dot);
        cell(tr, t.healthReason + (t.ejectedUntil ? ' until ' + new Date(t.ejectedUntil).toLocaleTimeString() : ''));
        cell(tr, t.lastCheck ? t.lastCheck.result + ' · ' + age(now - Date.parse(t.lastCheck.at)) + ' ago' : '–');
        cell(tr, num(t.activeConnections), 'num'); cell(tr, num(t.inFlightRequests), 'num'); cell(tr, t.effectiveWeight < t.weight ? t.effectiveWeight + ' / ' + t.weight : String(t.weight), 'num');
        ub.appendChild(tr);
      }
      $('inflight').textContent = num(inflight);
      const f = $('filter').value.trim().toLowerCase();
      const cb = $('conns'); cb.replaceChildren();
      const list = conns.connections.filter((c) => !f || c.route.toLowerCase().includes(f) || String(c.user || '').toLowerCase().includes(f));
      if (list.length === 0) { const tr = document.createElement('tr'); const td = cell(tr, 'no live connections', 'empty'); td.colSpan = 12; cb.appendChild(tr); }
      for (const c of list) {
        const tr = document.createElement('tr');
        cell(tr, c.id); cell(tr, c.route); cell(tr, c.user || '–'); cell(tr, c.client); cell(tr, c.target);
        cell(tr, age(now - Date.parse(c.openedAt))); cell(tr, age(now - Date.parse(c.lastActivity)));
        cell(tr, num(c.messagesIn), 'num'); cell(tr, num(c.messagesOut), 'num'); cell(tr, num(c.bytesIn), 'num'); cell(tr, num(c.bytesOut), 'num');
        const b = document.createElement('button'); b.textContent = 'close';
        b.onclick = () => { if (confirm('Close ' + c.id + ' with 1008?')) api('/api/connections/' + c.id, { method: 'DELETE' }).then(refresh, refresh); };
        const td = document.createElement('td'); td.appendChild(b); tr.appendChild(td);
        cb.appendChild(tr);
      }
      $('status').textContent = 'updated ' + new Date(now).toLocaleTimeString();
    } catch (err) {
      $('status').textContent = 'admin API unreachable (' + err.message + ')';
    }
  }
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`;
