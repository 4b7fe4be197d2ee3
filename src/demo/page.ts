// demo/page: the page the demo serves at "/": a chat over the gateway's WebSocket route and buttons
// for its HTTP routes. Self-contained (inline CSS and JS, nothing fetched from elsewhere) so it works offline.
// User text only ever reaches the DOM through textContent.

export const DEMO_PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate demo</title>
<style>
  :root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #6b7280;
    --line: #e3e6eb; --accent: #2563eb; --ok: #16a34a; --warn: #d97706; --bad: #dc2626; }
  @media (prefers-color-scheme: dark) { :root { --bg: #111418; --card: #1a1f26; --fg: #e6e9ee;
    --muted: #9aa3af; --line: #2a313b; --accent: #60a5fa; } }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--fg);
    font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header, main, footer { max-width: 960px; margin: 0 auto; padding: 16px; }
  header { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
  h1 { font-size: 22px; margin: 0; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  .sub { color: var(--muted); }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding-top: 0; }
  @media (max-width: 760px) { main { grid-template-columns: 1fr; } }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px; min-width: 0; }
  .row { display: flex; gap: 8px; align-items: center; }
  input { flex: 1; min-width: 0; font: inherit; color: inherit; background: transparent;
    border: 1px solid var(--line); border-radius: 6px; padding: 7px 9px; }
  button { font: inherit; border: 1px solid var(--accent); background: var(--accent); color: #fff;
    border-radius: 6px; padding: 7px 12px; cursor: pointer; }
  button.ghost { background: transparent; color: var(--accent); }
  button:disabled { opacity: .5; cursor: default; }
  .status { font-size: 13px; padding: 2px 9px; border-radius: 999px; border: 1px solid currentColor; white-space: nowrap; }
  .status.open { color: var(--ok); } .status.connecting { color: var(--warn); } .status.closed { color: var(--bad); }
  #log { height: 340px; overflow-y: auto; margin: 10px 0; padding: 8px; border: 1px solid var(--line);
    border-radius: 6px; font-size: 14px; }
  #log p { margin: 0 0 4px; overflow-wrap: anywhere; }
  #log .meta { color: var(--muted); font-size: 12px; margin-right: 6px; }
  #log .nick { font-weight: 600; margin-right: 6px; }
  #log .me .nick { color: var(--accent); }
  #log .event { color: var(--muted); font-style: italic; }
  .buttons { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 10px; }
  pre { margin: 0; padding: 10px; min-height: 120px; max-height: 360px; overflow: auto; font-size: 12.5px;
    background: var(--bg); border: 1px solid var(--line); border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere; }
  code { font-size: 13px; }
  a { color: var(--accent); }
</style>
</head>
<body>
<header>
  <h1>wsgate demo</h1>
  <span class="sub">everything on this page goes through the gateway</span>
</header>
<main>
  <section aria-labelledby="chat-title">
    <div class="row">
      <h2 id="chat-title" style="margin:0; flex:1">Chat <span class="sub" id="members"></span></h2>
      <span id="status" class="status connecting">connecting</span>
    </div>
    <form id="nick-form" class="row" style="margin-top:10px">
      <label for="nick" class="sub">Nickname</label>
      <input id="nick" maxlength="24" autocomplete="nickname">
      <button class="ghost" type="submit">Rejoin</button>
    </form>
    <div id="log" role="log" aria-live="polite"></div>
    <form id="send-form" class="row">
      <input id="text" placeholder="Say something (open this page in a second tab to see it arrive)" maxlength="2000" autocomplete="off">
      <button id="send" type="submit" disabled>Send</button>
    </form>
  </section>
  <section aria-labelledby="http-title">
    <h2 id="http-title">HTTP routes</h2>
    <div class="buttons">
      <button class="ghost" data-path="/ping">GET /ping</button>
      <button class="ghost" data-path="/api/hello">GET /api/hello</button>
      <button class="ghost" data-path="/api/headers">GET /api/headers</button>
    </div>
    <pre id="result">Press a button: /ping is answered by the gateway itself, /api/* by the demo API behind it
(/api/headers shows the X-Forwarded-*, X-Request-Id and X-Gateway headers the gateway added).</pre>
  </section>
</main>
<footer class="sub">
  The chat uses <code>/ws/chat</code>; <code>/ws/echo</code> echoes every message.
  The admin dashboard is at <a href="http://127.0.0.1:9901/">http://127.0.0.1:9901/</a> (on the machine running the gateway).
</footer>
<script>
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var log = $("log"), statusEl = $("status"), nickInput = $("nick"), textInput = $("text"), sendButton = $("send");
  var socket = null, retryMs = 1000, retryTimer = null, nick = "";

  try { nick = localStorage.getItem("wsgate-demo-nick") || ""; } catch (e) {}
  if (!nick) nick = "visitor-" + Math.floor(1000 + Math.random() * 9000);
  nickInput.value = nick;

  function setStatus(kind, text) {
    statusEl.className = "status " + kind;
    statusEl.textContent = text;
    sendButton.disabled = kind !== "open";
  }

  function time(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function append(parts, className) {
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    var p = document.createElement("p");
    if (className) p.className = className;
    parts.forEach(function (part) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      p.appendChild(span);
    });
    log.appendChild(p);
    while (log.childNodes.length > 500) log.removeChild(log.firstChild);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function note(text) { append([["meta", time()], ["event", text]]); }

  function onEvent(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.type === "message") {
      append([["meta", time(msg.at)], ["nick", String(msg.from)], ["text", String(msg.text)]], msg.from === nick ? "me" : "");
    } else if (msg.type === "join" || msg.type === "leave") {
      note(msg.nick + (msg.type === "join" ? " joined" : " left"));
      $("members").textContent = "(" + msg.members + " online)";
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + "/ws/chat?nick=" + encodeURIComponent(nick));
    socket = ws;
    setStatus("connecting", "connecting");
    ws.onopen = function () {
      if (socket !== ws) return;
      retryMs = 1000;
      setStatus("open", "connected");
      note("connected as " + nick);
    };
    ws.onmessage = function (event) { if (socket === ws) onEvent(event); };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      var seconds = Math.round(retryMs / 1000);
      setStatus("closed", "offline, retrying in " + seconds + "s");
      note("disconnected (code " + event.code + (event.reason ? ", " + event.reason : "") + ")");
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }

  $("nick-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var wanted = nickInput.value.trim();
    if (!wanted) return;
    nick = wanted;
    try { localStorage.setItem("wsgate-demo-nick", nick); } catch (e) {}
    var old = socket;
    socket = null;
    if (old) old.close(1000, "changing nickname");
    retryMs = 1000;
    connect();
  });

  $("send-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = textInput.value;
    if (!text.trim() || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(text);
    textInput.value = "";
  });

  document.querySelectorAll("button[data-path]").forEach(function (button) {
    button.addEventListener("click", function () {
      var path = button.getAttribute("data-path"), result = $("result"), started = performance.now();
      result.textContent = "GET " + path + " ...";
      fetch(path, { headers: { accept: "application/json" } }).then(function (res) {
        return res.text().then(function (body) {
          var shown = body;
          try { shown = JSON.stringify(JSON.parse(body), null, 2); } catch (e) {}
          result.textContent = "GET " + path + " -> " + res.status + " in " +
            Math.round(performance.now() - started) + " ms" + String.fromCharCode(10, 10) + shown;
        });
      }).catch(function (err) {
        result.textContent = "GET " + path + " failed: " + err;
      });
    });
  });

  connect();
})();
</script>
</body>
</html>
`;
