import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Config } from '@jest/types';
import { globsToMatcher } from 'jest-util';

/*
 * The test tiers are jest projects chosen by path (jest.config.js): a spec belongs to exactly one
 * tier, so `npm test` (every tier) runs it once, and no spec is left out by a name no tier matches.
 */
const ROOT = join(__dirname, '..', '..');

/** A tier, as jest.config.js writes it. */
type Project = Config.InitialProjectOptions & { displayName: string; testMatch: string[] };

const config = jest.requireActual<Config.InitialOptions>('../../jest.config.js');
const projects = (config.projects ?? []) as Project[];

/** Every file under `dir` whose name says it is a test for jest (`.spec.ts`, `.e2e-spec.ts`, ...). */
function specFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(path).isDirectory()) found.push(...specFiles(path));
    else if (/[.-](spec|test)\.[cm]?[jt]sx?$/.test(name)) found.push(path);
  }
  return found;
}

/** The projects whose testMatch takes `file` and whose testPathIgnorePatterns leave it. */
function tiersOf(file: string): string[] {
  const atRoot = (pattern: string): string => pattern.replace('<rootDir>', ROOT);
  return projects
    .filter((project) => {
      const matches = globsToMatcher(project.testMatch.map(atRoot));
      const ignored = (project.testPathIgnorePatterns ?? []).some((pattern) =>
        new RegExp(atRoot(pattern)).test(file),
      );
      return matches(file) && !ignored;
    })
    .map((project) => project.displayName);
}

describe('the test tiers (jest projects)', () => {
  it('are unit, contract, e2e and stress', () => {
    expect(projects.map((project) => project.displayName)).toEqual(['unit', 'contract', 'e2e', 'stress']);
  });

  it('take every spec file under src/ and test/ in exactly one tier', () => {
    const files = [...specFiles(join(ROOT, 'src')), ...specFiles(join(ROOT, 'test'))];
    expect(files.length).toBeGreaterThan(100);
    const wrong = files
      .map((file) => ({ file: relative(ROOT, file), tiers: tiersOf(file) }))
      .filter(({ tiers }) => tiers.length !== 1);
    expect(wrong).toEqual([]);
  });

  it.each([
    ['test/unit/series-guard.spec.ts', 'unit'],
    ['test/unit/decorators/semantics.spec.ts', 'unit'],
    ['test/unit/compat-express.spec.ts', 'contract'],
    ['test/unit/peer-marks-contract.spec.ts', 'contract'],
    ['test/unit/seams.spec.ts', 'contract'],
    ['test/unit/import-graph.spec.ts', 'contract'],
    ['test/pack/pack.e2e-spec.ts', 'contract'],
    ['test/e2e/smoke.e2e-spec.ts', 'e2e'],
    ['test/stress/graphql-hostile.stress-spec.ts', 'stress'],
  ])('puts %s in %s', (file, tier) => {
    expect(tiersOf(join(ROOT, file))).toEqual([tier]);
  });
});
