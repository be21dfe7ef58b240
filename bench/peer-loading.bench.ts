/**
 * `npm run bench:peer-loading`: what a plain HTTP application pays at start-up for the optional
 * peers it does not use (issue #21, item 6), in one run, side by side.
 *
 * The same plain Nest application (test/fixtures/peers/peer-app.ts: `GET /hello`, no GraphQL, no
 * queue, no gateway), compiled, in a fresh process per start, on Express and on Fastify, where
 * every optional peer is installed (as in a monorepo):
 * - `bare`: without the library;
 * - `veza`: with `VezaMetricsModule.forRoot()`;
 * - `veza-eager`: the same, after loading what the module loaded at start-up before it loaded a
 *   peer only for an application that uses it (`@nestjs/graphql`, `@nestjs/bullmq`, `bullmq`,
 *   `@nestjs/websockets`): the behaviour before the change;
 * - `veza@<rev>` with BENCH_PEER_LOADING_REV=<git revision>: the library's src/ as of that revision
 *   (say, the commit before the change), compiled the same way.
 *
 * Per start: the time from the process' start to `listen()` resolved, the CPU time (user and
 * system) the process used by then, and the heap used once listening, after two full collections
 * (`--expose-gc`). The wall-clock time follows the machine's load; the CPU time much less so, and
 * the start-up target is on it. Starts are interleaved (bare, veza,
 * veza-eager, ...; the order rotated every round) and the median of BENCH_PEER_LOADING_ROUNDS
 * (default 9) is printed per variant, with its difference to bare. One more start per variant,
 * under test/fixtures/peers/record-loads.js, counts the files of each optional peer it loaded.
 *
 * Targets: the plain application with the module loads no file of the six peers of the issue
 * (exact); and the module's own cost over bare is at most a third of what it was with the peers
 * loaded (heap, and start-up CPU; medians): the peers' 10.6 MB and 340 ms, measured in the issue,
 * were most of it.
 *
 *   node --no-warnings -r ./bench/http-register.js bench/peer-loading.bench.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { compileTree, ROOT } from '../test/utils/compile-tree';

const ROUNDS = Number(process.env.BENCH_PEER_LOADING_ROUNDS ?? 9);
const REV = process.env.BENCH_PEER_LOADING_REV;
const ADAPTERS = (process.env.BENCH_PEER_LOADING_ADAPTERS ?? 'express,fastify').split(',');
const PEERS = ['@nestjs/graphql', 'graphql', '@nestjs/bullmq', 'bullmq', 'msgpackr', 'ws'];
const RECORDER = path.join(ROOT, 'test', 'fixtures', 'peers', 'record-loads.js');

interface Variant {
  name: string;
  app: string;
  metrics: '0' | '1' | 'eager';
}

interface Report {
  startupMs: number;
  startupCpuMs: number;
  heapUsed: number;
  files?: string[];
}

function start(variant: Variant, adapter: string, record: boolean): Promise<Report> {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', '--no-warnings', ...(record ? ['-r', RECORDER] : []), variant.app];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PEER_APP_ADAPTER: adapter,
        PEER_APP_KIND: 'plain',
        PEER_APP_METRICS: variant.metrics,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${variant.name} on ${adapter} exited with ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as Report);
    });
  });
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

/** The files of the package `name` among `files`. */
function filesOf(files: readonly string[], name: string): number {
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  return files.filter((f) => {
    const at = f.lastIndexOf(marker);
    return at >= 0 && f.lastIndexOf(`${path.sep}node_modules${path.sep}`) === at;
  }).length;
}

function compile(out: string): string {
  compileTree(out, ['src', 'test/fixtures/peers']);
  return path.join(out, 'test', 'fixtures', 'peers', 'peer-app.js');
}

/** The library's src/ as of `rev`, with today's fixture, compiled into `out`. */
function compileRevision(rev: string, out: string): string {
  const tree = path.join(out, 'tree');
  mkdirSync(tree, { recursive: true });
  const archive = spawnSync('git', ['archive', rev, 'src'], { cwd: ROOT, maxBuffer: 1 << 28 });
  if (archive.status !== 0) throw new Error(`git archive ${rev} src failed: ${archive.stderr.toString()}`);
  const tar = spawnSync('tar', ['-x', '-C', tree], { input: archive.stdout });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
  compileTree(out, ['src'], tree);
  compileTree(out, ['test/fixtures/peers']);
  return path.join(out, 'test', 'fixtures', 'peers', 'peer-app.js');
}

async function main(): Promise<void> {
  const base = path.join(ROOT, '.tmp', `bench-peer-loading-${process.pid}`);
  try {
    const now = compile(path.join(base, 'now'));
    const variants: Variant[] = [
      { name: 'bare', app: now, metrics: '0' },
      { name: 'veza', app: now, metrics: '1' },
      { name: 'veza-eager', app: now, metrics: 'eager' },
    ];
    if (REV)
      variants.push({ name: `veza@${REV}`, app: compileRevision(REV, path.join(base, 'rev')), metrics: '1' });
    console.log(
      `peer loading: a plain HTTP app (GET /hello), ${ROUNDS} fresh starts per variant, medians; Node ${process.version}`,
    );
    let allMet = true;
    for (const adapter of ADAPTERS) {
      const runs = new Map<string, Report[]>(variants.map((v) => [v.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        const order = variants.map((_, i) => variants[(i + round) % variants.length]);
        for (const variant of order) runs.get(variant.name)!.push(await start(variant, adapter, false));
      }
      const loads = new Map<string, number[]>();
      for (const variant of variants) {
        const files = (await start(variant, adapter, true)).files ?? [];
        loads.set(
          variant.name,
          PEERS.map((p) => filesOf(files, p)),
        );
      }
      const figures = new Map(
        variants.map((v) => {
          const r = runs.get(v.name)!;
          return [
            v.name,
            {
              startup: median(r.map((x) => x.startupMs)),
              cpu: median(r.map((x) => x.startupCpuMs)),
              heap: median(r.map((x) => x.heapUsed)) / 2 ** 20,
            },
          ];
        }),
      );
      const bare = figures.get('bare')!;
      console.log(`\n${adapter}`);
      console.log(
        `${'variant'.padEnd(22)}${'start-up ms'.padStart(12)}${'vs bare'.padStart(10)}${'CPU ms'.padStart(10)}${'vs bare'.padStart(10)}${'heap MiB'.padStart(10)}${'vs bare'.padStart(10)}   files of ${PEERS.join(', ')}`,
      );
      for (const v of variants) {
        const f = figures.get(v.name)!;
        console.log(
          `${v.name.padEnd(22)}${f.startup.toFixed(0).padStart(12)}${signed(f.startup - bare.startup, 0).padStart(10)}${f.cpu.toFixed(0).padStart(10)}${signed(f.cpu - bare.cpu, 0).padStart(10)}${f.heap.toFixed(1).padStart(10)}${signed(f.heap - bare.heap, 1).padStart(10)}   ${loads.get(v.name)!.join(', ')}`,
        );
      }
      const veza = figures.get('veza')!;
      const eager = figures.get('veza-eager')!;
      const noPeer = loads.get('veza')!.every((n) => n === 0);
      const heapMet = veza.heap - bare.heap <= (eager.heap - bare.heap) / 3;
      const startupMet = veza.cpu - bare.cpu <= (eager.cpu - bare.cpu) / 3;
      allMet &&= noPeer && heapMet && startupMet;
      console.log(
        `no file of the six peers loaded by the plain app with the module: ${noPeer ? 'met' : 'not met'}`,
      );
      console.log(
        `module's heap over bare ${(veza.heap - bare.heap).toFixed(1)} MiB, at most a third of ${(eager.heap - bare.heap).toFixed(1)} MiB with the peers loaded: ${heapMet ? 'met' : 'not met'}`,
      );
      console.log(
        `module's start-up CPU over bare ${(veza.cpu - bare.cpu).toFixed(0)} ms, at most a third of ${(eager.cpu - bare.cpu).toFixed(0)} ms with the peers loaded: ${startupMet ? 'met' : 'not met'}`,
      );
    }
    console.log(`\npeer loading: ${allMet ? 'met' : 'not met'}`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
