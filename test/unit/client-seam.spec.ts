import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/*
 * The Prometheus clients are reached through one seam (src/compat/metrics-client.ts and the two
 * files behind it, prom-client.ts and prometheus-io-client.ts). Outside src/compat/, nothing
 * imports either package nor reads their internals; and the declarations the package ships do not
 * need either package's types, so an application with only one of them type-checks without
 * skipLibCheck.
 */
const ROOT = join(__dirname, '..', '..');
const CLIENTS = /(?:from\s+|import\(|require\()\s*['"](prom-client|@prometheus-io\/client)(\/[^'"]*)?['"]/;
const INTERNALS = /\.hashMap\b|\._defaultLabels\b|\._metrics\b|\bsortedLabelNames\b|\bkeyFrom\b/;

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, suffix) : path.endsWith(suffix) ? [path] : [];
  });
}

describe('the Prometheus clients behind one seam (src/compat/)', () => {
  const outside = filesUnder(join(ROOT, 'src'), '.ts').filter(
    (f) => !relative(ROOT, f).startsWith(join('src', 'compat')),
  );

  it('no file outside src/compat/ imports prom-client or @prometheus-io/client', () => {
    expect(
      outside.filter((f) => CLIENTS.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f)),
    ).toEqual([]);
  });

  it("no file outside src/compat/ reads a client's internals (hashMap, store keys, _defaultLabels, _metrics)", () => {
    expect(
      outside.filter((f) => INTERNALS.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f)),
    ).toEqual([]);
  });

  it("the emitted declarations (.d.ts) need neither client's types", () => {
    const out = mkdtempSync(join(tmpdir(), 'veza-dts-'));
    try {
      try {
        execFileSync(
          process.execPath,
          [
            join(ROOT, 'node_modules/typescript/bin/tsc'),
            '-p',
            join(ROOT, 'tsconfig.build.json'),
            '--emitDeclarationOnly',
            '--outDir',
            out,
          ],
          { stdio: 'pipe' },
        );
      } catch {
        // Type errors elsewhere still emit the declarations, which is what is read here.
      }
      const dts = filesUnder(out, '.d.ts');
      expect(dts.length).toBeGreaterThan(50);
      expect(dts.filter((f) => CLIENTS.test(readFileSync(f, 'utf8'))).map((f) => relative(out, f))).toEqual(
        [],
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
