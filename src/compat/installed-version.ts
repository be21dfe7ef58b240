import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The `name` and `version` of the `package.json` at `file`, or `undefined` when it cannot be read. */
function manifestAt(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

/**
 * The version of the package `name` as installed where this library resolves it, for the seams'
 * messages and version checks (one reader for all of them). Its `package.json` is read where
 * `name/package.json` resolves; a package whose `exports` hide that file (`@opentelemetry/api`) is
 * found by walking up from the file `name` resolves to, to the first `package.json` that names it
 * (past the nameless ones of ESM builds). `undefined` when it is not installed or cannot be read.
 *
 * @param resolve - the file a module id resolves to (`require.resolve`); replaced in tests.
 */
export function installedVersion(
  name: string,
  resolve: (id: string) => string = require.resolve,
): string | undefined {
  try {
    const manifest = manifestAt(resolve(`${name}/package.json`));
    if (manifest?.name === name && typeof manifest.version === 'string') return manifest.version;
  } catch {
    // Hidden by the package's `exports`, or not installed: found from its entry point below.
  }
  try {
    let dir = dirname(resolve(name));
    for (;;) {
      const file = join(dir, 'package.json');
      const manifest = existsSync(file) ? manifestAt(file) : undefined;
      if (manifest?.name === name) return typeof manifest.version === 'string' ? manifest.version : undefined;
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  } catch {
    return undefined;
  }
}

/** The installed version of `name` for a message: `(unknown version)` when it cannot be read. */
export function versionForMessages(name: string): string {
  return installedVersion(name) ?? '(unknown version)';
}

/** `name version` for a message (`name (unknown version)` when it cannot be read). */
export function describeInstalled(name: string): string {
  return `${name} ${versionForMessages(name)}`;
}
