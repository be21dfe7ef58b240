import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository's root: the nearest directory above `from` whose package.json is this package's.
 * The scripts run both from scripts/ (under jest) and compiled, from .tmp/scripts/scripts/.
 */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@veza/nestjs-metrics'
    )
      return dir;
    if (dirname(dir) === dir) throw new Error(`no @veza/nestjs-metrics package.json above ${from}`);
  }
}
