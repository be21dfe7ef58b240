import { fork, type ChildProcess } from 'node:child_process';
import { request, type Agent } from 'node:http';
import * as path from 'node:path';
import { compileTree, ROOT } from './compile-tree';

/**
 * Compiles src/ to CommonJS in a directory of this run (inside the repository, so that the
 * workers resolve @nestjs/* and prom-client from its node_modules): each file on its own, as
 * `isolatedModules` allows ({@link compileTree} with src/ as its root), without touching the dist/
 * other runs may be using. Returns the compiled entry point.
 */
export function compileLibrary(out: string): string {
  compileTree(out, ['.'], path.join(ROOT, 'src'));
  return path.join(out, 'index.js');
}

/** GETs `url` on `agent`, with `headers`; the status and body. */
export function get(
  url: string,
  agent?: Agent,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(120_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A fixture's cluster primary, forked for one spec: its output (the last 32 KiB, for errors), its
 * messages to the test (each handed to the first waiting {@link FixturePrimary.next} it matches, or
 * kept until one asks for it), and its stop. Killed with the test process if that exits first.
 */
export class FixturePrimary<M> {
  private readonly child: ChildProcess;
  private output = '';
  private readonly kept: M[] = [];
  private readonly waiters: { match: (m: M) => boolean; resolve: (m: M) => void }[] = [];
  private readonly kill = (): void => {
    this.child.kill('SIGKILL');
  };

  constructor(fixture: string, env: NodeJS.ProcessEnv) {
    process.once('exit', this.kill);
    this.child = fork(fixture, [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const append = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-32_768);
    };
    this.child.stdout?.on('data', append);
    this.child.stderr?.on('data', append);
    this.child.on('message', (message: M) => this.receive(message));
  }

  /** Sends the primary a command. */
  send(message: object): void {
    this.child.send(message);
  }

  /** The next message that `match`es (already received ones count), within `timeoutMs`. */
  next(match: (m: M) => boolean, timeoutMs: number): Promise<M> {
    const index = this.kept.findIndex(match);
    if (index >= 0) return Promise.resolve(this.kept.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`no message from the cluster primary within ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Stops the primary: SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const { child } = this;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(this.kill, 5_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', this.kill);
  }

  private receive(message: M): void {
    const waiter = this.waiters.findIndex((w) => w.match(message));
    if (waiter >= 0) this.waiters.splice(waiter, 1)[0]?.resolve(message);
    else this.kept.push(message);
  }
}
