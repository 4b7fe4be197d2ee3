// admin/dashboard/page: the dashboard's markup and style (no external resources: system fonts,
// charts drawn as inline SVG by the page's own script, admin/dashboard/client.ts).

export const DASHBOARD_STYLE = `
  :root { --bg:#0f1419; --panel:#171d24; --line:#263040; --text:#d8dee6; --dim:#8a96a6; --ok:#3fb950; --bad:#f85149; --warn:#d29922; --a:#58a6ff; --b:#d2a8ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:17px; margin:0; }
  #status { color:var(--dim); font-size:13px; }
  #status.bad { color:var(--bad); }
  #token-form { margin-left:auto; display:flex; gap:6px; }
  #token-form[hidden] { display:none; }
  main { padding:16px 20px; display:grid; gap:16px; }
  .cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:12px; }
  .card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
  .card .v { font-size:19px; font-variant-numeric:tabular-nums; white-space:nowrap; }
  .k, section h2 { color:var(--dim); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  .charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); gap:12px; }
  .chart { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:8px 12px 10px; }
  .chart .head { display:flex; justify-content:space-between; align-items:baseline; gap:8px; }
  .chart .now { font-variant-numeric:tabular-nums; font-size:13px; }
  .chart svg { display:block; width:100%; height:80px; margin-top:4px; }
  .chart polyline { fill:none; stroke-width:1.5; vector-effect:non-scaling-stroke; stroke-linejoin:round; }
  .chart line { stroke:var(--line); stroke-width:1; vector-effect:non-scaling-stroke; }
  .s0 { stroke:var(--a); color:var(--a); } .s1 { stroke:var(--b); color:var(--b); }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; overflow:auto; }
  section h2 { margin:0; padding:10px 14px; border-bottom:1px solid var(--line); display:flex; gap:10px; align-items:center; flex-wrap:wrap; font-weight:600; }
  .row2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(380px, 1fr)); gap:16px; }
  table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
  th, td { text-align:left; padding:6px 14px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--dim); font-weight:500; font-size:12px; }
  td.num, th.num { text-align:right; }
  td.wrap { white-space:normal; }
  .dot { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:6px; }
  .up { background:var(--ok); } .down { background:var(--bad); }
  .alert { color:var(--warn); }
  button { background:none; border:1px solid var(--line); color:var(--text); border-radius:4px; cursor:pointer; font-size:12px; padding:3px 8px; }
  button.close { color:var(--bad); }
  .empty { color:var(--dim); }
  input, select { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:3px 8px; font-size:12px; text-transform:none; letter-spacing:0; }
  input.filter { width:120px; }
  [hidden] { display:none !important; }
`;

function chart(id: string, title: string, legend: string): string {
  return `<div class="chart" id="${id}"><div class="head"><span class="k">${title}</span><span class="now">${legend}</span></div><svg viewBox="0 0 300 80" preserveAspectRatio="none" aria-label="${title}"></svg></div>`;
}

export const DASHBOARD_BODY = `
<header>
  <h1>wsgate</h1><span id="status">connecting…</span>
  <form id="token-form" hidden><input id="token" type="password" placeholder="admin token" autocomplete="off"><button type="submit">connect</button></form>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="k">live WebSockets</div><div class="v" id="live">–</div></div>
    <div class="card"><div class="k">HTTP requests/s</div><div class="v" id="rps">–</div></div>
    <div class="card"><div class="k">HTTP p50 · p99 ms</div><div class="v" id="lat">–</div></div>
    <div class="card"><div class="k">messages/s in · out</div><div class="v" id="mps">–</div></div>
    <div class="card"><div class="k">bytes/s in · out</div><div class="v" id="bps">–</div></div>
    <div class="card"><div class="k">in-flight HTTP</div><div class="v" id="inflight">–</div></div>
    <div class="card"><div class="k">state</div><div class="v" id="state">–</div></div>
  </div>
  <div class="charts">
    ${chart('c-conns', 'live WebSockets', '<span class="s0" id="n-conns">–</span>')}
    ${chart('c-msgs', 'messages/s', '<span class="s0" id="n-msgs-in">in –</span> · <span class="s1" id="n-msgs-out">out –</span>')}
    ${chart('c-bytes', 'bytes/s', '<span class="s0" id="n-bytes-in">in –</span> · <span class="s1" id="n-bytes-out">out –</span>')}
    ${chart('c-rps', 'HTTP requests/s', '<span class="s0" id="n-rps">–</span>')}
    ${chart('c-lat', 'HTTP latency ms <select id="lat-route"><option value="">all routes</option></select>', '<span class="s0" id="n-p50">p50 –</span> · <span class="s1" id="n-p99">p99 –</span>')}
  </div>
  <section><h2>Routes</h2><table><thead><tr><th>route</th><th>match</th><th>upstream</th><th class="num">req/s</th><th class="num">5xx/s</th><th class="num">p50 ms</th><th class="num">p99 ms</th><th class="num">WebSockets</th><th class="num">msg/s in</th><th class="num">msg/s out</th></tr></thead><tbody id="routes"></tbody></table></section>
  <section><h2>Upstreams</h2><table><thead><tr><th>upstream</th><th>target</th><th>health</th><th>why</th><th>last check</th><th class="num">tunnels</th><th class="num">in flight</th><th class="num">weight</th></tr></thead><tbody id="upstreams"></tbody></table></section>
  <div class="row2">
    <section><h2>Closes by code</h2><table><thead><tr><th>code</th><th>meaning</th><th class="num">last minute</th><th class="num">total</th></tr></thead><tbody id="closes"></tbody></table></section>
    <section><h2>Anomalies</h2><table><thead><tr><th>route</th><th>signal</th><th>what it means</th></tr></thead><tbody id="anomalies"></tbody></table></section>
  </div>
  <section>
    <h2>Live connections <span id="conn-count" class="empty"></span>
      <select id="scope" title="whose connections: this instance's, or every instance's through the shared store" hidden><option value="local">this instance</option><option value="cluster">cluster</option></select>
      <span id="conn-note" class="alert" hidden></span>
      <input class="filter" id="f-route" placeholder="route" list="route-names"><datalist id="route-names"></datalist>
      <input class="filter" id="f-user" placeholder="user">
      <input class="filter" id="f-path" placeholder="path prefix">
      <input class="filter" id="f-client" placeholder="client prefix">
    </h2>
    <table><thead><tr><th>id</th><th>route</th><th>path</th><th>user</th><th>client</th><th>target</th><th>age</th><th>idle</th><th class="num">msgs in</th><th class="num">msgs out</th><th class="num">bytes in</th><th class="num">bytes out</th><th id="th-instance" hidden>instance</th><th></th></tr></thead><tbody id="conns"></tbody></table>
  </section>
</main>
`;
