// The public API, from the TSDoc: API Extractor's reports (etc/*.api.md, committed, so that a change
// of the public surface shows in review) and the API reference in markdown (docs/api/, committed and
// shipped with the docs), for both entry points ('.' and './testing').
//
//   node scripts/api.mjs check    fails when a report or the reference is stale, or on any warning
//                                 (an undocumented export, a broken {@link}, a type the API uses but
//                                 does not export, a TSDoc syntax error)
//   node scripts/api.mjs update   rewrites etc/*.api.md and docs/api/ (still fails on warnings)
//   node scripts/api.mjs docs     rewrites docs/api/ only
//
// Both tools read declarations: they are built from src/ into .tmp/api/dts first.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const require = createRequire(import.meta.url);
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = join(ROOT, '.tmp/api');
const REFERENCE = join(ROOT, 'docs/api');
const ENTRIES = [
  { config: 'etc/api-extractor.json', model: 'main', out: '.' },
  {
    config: 'etc/api-extractor.testing.json',
    model: 'testing',
    out: 'testing',
    title: '@veza/nestjs-metrics/testing',
  },
];

const mode = process.argv[2] ?? 'check';
if (!['check', 'update', 'docs'].includes(mode)) {
  console.error(`usage: node scripts/api.mjs check|update|docs (not "${mode}")`);
  process.exit(2);
}

const problems = [];

rmSync(TMP, { recursive: true, force: true });
try {
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--emitDeclarationOnly',
      '--declarationMap',
      'false',
      '--outDir',
      join(TMP, 'dts'),
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
} catch {
  // tsc still writes the declarations: go on, so that every other problem shows in the same run.
  problems.push('tsc -p tsconfig.build.json reported type errors (above)');
}

// The testing entry imports the main one by the package's name, which its report lists as an
// import. A dist/ in the checkout (npm run build or sample, the specs that build) makes that name
// resolve to dist/ (the package's self-reference), and the report would then call the main
// entry's types forgotten exports: the extractor runs with dist/ set aside, put back after.
const DIST = join(ROOT, 'dist');
const DIST_ASIDE = join(TMP, 'dist-aside');
const distSetAside = existsSync(DIST);
if (distSetAside) renameSync(DIST, DIST_ASIDE);
try {
  for (const entry of ENTRIES) {
    const config = ExtractorConfig.loadFileAndPrepare(join(ROOT, entry.config));
    const result = Extractor.invoke(config, {
      // A local build rewrites the report; otherwise a report that differs is an error.
      localBuild: mode !== 'check',
      messageCallback: (message) => {
        if (message.messageId.startsWith('console-api-report')) {
          // "Updating etc/….api.md" in an update, "the report changed" in a check: said below.
          message.handled = true;
        } else if (message.logLevel === 'warning' || message.logLevel === 'error') {
          const where = message.sourceFilePath
            ? `${relative(ROOT, message.sourceFilePath)}:${message.sourceFileLine}: `
            : '';
          problems.push(`${entry.config}: ${where}(${message.messageId}) ${message.text}`);
          message.handled = true;
        } else {
          message.handled = message.logLevel === 'verbose' || message.logLevel === 'none';
        }
      },
    });
    if (mode === 'check' && result.apiReportChanged) {
      problems.push(
        `${relative(ROOT, config.reportFilePath)} is stale: run \`npm run api:update\` and commit it`,
      );
    }
    if (!result.succeeded && problems.length === 0) problems.push(`${entry.config}: API Extractor failed`);
  }
} finally {
  if (distSetAside) renameSync(DIST_ASIDE, DIST);
}

const generated = join(TMP, 'reference');
for (const entry of ENTRIES) {
  const out = join(generated, entry.out);
  const output = execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/@microsoft/api-documenter/bin/api-documenter'),
      'markdown',
      '-i',
      join(TMP, 'model', entry.model),
      '-o',
      out,
    ],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } },
  );
  for (const line of output.split('\n')) {
    const plain = stripVTControlCharacters(line).trim();
    if (/warning|error/i.test(plain)) problems.push(`api-documenter (${entry.model}): ${plain}`);
  }
  if (entry.title) retitle(out, entry.title);
}

if (mode === 'check') {
  const stale = differences(generated, REFERENCE);
  if (stale.length > 0) {
    problems.push(
      `docs/api/ is stale (${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}): run \`npm run api:update\` and commit it`,
    );
  }
} else {
  rmSync(REFERENCE, { recursive: true, force: true });
  cpSync(generated, REFERENCE, { recursive: true });
}

if (problems.length > 0) {
  console.error(
    `\n${problems.length} problem(s) with the public API:\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
  process.exit(1);
}
console.log(
  mode === 'check'
    ? 'API reports and reference are up to date.'
    : `Wrote ${mode === 'update' ? 'etc/*.api.md and ' : ''}docs/api/.`,
);

/** Both entry points share the package's name: the second one's pages say which import they document. */
function retitle(folder, title) {
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.md'))) {
    const path = join(folder, file);
    const text = readFileSync(path, 'utf8')
      .replaceAll('[@veza/nestjs-metrics](./nestjs-metrics.md)', `[${title}](./nestjs-metrics.md)`)
      .replace(/^## nestjs-metrics package$/m, `## ${title}`);
    writeFileSync(path, text);
  }
}

/** Relative paths that differ between two folders (missing on either side, or another content). */
function differences(a, b) {
  const files = (root) => {
    if (!existsSync(root)) return [];
    const out = [];
    const walk = (dir) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else out.push(relative(root, path));
      }
    };
    walk(root);
    return out;
  };
  const left = new Set(files(a));
  const right = new Set(files(b));
  const all = [...new Set([...left, ...right])].sort();
  return all.filter(
    (f) =>
      !left.has(f) || !right.has(f) || readFileSync(join(a, f), 'utf8') !== readFileSync(join(b, f), 'utf8'),
  );
}
