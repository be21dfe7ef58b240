/**
 * docs/testing.md, as a new user runs it: the app `nest new` makes with the Nest 12 CLI (an ES module
 * tested with vitest; test/pack/new-app/, what the CLI generated, trimmed and pinned), copied outside
 * the repository, with the packed package installed. The page's files are taken from the page
 * itself (its code blocks that start with `// <path>`), so the page cannot drift from what passes:
 * `tsc --noEmit` (with docs/getting-started.md's complete examples), `npx vitest run`, the Jest
 * set-up, and the Jest set-up again in the same app made CommonJS (no `"type": "module"`, the
 * page's CommonJS tsconfig.json).
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packFromStage, REPO, run, runAny } from './pack-stage';

jest.setTimeout(8 * 60_000);

const PAGE = readFileSync(join(REPO, 'docs/testing.md'), 'utf8');

/** The code blocks of the page: language and body. */
const BLOCKS = [...PAGE.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));

/** The block whose first line is `// <path>` (a note in parentheses may follow the path). */
function fileBlock(path: string): string {
  const found = BLOCKS.filter((b) => b.body.startsWith(`// ${path}\n`) || b.body.startsWith(`// ${path} (`));
  if (found.length !== 1)
    throw new Error(`docs/testing.md: ${found.length} code blocks for ${path}, expected 1`);
  return found[0].body;
}

/** The Jest test as the page gives it, and the vitest one: its first lines, then the Jest test's body. */
function vitestTest(): string {
  const jestTest = fileBlock('test/auth.test.ts');
  const marker = '\nsetupMetricsMatchers(); // adds expect(app).toHaveMetricValue(...)\n';
  const at = jestTest.indexOf(marker);
  if (at < 0) throw new Error('docs/testing.md: the Jest test has no setupMetricsMatchers() line');
  return fileBlock('test/auth.spec.ts') + jestTest.slice(at + marker.length);
}

/** docs/getting-started.md's complete examples: its ts blocks that start with their imports. */
const GETTING_STARTED_FILES = [
  ...readFileSync(join(REPO, 'docs/getting-started.md'), 'utf8').matchAll(/^```ts\n(import [\s\S]*?)^```$/gm),
].map((m) => m[1]);

/** The page's tsconfig.json for a CommonJS app: its json block with `"module": "node20"`. */
function commonJsTsconfig(): string {
  const found = BLOCKS.filter((b) => b.lang === 'json' && b.body.includes('"module": "node20"'));
  if (found.length !== 1) throw new Error(`docs/testing.md: ${found.length} CommonJS tsconfig blocks`);
  return found[0].body;
}

/** vitest.config.ts as `nest new` wrote it (Nest CLI 12.0.15). */
const GENERATED_VITEST_CONFIG = `import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

export default defineConfig({
  // Resolves the path aliases declared in tsconfig.json, including the ones
  // added by \`nest g library\`.
  plugins: [tsconfigPaths()],
  test: {
    globals: true,
    root: './',
    include: ['**/*.spec.ts'],
  },
});
`;

describe('docs/testing.md in an app made by `nest new` (Nest 12: ES module, vitest)', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'veza-new-app-'));
  const app = join(workDir, 'app');

  beforeAll(async () => {
    const tarball = await packFromStage(workDir);
    cpSync(join(__dirname, 'new-app'), app, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    pkg.dependencies['@veza/nestjs-metrics'] = `file:${tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    writeFileSync(join(app, 'vitest.config.ts'), GENERATED_VITEST_CONFIG);
    mkdirSync(join(app, 'src'));
    mkdirSync(join(app, 'test'));
    writeFileSync(join(app, 'src/auth.ts'), fileBlock('src/auth.ts'));
    GETTING_STARTED_FILES.forEach((code, i) =>
      writeFileSync(join(app, `src/getting-started-${i + 1}.ts`), code),
    );
    writeFileSync(join(app, 'test/auth.test.ts'), fileBlock('test/auth.test.ts'));
    writeFileSync(join(app, 'test/auth.spec.ts'), vitestTest());
    writeFileSync(join(app, 'jest.config.cjs'), fileBlock('jest.config.cjs'));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
    // The page's `cp`: the transformer the package ships, named .cjs.
    mkdirSync(join(app, 'jest'));
    copyFileSync(
      join(app, 'node_modules/@veza/nestjs-metrics/docs/jest/esm-to-cjs.transformer.js'),
      join(app, 'jest/esm-to-cjs.transformer.cjs'),
    );
  });

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('type-checks the page’s files, and getting-started’s examples, as the app’s tsconfig.json has it (nodenext)', async () => {
    expect(GETTING_STARTED_FILES).toHaveLength(3); // the module, the decorator, the injection
    await run(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'tsconfig.json'], app);
  });

  it('passes `npx vitest run` with the page’s vitest test', async () => {
    const { stdout } = await run('npx', ['vitest', 'run', 'test/auth.spec.ts'], app, {
      CI: 'true',
      NO_COLOR: '1',
    });
    // eslint-disable-next-line no-control-regex
    expect(stdout.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+3 passed \(3\)/);
  });

  it('passes `npx jest` with the page’s jest.config.cjs and transformer', async () => {
    const { stderr } = await run('npx', ['jest', '--ci', 'test/auth.test.ts'], app);
    expect(stderr).toMatch(/Tests:\s+3 passed, 3 total/);
  });

  it('shows why jest.config.cjs: a jest.config.js of module.exports fails in the ES-module app', async () => {
    const config = join(app, 'jest.config.js');
    writeFileSync(config, fileBlock('jest.config.cjs'));
    try {
      const result = await runAny('npx', ['jest', '--ci', '-c', 'jest.config.js', 'test/auth.test.ts'], app);
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('module is not defined in ES module scope');
    } finally {
      rmSync(config);
    }
  });

  it('passes the same Jest set-up in the app made CommonJS, with the page’s CommonJS tsconfig.json', async () => {
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { type?: string };
    delete pkg.type;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    writeFileSync(join(app, 'tsconfig.json'), commonJsTsconfig());
    const { stderr } = await run('npx', ['jest', '--ci', '--no-cache', 'test/auth.test.ts'], app);
    expect(stderr).toMatch(/Tests:\s+3 passed, 3 total/);
  });
});
