// What `npm pack` would publish: the files package.json points at, every file the README and the docs
// link to, the license package.json names, and no source map (or sourceMappingURL) naming a missing file.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, posix } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, test } from 'vitest';
import { ROOT } from '../../helpers/cli.js';

const run = promisify(execFile);

interface PackageJson {
  name: string;
  license: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
  files: string[];
  keywords?: string[];
  repository?: { type?: string; url?: string };
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
let packed: Set<string>;

beforeAll(async () => {
  // The package ships dist/, which `npm ci` builds (the prepare script); build it if this checkout has not.
  if (!existsSync(join(ROOT, pkg.bin.wsgate!))) {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 180_000 });
  }
  // --ignore-scripts: no second build; --dry-run: no tarball written.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as { files: { path: string }[] }[];
  packed = new Set(result!.files.map((f) => f.path));
}, 240_000);

// "./dist/index.js" → "dist/index.js"
function packagePath(target: string): string {
  return posix.normalize(target.replace(/^\.\//, ''));
}

// Every string at the leaves of package.json's exports map.
function exportTargets(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (typeof node === 'object' && node !== null) return Object.values(node).flatMap(exportTargets);
  return [];
}

test('the package contains what package.json points at: bin, main, types and every export', () => {
  const targets = [...Object.values(pkg.bin), pkg.main, pkg.types, ...exportTargets(pkg.exports)].map(packagePath);
  expect(targets.filter((t) => !packed.has(t))).toEqual([]);
  expect(pkg.exports['./package.json']).toBe('./package.json');
});

test('the package resolves its own subpaths by name: wsgate/package.json and wsgate/schema.json', () => {
  const require = createRequire(import.meta.url);
  expect(require.resolve('wsgate/package.json')).toBe(join(ROOT, 'package.json'));
  expect(require.resolve('wsgate/schema.json')).toBe(join(ROOT, 'schema/wsgate.schema.json'));
});

test('the package contains the license, changelog, example config, JSON Schema and deployment docs, and no tests or sources', () => {
  for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'wsgate.example.yaml', 'schema/wsgate.schema.json', 'docs/deployment.md', 'deploy/docker/Dockerfile', 'deploy/systemd/wsgate.service']) {
    expect(packed, file).toContain(file);
  }
  const unwanted = [...packed].filter((f) => /^(src|test|bench|\.ci)\//.test(f) || f.endsWith('.tsbuildinfo') || f.endsWith('.ts') && !f.endsWith('.d.ts'));
  expect(unwanted).toEqual([]);
});

test('every relative link in the packed Markdown files points at a file in the package', () => {
  const broken: string[] = [];
  for (const file of [...packed].filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1]!;
      if (/^[a-z][a-z+.-]*:/i.test(href) || href.startsWith('#')) continue; // a URL, or an anchor in the same page
      const target = posix.normalize(posix.join(posix.dirname(file), href.split('#')[0]!));
      if (!packed.has(target)) broken.push(`${file}: ${href}`);
    }
  }
  expect(broken).toEqual([]);
});

test('no source map in the package names a file the package lacks, and no script names a missing map', () => {
  const dangling: string[] = [];
  for (const file of packed) {
    if (file.endsWith('.map')) {
      const map = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { sources?: string[]; sourceRoot?: string; sourcesContent?: unknown[] };
      for (const source of map.sources ?? []) {
        const target = normalize(join(dirname(file), map.sourceRoot ?? '', source));
        if (!packed.has(target.split('\\').join('/'))) dangling.push(`${file} → ${source}`);
      }
    } else if (/\.(js|d\.ts)$/.test(file)) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(ROOT, file), 'utf8'))?.[1];
      if (url !== undefined && !url.startsWith('data:') && !packed.has(posix.join(posix.dirname(file), url))) dangling.push(`${file} → ${url}`);
    }
  }
  // A stale dist/ from a build with source maps shows here: rm -rf dist && npm run build.
  expect(dangling).toEqual([]);
});

test('the license is the MIT license package.json names, and the registry fields are filled in', () => {
  expect(pkg.license).toBe('MIT');
  expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} /);
  expect(pkg.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/);
  expect(pkg.keywords).toEqual(expect.arrayContaining(['websocket', 'reverse-proxy', 'api-gateway']));
});
