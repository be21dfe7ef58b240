/**
 * The public API is the documented API: every export of both entry points has TSDoc, every value
 * of the main entry point is named in the user docs (README.md or docs/*.md), the exports decided
 * against in issue #14 stay out, and the deprecated interceptor says what to do instead. The shape
 * of the API is recorded in etc/*.api.md (npm run api:check).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');

/** Internals once exported (issue #14): tests import them from their src/ files. */
const REMOVED = [
  'statusLabelOf',
  'findCatalogEntry',
  'VEZA_METRICS_OPTIONS',
  'MAX_EXTRA_ERROR_TYPES',
  'INSTRUMENTATION_ERRORS',
];

function userDocs(): string {
  const docs = path.join(ROOT, 'docs');
  const pages = existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')) : [];
  return [path.join(ROOT, 'README.md'), ...pages.map((f) => path.join(docs, f))]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

function targetOf(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

function publicExports(entry: string): {
  program: ts.Program;
  checker: ts.TypeChecker;
  exports: ts.Symbol[];
  source: ts.SourceFile;
} {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2022,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`cannot read ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${entry} is not a module`);
  return { program, checker, exports: checker.getExportsOfModule(moduleSymbol), source };
}

describe.each([['src/index.ts'], ['src/testing/index.ts']])('the public API (%s)', (file) => {
  const entry = path.join(ROOT, file);
  const { checker, exports, source } = publicExports(entry);

  it('exports by name only, so internals stay private', () => {
    expect(source.text).not.toMatch(/export \*/);
    expect(exports.length).toBeGreaterThan(file === 'src/index.ts' ? 60 : 5);
  });

  it('documents every export with TSDoc', () => {
    const undocumented = exports
      .map((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        const documented =
          target.getDocumentationComment(checker).length > 0 ||
          (target.declarations ?? []).some(
            (d) => ts.getJSDocCommentsAndTags(d).length > 0 || hasLeadingDoc(d),
          );
        return documented ? undefined : symbol.getName();
      })
      .filter((name): name is string => name !== undefined);
    expect(undocumented).toEqual([]);
  });
});

describe('the main entry point against the docs', () => {
  const { checker, exports } = publicExports(path.join(ROOT, 'src/index.ts'));
  const names = exports.map((s) => s.getName());

  it('names every exported value in README.md or docs/*.md', () => {
    const docs = userDocs();
    const values = exports
      .filter((s) => targetOf(checker, s).flags & ts.SymbolFlags.Value)
      .map((s) => s.getName());
    expect(values.length).toBeGreaterThan(40);
    expect(values.filter((name) => !new RegExp(`\\b${name}\\b`).test(docs))).toEqual([]);
  });

  it.each(REMOVED)('does not export the internal %s', (name) => {
    expect(names).not.toContain(name);
  });

  it('does not export VezaMetricsInterceptor, a no-op the module never needed', () => {
    expect(names).not.toContain('VezaMetricsInterceptor');
  });
});

/** `export const X = …` or `export const { X } = …`: the comment sits on the variable statement, a few nodes up. */
function hasLeadingDoc(node: ts.Node): boolean {
  let current: ts.Node | undefined = node;
  for (let i = 0; i < 5 && current; i++, current = current.parent) {
    const text = current.getSourceFile().text;
    const ranges = ts.getLeadingCommentRanges(text, current.getFullStart()) ?? [];
    if (ranges.some((r) => text.slice(r.pos, r.pos + 3) === '/**')) return true;
  }
  return false;
}
