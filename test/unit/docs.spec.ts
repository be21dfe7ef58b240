/**
 * The docs against the code: every option of the module's options interface (and of the option
 * objects it nests) has a row in the README's options table, docs/graphql.md's table of request kinds
 * is the list test/e2e/graphql-outcomes.e2e-spec.ts sends, and every relative link of the README,
 * CONTRIBUTING.md and docs/*.md points to a file (and heading) that exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { REQUEST_KINDS, requestKindsTable } from '../e2e/graphql-request-kinds';

const ROOT = resolve(__dirname, '../..');
const OPTIONS_FILE = join(ROOT, 'src/veza-metrics.options.ts');
const OPTIONS_INTERFACES = ['VezaMetricsModuleOptions', 'VezaMetricsOptions'];
/** Extras of `forRoot` / `forRootAsync` that are not in the options interface. */
const MODULE_EXTRAS = ['isGlobal'];

/** Option names, top level (`path`) and nested (`scrape.timeoutMs`), read with the type checker. */
function optionNames(): { topLevel: string[]; nested: string[] } {
  const program = ts.createProgram([OPTIONS_FILE], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(OPTIONS_FILE);
  if (!source) throw new Error(`cannot read ${OPTIONS_FILE}`);
  const declaration = source.statements.find(
    (s): s is ts.InterfaceDeclaration =>
      ts.isInterfaceDeclaration(s) && OPTIONS_INTERFACES.includes(s.name.text),
  );
  if (!declaration)
    throw new Error(`no interface ${OPTIONS_INTERFACES.join(' or ')} in ${relative(ROOT, OPTIONS_FILE)}`);

  const topLevel: string[] = [];
  const nested: string[] = [];
  for (const property of checker.getTypeAtLocation(declaration).getProperties()) {
    topLevel.push(property.name);
    const type = checker.getNonNullableType(checker.getTypeOfSymbol(property));
    for (const part of type.isUnion() ? type.types : [type]) {
      // Option objects of this library: interfaces declared under src/ (not a client's Registry,
      // not records such as defaultLabels).
      const symbol = part.aliasSymbol ?? part.getSymbol();
      const declared = symbol?.declarations?.[0];
      if (!symbol || !(symbol.flags & ts.SymbolFlags.Interface) || !declared) continue;
      if (!resolve(declared.getSourceFile().fileName).startsWith(join(ROOT, 'src'))) continue;
      // The structural types of a client's objects (MetricsRegistry) are not options of ours.
      if (resolve(declared.getSourceFile().fileName).startsWith(join(ROOT, 'src', 'compat'))) continue;
      for (const child of part.getProperties()) nested.push(`${property.name}.${child.name}`);
    }
  }
  return { topLevel, nested };
}

/** The option names of the first column of the README's table under `## Options`. */
function readmeOptionRows(): Set<string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.search(/^## Options$/m);
  if (start < 0) throw new Error('README.md has no "## Options" section');
  const rest = readme.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const cell = /^\|\s*`([^`]+)`/.exec(line);
    if (cell) names.add(cell[1].trim());
  }
  return names;
}

describe('README options table', () => {
  const rows = readmeOptionRows();
  const { topLevel, nested } = optionNames();

  it('reads the options interface', () => {
    expect(topLevel).toEqual(expect.arrayContaining(['path', 'registry', 'exemplars']));
  });

  it.each(topLevel)('has a row for option "%s"', (name) => {
    if (!rows.has(name)) {
      throw new Error(
        `README.md's options table has no row for option "${name}" of ${relative(ROOT, OPTIONS_FILE)}`,
      );
    }
  });

  it.each(nested)('has a row for nested option "%s"', (name) => {
    if (!rows.has(name)) {
      throw new Error(
        `README.md's options table has no row for option "${name}" of ${relative(ROOT, OPTIONS_FILE)}`,
      );
    }
  });

  it('documents no option that does not exist', () => {
    const known = new Set([...topLevel, ...nested, ...MODULE_EXTRAS]);
    expect([...rows].filter((row) => !known.has(row))).toEqual([]);
  });
});

/** The cells of the first table after the line starting with `marker` in `file`, row by row (the rule row left out). */
function tableAfter(file: string, marker: string): string[][] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(marker));
  if (at < 0) throw new Error(`${relative(ROOT, file)} has no line starting with "${marker}"`);
  const start = lines.findIndex((l, i) => i > at && l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = start; start >= 0 && i < lines.length && lines[i].startsWith('|'); i++) {
    const cells = lines[i]
      .slice(1, lines[i].lastIndexOf('|'))
      .split('|')
      .map((c) => c.trim());
    if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
  }
  return rows;
}

describe('docs/graphql.md table of request kinds', () => {
  const documented = tableAfter(join(ROOT, 'docs/graphql.md'), '**What each request records.**');

  it('is the list of cases the GraphQL e2e spec sends, row for row', () => {
    expect(REQUEST_KINDS.length).toBeGreaterThan(8);
    expect(documented).toEqual(requestKindsTable());
  });
});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function withoutCode(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = readFileSync(file, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(match[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const docFiles = [
  join(ROOT, 'README.md'),
  join(ROOT, 'CONTRIBUTING.md'),
  ...(existsSync(join(ROOT, 'docs'))
    ? readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(ROOT, 'docs', f))
    : []),
].filter((f) => existsSync(f));

describe.each(docFiles.map((f) => [relative(ROOT, f), f]))('links of %s', (_name, file) => {
  it('point to files and headings that exist', () => {
    const broken: string[] = [];
    for (const match of withoutCode(readFileSync(file, 'utf8')).matchAll(
      /!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g,
    )) {
      const target = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#', 2);
      const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) {
        broken.push(`${target} (no file ${relative(ROOT, resolved)})`);
        continue;
      }
      if (
        anchor &&
        resolved.endsWith('.md') &&
        statSync(resolved).isFile() &&
        !anchorsOf(resolved).has(anchor)
      ) {
        broken.push(`${target} (no heading "#${anchor}" in ${relative(ROOT, resolved)})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
