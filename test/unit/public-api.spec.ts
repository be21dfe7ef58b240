import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');

function publicExports(entry: string): { program: ts.Program; checker: ts.TypeChecker; exports: ts.Symbol[]; source: ts.SourceFile } {
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

describe('the public API (src/index.ts)', () => {
  const entry = path.join(ROOT, 'src/index.ts');
  const { checker, exports, source } = publicExports(entry);

  it('exports by name only, so internals stay private', () => {
    expect(source.text).not.toMatch(/export \*/);
    expect(exports.length).toBeGreaterThan(10);
  });

  it('documents every export with TSDoc', () => {
    const undocumented = exports
      .map((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        const documented =
          target.getDocumentationComment(checker).length > 0 ||
          (target.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0 || hasLeadingDoc(d));
        return documented ? undefined : symbol.getName();
      })
      .filter((name): name is string => name !== undefined);
    expect(undocumented).toEqual([]);
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
