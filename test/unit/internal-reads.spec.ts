import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as ts from 'typescript';

/*
 * An `@internal` member of a class (its TSDoc says so) is read only in its own folder of src/:
 * other folders get what they need from a provider of its own (options, client, exposition,
 * self-metrics...) or through public API. The members are found with the TypeScript compiler (TSDoc
 * tags of properties, methods, accessors and constructor parameter properties), and each read is
 * resolved with the type checker, so that a read is caught under any local name: `x.member`,
 * `x['member']`, `const { member } = x`, and through a cast (`(x as { member?: T }).member`, the
 * type of `x` before the cast is what counts).
 */
const ROOT = join(__dirname, '..', '..');
const SRC = join(ROOT, 'src');

/** The folder a file of `srcRoot` belongs to: its first directory under src/ (`.` for src/ itself). */
function folderOf(srcRoot: string, fileName: string): string {
  const parts = relative(srcRoot, fileName).split(/[\\/]/);
  return parts.length > 1 ? parts[0] : '.';
}

const isInternal = (node: ts.Node): boolean =>
  ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal');

/** Each class member tagged `@internal`, with `Class#member` and its folder. */
function internalMembers(program: ts.Program, srcRoot: string): Map<ts.Declaration, string> {
  const found = new Map<ts.Declaration, string>();
  program.getTypeChecker(); // binds the files: JSDoc tags are read through parent nodes
  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile || relative(srcRoot, file.fileName).startsWith('..')) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) {
        for (const member of node.members) {
          if (ts.isConstructorDeclaration(member)) {
            // Parameter properties (`constructor(readonly options: X)`) are members too.
            for (const p of member.parameters)
              if (ts.isParameterPropertyDeclaration(p, member) && isInternal(p))
                found.set(p, `${node.name.text}#${p.name.getText()}`);
            continue;
          }
          if (member.name && isInternal(member))
            found.set(member, `${node.name.text}#${member.name.getText()}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

/** `x` under its parentheses, casts (`as`, `satisfies`, `<T>x`) and `!`. */
function uncast(node: ts.Expression): ts.Expression {
  let e = node;
  while (
    ts.isParenthesizedExpression(e) ||
    ts.isAsExpression(e) ||
    ts.isSatisfiesExpression(e) ||
    ts.isTypeAssertionExpression(e) ||
    ts.isNonNullExpression(e)
  )
    e = e.expression;
  return e;
}

/** The reads of `@internal` members outside their folder, as `file:line Class#member`. */
export function internalReads(program: ts.Program, srcRoot: string): string[] {
  const checker = program.getTypeChecker();
  const members = internalMembers(program, srcRoot);
  // Only names of @internal members are worth asking the checker about.
  const names = new Set([...members.values()].map((m) => m.slice(m.indexOf('#') + 1)));
  const out: string[] = [];
  const declaredFolder = (d: ts.Declaration): string => folderOf(srcRoot, d.getSourceFile().fileName);

  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile || relative(srcRoot, file.fileName).startsWith('..')) continue;
    const folder = folderOf(srcRoot, file.fileName);
    const note = (at: ts.Node, symbols: Array<ts.Symbol | undefined>): void => {
      for (const symbol of symbols) {
        for (const d of symbol?.declarations ?? []) {
          const name = members.get(d);
          if (name === undefined || declaredFolder(d) === folder) continue;
          const line = file.getLineAndCharacterOfPosition(at.getStart()).line + 1;
          out.push(`${relative(srcRoot, file.fileName).split(sep).join('/')}:${line} ${name}`);
          return;
        }
      }
    };
    /** The property `name` of the type of `target`, before any cast. */
    const propertyOf = (target: ts.Expression, name: string): ts.Symbol | undefined =>
      checker.getTypeAtLocation(uncast(target)).getProperty(name);

    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) && names.has(node.name.text)) {
        note(node.name, [
          checker.getSymbolAtLocation(node.name),
          propertyOf(node.expression, node.name.text),
        ]);
      } else if (
        ts.isElementAccessExpression(node) &&
        ts.isStringLiteralLike(node.argumentExpression) &&
        names.has(node.argumentExpression.text)
      ) {
        note(node.argumentExpression, [propertyOf(node.expression, node.argumentExpression.text)]);
      } else if (ts.isObjectBindingPattern(node)) {
        const source = ts.isVariableDeclaration(node.parent) ? node.parent.initializer : undefined;
        for (const element of node.elements) {
          const key = element.propertyName ?? element.name;
          if ((!ts.isIdentifier(key) && !ts.isStringLiteralLike(key)) || !names.has(key.text)) continue;
          note(element, [
            source ? propertyOf(source, key.text) : undefined,
            checker.getTypeAtLocation(node).getProperty(key.text),
          ]);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function programOf(srcRoot: string): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  return ts.createProgram(filesUnder(srcRoot), { ...config!.options, noEmit: true });
}

/** A program over files held in memory (`/v/src/...`), for the cases below. */
function programOfFiles(files: Record<string, string>): ts.Program {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const inMemory = new Map(Object.entries(files).map(([k, v]) => [`/v/src/${k}`, v]));
  return ts.createProgram([...inMemory.keys()], options, {
    ...host,
    fileExists: (f) => inMemory.has(f) || host.fileExists(f),
    directoryExists: (d) =>
      [...inMemory.keys()].some((f) => f.startsWith(`${d}/`)) || host.directoryExists!(d),
    readFile: (f) => inMemory.get(f) ?? host.readFile(f),
    getSourceFile: (f, language) =>
      inMemory.has(f)
        ? ts.createSourceFile(f, inMemory.get(f)!, language, true)
        : host.getSourceFile(f, language),
  });
}

describe('@internal members', () => {
  it('are read only in their own folder of src/', () => {
    const program = programOf(SRC);
    // The checker sees the library's @internal members (one that found none would pass).
    expect([...internalMembers(program, SRC).values()]).toEqual(
      expect.arrayContaining(['VezaMetricsRegistry#definition']),
    );
    expect(internalReads(program, SRC)).toEqual([]);
  });

  it('are caught when read from another folder, however they are read', () => {
    const program = programOfFiles({
      'a/holder.ts': `
        export class Holder {
          /** @internal */ readonly secret = 1;
          /** Public. */ readonly open = 2;
          /** @internal */ hidden(): number { return 3; }
          constructor(/** @internal */ readonly given: number) {}
        }`,
      'a/same-folder.ts': `
        import { Holder } from './holder';
        export const fine = (h: Holder) => h.secret + h.hidden() + h.given;`,
      'b/reader.ts': `
        import { Holder } from '../a/holder';
        export function read(h: Holder) {
          const direct = h.secret;
          const called = h.hidden();
          const param = h.given;
          const keyed = h['secret'];
          const { secret, given: renamed } = h;
          const cast = (h as unknown as { secret?: number }).secret;
          const open = h.open;
          return [direct, called, param, keyed, secret, renamed, cast, open];
        }`,
    });
    expect(internalReads(program, '/v/src')).toEqual([
      'b/reader.ts:4 Holder#secret',
      'b/reader.ts:5 Holder#hidden',
      'b/reader.ts:6 Holder#given',
      'b/reader.ts:7 Holder#secret',
      'b/reader.ts:8 Holder#secret',
      'b/reader.ts:8 Holder#given',
      'b/reader.ts:9 Holder#secret',
    ]);
  });
});
