// admin/dashboard: the operator's page at GET / on the admin listener, assembled once from its
// markup and style (dashboard/page.ts) and its script (dashboard/client.ts), which reads the live
// event stream GET /api/events (admin/events-stream.ts). Self-contained: no external resources, no
// build step. The page itself holds no data, so it is served without the admin token; the stream
// and every /api endpoint need it, and the page asks for it when they answer 401.
import { DASHBOARD_SCRIPT } from './dashboard/client.js';
import { DASHBOARD_BODY, DASHBOARD_STYLE } from './dashboard/page.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate dashboard</title>
<style>${DASHBOARD_STYLE}</style>
</head>
<body>
${DASHBOARD_BODY}
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
