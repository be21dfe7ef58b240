/**
 * The packed package for the specs of test/pack that install it into an app outside the repository.
 * Built into a temporary stage (as scripts/matrix.sh does): the repository's dist/ is left alone, so
 * that specs running at once do not rebuild it under each other. VEZA_PACK_TARBALL=<path.tgz> uses
 * that tarball instead.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and resolves with its exit code and output, whatever the code. */
export function runAny(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, NO_UPDATE_NOTIFIER: '1', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Runs a command to its end; throws with its output when it fails. */
export async function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const result = await runAny(command, args, cwd, env);
  if (result.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  return result;
}

/** Builds the package into `workDir/stage` and packs it there; resolves with the tarball's path. */
export async function packFromStage(workDir: string): Promise<string> {
  const given = process.env.VEZA_PACK_TARBALL;
  if (given) return resolve(given);
  const stage = join(workDir, 'stage');
  mkdirSync(stage, { recursive: true });
  cpSync(join(REPO, 'package.json'), join(stage, 'package.json'));
  const { files } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
  for (const file of files.filter((f) => f !== 'dist'))
    if (existsSync(join(REPO, file))) cpSync(join(REPO, file), join(stage, file), { recursive: true });
  await run(
    process.execPath,
    [
      join(REPO, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      join(stage, 'dist'),
    ],
    REPO,
  );
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', workDir], stage);
  const tgz = readdirSync(workDir).filter((f) => f.endsWith('.tgz'));
  if (tgz.length !== 1) throw new Error(`expected one tarball in ${workDir}, found ${tgz.join(', ')}`);
  return join(workDir, tgz[0]);
}
