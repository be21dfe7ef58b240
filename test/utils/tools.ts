import { spawnSync } from 'node:child_process';

/**
 * Finds an external tool (promtool, prometheus) on the PATH. Under `CI=true` a missing tool fails
 * the test (CI installs it: `.ci/run`); on a developer's machine the caller skips, with a notice.
 */
export function findTool(name: string, debianPackage = 'prometheus'): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  if (path) return path;
  if (process.env.CI === 'true') {
    throw new Error(
      `${name} is required under CI=true but is not on the PATH: install the Debian package "${debianPackage}" (.ci/run does).`,
    );
  }
  process.stdout.write(
    `NOTICE: ${name} is not installed; skipping the tests that need it (apt-get install ${debianPackage}).\n`,
  );
  return undefined;
}

/** `promtool check metrics` over `text`: its findings, one per line (empty when it reports nothing). */
export function promtoolCheckMetrics(
  promtool: string,
  text: string,
): { status: number | null; findings: string[] } {
  const run = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw run.error;
  const findings = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return { status: run.status, findings };
}
