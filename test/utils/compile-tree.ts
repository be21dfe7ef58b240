import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The repository's root. */
export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Transpiles the `.ts` files under each of `dirs` (relative to the repository's root: `src`,
 * `test/fixtures/peers`) to CommonJS under `out`, at the same relative paths, so that a fresh Node
 * process runs them as the published package runs (compiled JavaScript, Nest loaded by Node itself)
 * with no TypeScript hook of its own: the specs and benchmarks that need a process of their own.
 * `out` should lie inside the repository (`.tmp/...`), where `node_modules` resolves.
 * Per-file transpile, no type check (`tsc --noEmit` does that), like the cluster spec's.
 */
export function compileTree(out: string, dirs: readonly string[], root: string = ROOT): void {
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      if (!name.endsWith('.ts') || name.endsWith('.d.ts') || name.endsWith('.spec.ts')) continue;
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          esModuleInterop: true,
        },
      });
      const target = path.join(out, path.relative(root, file)).replace(/\.ts$/, '.js');
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  };
  for (const dir of dirs) walk(path.join(root, dir));
}
