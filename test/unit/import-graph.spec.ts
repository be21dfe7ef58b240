import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import * as ts from 'typescript';

/*
 * The import graph of src/ runs one way: the folders every part stands on (`options/`, `registry/`,
 * `exposition/`) import no feature folder (`http/`, `graphql/`, `rpc/`, `queues/`, `push/`,
 * `cluster/`): a feature hands its option rule down to the module at the top (src/veza-metrics.options.ts),
 * and reads the shared providers by injection. Every form of import counts: `import`, `import type`,
 * `export ... from`, `import()` (in code or in a type), `require()`, `import x = require()`, and the
 * package's own entry point (which reaches every feature).
 */
const ROOT = join(__dirname, '..', '..');
const SRC = join(ROOT, 'src');
const PACKAGE_NAME = '@veza/nestjs-metrics';

/** Folders that stand under every feature. */
const FOUNDATIONS = ['options', 'registry', 'exposition'];
/** Feature folders: none of them may be imported from a foundation. */
const FEATURES = ['http', 'graphql', 'rpc', 'queues', 'push', 'cluster', 'health'];

/** One source file: its path under src/ (posix) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** The top folder of a path under src/ (`''` for src/ itself). */
const folderOf = (path: string): string => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '');

/** Every module specifier `text` imports, in any form, as the TypeScript scanner reads them. */
export function specifiersOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** `from` in src/ importing `specifier`: the path under src/ it reaches, the package entry, or undefined (another package). */
function target(from: string, specifier: string): string | undefined {
  if (specifier === PACKAGE_NAME || specifier.startsWith(`${PACKAGE_NAME}/`)) return 'index.ts';
  if (!specifier.startsWith('.')) return undefined;
  const reached = posix.normalize(posix.join(posix.dirname(from), specifier));
  return reached === '.' || reached === 'index' ? 'index.ts' : reached;
}

/** The imports that run from a foundation folder into a feature folder, as `file -> specifier`. */
export function upwardImports(files: readonly SourceFile[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    if (!FOUNDATIONS.includes(folderOf(file.path))) continue;
    for (const specifier of specifiersOf(file.text)) {
      const reached = target(file.path, specifier);
      if (reached === undefined) continue;
      if (reached === 'index.ts' || FEATURES.includes(folderOf(reached)))
        found.push(`${file.path} -> ${specifier}`);
    }
  }
  return found;
}

function sourcesUnder(dir: string): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    if (!name.endsWith('.ts')) return [];
    return [{ path: relative(SRC, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }];
  });
}

describe('the import graph of src/', () => {
  const files = sourcesUnder(SRC);

  it('reads every foundation and feature folder', () => {
    const folders = new Set(files.map((f) => folderOf(f.path)));
    expect([...FOUNDATIONS, ...FEATURES].filter((f) => !folders.has(f))).toEqual([]);
    // The checker sees the imports the foundations do have (a scanner that read nothing would pass).
    const options = files.find((f) => f.path === 'options/resolve-options.ts');
    expect(specifiersOf(options!.text)).toEqual(expect.arrayContaining(['./option-schema']));
  });

  it('has no import from options/, registry/ or exposition/ into a feature folder', () => {
    expect(upwardImports(files)).toEqual([]);
  });

  it('lets features and the top import the foundations', () => {
    const planted: SourceFile[] = [
      { path: 'push/metrics-pusher.ts', text: "import { AppRegistry } from '../registry/app-registry';" },
      { path: 'veza-metrics.options.ts', text: "import { rpcRule } from './rpc/rpc-options';" },
      { path: 'registry/self-metrics.ts', text: "import { x } from '../options/inject-options';" },
      { path: 'exposition/metrics-exposition.ts', text: "import { y } from '../registry/app-registry';" },
      { path: 'options/inject-options.ts', text: "import { Inject } from '@nestjs/common';" },
    ];
    expect(upwardImports(planted)).toEqual([]);
  });

  it('fails on an import planted in a foundation, in every form', () => {
    const planted: SourceFile[] = [
      { path: 'options/resolve-options.ts', text: "import { rpcRule } from '../rpc/rpc-options';" },
      {
        path: 'options/veza-metrics-options.interface.ts',
        text: "import type { PushgatewayOptions } from '../push/pushgateway-options';",
      },
      { path: 'registry/app-registry.ts', text: "export { CounterCell } from '../http/metric-cells';" },
      {
        path: 'registry/self-metrics.ts',
        text: "const load = () => import('../graphql/graphql-options');\nexport type Q = typeof import('../queues/queue-options');",
      },
      {
        path: 'exposition/render-exposition.ts',
        text: "const { join } = require('../cluster/cluster-worker');\nimport w = require('../cluster/aggregate');",
      },
      { path: 'exposition/collect-failures.ts', text: "import { VezaMetric } from '@veza/nestjs-metrics';" },
      { path: 'options/exposure-warnings.ts', text: "import { x } from '..';" },
    ];
    expect(upwardImports(planted)).toEqual([
      'options/resolve-options.ts -> ../rpc/rpc-options',
      'options/veza-metrics-options.interface.ts -> ../push/pushgateway-options',
      'registry/app-registry.ts -> ../http/metric-cells',
      'registry/self-metrics.ts -> ../graphql/graphql-options',
      'registry/self-metrics.ts -> ../queues/queue-options',
      'exposition/render-exposition.ts -> ../cluster/cluster-worker',
      'exposition/render-exposition.ts -> ../cluster/aggregate',
      'exposition/collect-failures.ts -> @veza/nestjs-metrics',
      'options/exposure-warnings.ts -> ..',
    ]);
  });
});
