/**
 * A real pm2 (the devDependency, `node_modules/pm2`) for tests, isolated: its own `PM2_HOME` in a
 * temporary directory, so that its daemon, sockets, logs and dump never touch `~/.pm2` nor another
 * spec's (or another session's) pm2. It starts apps in cluster mode from an ecosystem file written
 * here, lists their instances (`pm2 jlist`), reloads, stops, and `kill()` ends that daemon and its
 * apps and removes the home (also, synchronously, when the test process exits first).
 *
 * Under `CI=true` a missing pm2 fails the spec ({@link findPm2}); elsewhere the caller skips.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT } from './compile-tree';

/** pm2's command-line entry point in the repository's node_modules. */
export const PM2_CLI = path.join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');

/**
 * pm2's CLI, if installed (a devDependency: `npm ci` installs it). Under `CI=true` a missing pm2
 * throws (the spec fails); on a developer's machine the caller skips, with a notice.
 */
export function findPm2(): string | undefined {
  if (existsSync(PM2_CLI)) return PM2_CLI;
  if (process.env.CI === 'true') {
    throw new Error(
      `pm2 is required under CI=true but ${PM2_CLI} is missing: run npm ci (pm2 is a devDependency).`,
    );
  }
  process.stdout.write(
    `NOTICE: pm2 is not installed (${PM2_CLI}); skipping the pm2 tests (npm ci installs it).\n`,
  );
  return undefined;
}

/** One instance of an app, as `pm2 jlist` shows it. */
export interface Pm2Instance {
  name: string;
  /** pm2's id of the process (`pm_id`), stable across its restarts. */
  pmId: number;
  /** The OS process id (0 while stopped). */
  pid: number;
  /** `NODE_APP_INSTANCE`: 0 .. instances - 1, kept by the restarts and reloads of that instance. */
  instance: number;
  /** `online`, `launching`, `stopping`, `stopped`, `errored`, ... */
  status: string;
  /** How many times pm2 restarted or reloaded it. */
  restarts: number;
  execMode: string;
}

/** An app started in cluster mode (the fields of pm2's ecosystem file this helper writes). */
export interface Pm2App {
  name: string;
  /** Absolute path of the script each instance runs. */
  script: string;
  instances: number;
  /** The instances' environment (pm2 adds `pm_id`, `NODE_APP_INSTANCE`, `name`, `exec_mode`, ...). */
  env: Record<string, string>;
  /**
   * pm2 waits for each instance's `process.send('ready')` (instead of its first `listen`) before it
   * counts it up, and in `pm2 reload` before it stops the old one. Default true.
   */
  waitReady?: boolean;
  /** How long pm2 waits for that (`listen_timeout`). Default 60 s: a loaded machine boots Nest slowly. */
  listenTimeoutMs?: number;
  /** How long pm2 waits, after SIGINT, before SIGKILL (`kill_timeout`). Default 30 s. */
  killTimeoutMs?: number;
}

interface Jlist {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { NODE_APP_INSTANCE?: number; status: string; restart_time: number; exec_mode: string };
}

/** The tail of a file, or '' when it cannot be read. */
function tail(file: string, bytes = 4096): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '';
  }
}

/** A pm2 daemon of this test's own, under a temporary `PM2_HOME`. */
export class Pm2 {
  /** The `PM2_HOME` of this daemon. */
  readonly home: string;
  private readonly env: NodeJS.ProcessEnv;
  /** Every pid seen in a listing: killed by the exit hook if pm2 itself could not end them. */
  private readonly seen = new Set<number>();
  private killed = false;
  private readonly onExit = (): void => this.killNow();

  constructor(private readonly cli: string = PM2_CLI) {
    // Short: pm2's unix sockets (rpc.sock, pub.sock) live in it, and a socket path has ~107 bytes.
    this.home = mkdtempSync(path.join(tmpdir(), 'veza-pm2-'));
    const env: NodeJS.ProcessEnv = { ...process.env };
    // A test process that runs under pm2 must not make this one think it is a pm2 instance.
    for (const key of ['pm_id', 'NODE_APP_INSTANCE', 'exec_mode', 'PM2_USAGE', 'PM2_JSON_PROCESSING'])
      delete env[key];
    this.env = {
      ...env,
      PM2_HOME: this.home,
      // No banner and no version check over the network (pm2's Client.js and Worker.js).
      PM2_DISCRETE_MODE: 'true',
      PM2_DISABLE_VERSION_CHECK: 'true',
    };
    process.once('exit', this.onExit);
  }

  /** Runs `pm2 ...args` against this home; rejects with its output when it exits non-zero. */
  run(args: string[], timeoutMs = 120_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [this.cli, ...args], {
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else
          reject(
            new Error(
              `pm2 ${args.join(' ')} ended with ${code ?? signal}:\n${stdout}\n${stderr}\n${this.logs()}`,
            ),
          );
      });
    });
  }

  /** Starts `app` in cluster mode (a daemon for this home is started with the first app). */
  async start(app: Pm2App): Promise<void> {
    const file = path.join(this.home, `${app.name}.ecosystem.json`);
    writeFileSync(
      file,
      JSON.stringify({
        apps: [
          {
            name: app.name,
            script: app.script,
            instances: app.instances,
            exec_mode: 'cluster',
            env: app.env,
            wait_ready: app.waitReady ?? true,
            listen_timeout: app.listenTimeoutMs ?? 60_000,
            kill_timeout: app.killTimeoutMs ?? 30_000,
            autorestart: true,
            // A test kills instances on purpose: pm2 must not give up restarting them.
            max_restarts: 1000,
            min_uptime: 0,
            merge_logs: false,
          },
        ],
      }),
    );
    await this.run(['start', file]);
  }

  /** The instances of `name` (every app when omitted), from `pm2 jlist`, by `NODE_APP_INSTANCE`. */
  async list(name?: string): Promise<Pm2Instance[]> {
    const out = await this.run(['jlist']);
    // jlist prints the JSON array alone on its line; anything pm2 logs before it is skipped.
    const line = out
      .split('\n')
      .reverse()
      .find((l) => l.trimStart().startsWith('['));
    if (!line) throw new Error(`pm2 jlist printed no list:\n${out}`);
    const instances = (JSON.parse(line) as Jlist[])
      .filter((p) => name === undefined || p.name === name)
      .map((p) => ({
        name: p.name,
        pmId: p.pm_id,
        pid: p.pid,
        instance: Number(p.pm2_env.NODE_APP_INSTANCE ?? -1),
        status: p.pm2_env.status,
        restarts: p.pm2_env.restart_time,
        execMode: p.pm2_env.exec_mode,
      }))
      .sort((a, b) => a.instance - b.instance || a.pmId - b.pmId);
    for (const i of instances) if (i.pid > 0) this.seen.add(i.pid);
    return instances;
  }

  /** `pm2 reload name`: the rolling restart of every instance, one new process up before its old one stops. */
  async reload(name: string): Promise<void> {
    await this.run(['reload', name]);
  }

  /** `pm2 restart name`: every instance stopped and started again (not one after the other's start, as reload). */
  async restart(name: string): Promise<void> {
    await this.run(['restart', name]);
  }

  /** `pm2 stop name`. */
  async stop(name: string): Promise<void> {
    await this.run(['stop', name]);
  }

  /** `pm2 delete name`: stops its instances and forgets the app. */
  async delete(name: string): Promise<void> {
    await this.run(['delete', name]);
  }

  /** `kill -9` of one instance's process (pm2 restarts it, with the same `NODE_APP_INSTANCE`). */
  kill9(pid: number): void {
    this.seen.add(pid);
    process.kill(pid, 'SIGKILL');
  }

  /** The daemon's log and the tail of every app's log files, for failure messages. */
  logs(): string {
    const parts = [`--- ${this.home}/pm2.log\n${tail(path.join(this.home, 'pm2.log'))}`];
    const dir = path.join(this.home, 'logs');
    if (existsSync(dir))
      for (const file of readdirSync(dir).sort()) {
        const text = tail(path.join(dir, file), 2048);
        if (text.trim()) parts.push(`--- ${file}\n${text}`);
      }
    return parts.join('\n');
  }

  /** `pm2 kill` of this home (its apps, then its daemon), then removes the home. Idempotent. */
  async kill(): Promise<void> {
    if (this.killed) return;
    try {
      if (existsSync(path.join(this.home, 'pm2.pid'))) await this.run(['kill'], 60_000);
    } finally {
      this.killNow();
    }
  }

  /**
   * Synchronous end (the exit hook, or after `pm2 kill`): `pm2 kill` if the daemon still runs, then
   * SIGKILL to every process left with this `PM2_HOME` in its environment (an instance stuck in a
   * blocked event loop, the daemon): only this helper's, never a process that merely reused a pid
   * seen earlier. Then removes the home.
   */
  private killNow(): void {
    if (this.killed) return;
    this.killed = true;
    process.off('exit', this.onExit);
    const daemon = Number(tail(path.join(this.home, 'pm2.pid')).trim());
    if (daemon > 0) this.seen.add(daemon);
    if (daemon > 0 && ours(daemon, this.home))
      spawnSync(process.execPath, [this.cli, 'kill'], { env: this.env, stdio: 'ignore', timeout: 20_000 });
    for (const pid of new Set([...this.seen, ...processesOf(this.home)])) {
      if (!ours(pid, this.home)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Whether process `pid` runs with `PM2_HOME=home` in its environment (pm2's daemon and apps do). */
function ours(pid: number, home: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`PM2_HOME=${home}`);
  } catch {
    return false;
  }
}

/** The pids of the processes with `PM2_HOME=home` in their environment (Linux's /proc; none elsewhere). */
function processesOf(home: string): number[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
  return pids.filter((pid) => pid !== process.pid && ours(pid, home));
}
