/**
 * Optional peers are loaded only by an application that uses them (issue #21, item 6). A plain HTTP
 * application (Express, Fastify) with `VezaMetricsModule.forRoot()`, started in a fresh process where
 * every optional peer is installed (they are devDependencies here, as in many monorepos), loads no
 * file of `@nestjs/graphql`, `graphql`, `@nestjs/bullmq`, `bullmq`, `msgpackr`, `ws` or `@nestjs/terminus`, and no file of
 * `@nestjs/websockets` or `@nestjs/microservices` beyond those bare Nest loads itself; an application
 * with a GraphQL API still loads them and records its operations.
 *
 * What a process loaded is read exactly: every file V8 compiled, CommonJS and ES modules alike
 * (test/fixtures/peers/record-loads.js, through the inspector), from a process that ran the
 * application compiled, as the published package runs (test/fixtures/peers/peer-app.ts).
 */
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ADAPTERS, type AdapterKind } from '../utils/app';
import { compileTree, ROOT } from '../utils/compile-tree';
import { parseExposition, sampleValue } from '../utils/exposition';

jest.setTimeout(180_000);

/** Never loaded by a plain application with the module. */
const UNUSED_PEERS = [
  '@nestjs/graphql',
  'graphql',
  '@nestjs/bullmq',
  'bullmq',
  'msgpackr',
  'ws',
  '@nestjs/terminus',
];
/** Loaded in part by Nest itself when installed (its socket and microservices modules): the module adds no file of them. */
const NEST_LOADED_PEERS = ['@nestjs/websockets', '@nestjs/microservices'];

interface Report {
  files: string[];
  metrics?: string;
  graphql?: string;
}

const OUT = path.join(ROOT, '.tmp', `optional-peers-${process.pid}`);
const APP = path.join(OUT, 'test', 'fixtures', 'peers', 'peer-app.js');
const RECORDER = path.join(ROOT, 'test', 'fixtures', 'peers', 'record-loads.js');

/** Starts peer-app in a fresh process, takes its report, and closes it. */
function run(adapter: AdapterKind, kind: 'plain' | 'graphql', metrics: '0' | '1'): Promise<Report> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = fork(APP, [], {
      execArgv: ['-r', RECORDER],
      env: { ...process.env, PEER_APP_ADAPTER: adapter, PEER_APP_KIND: kind, PEER_APP_METRICS: metrics },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const append = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-8_192);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let report: Report | undefined;
    child.once('message', (message: Report) => {
      report = message;
      child.send('close');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (report && code === 0) resolve(report);
      else
        reject(
          new Error(`peer-app (${adapter}, ${kind}, metrics ${metrics}) exited with ${code}:\n${output}`),
        );
    });
  });
}

/** The files of the package `name` among `files` (its own node_modules folder, wherever installed). */
function filesOf(files: readonly string[], name: string): string[] {
  const marker = `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`;
  return files.filter((f) => {
    const at = f.lastIndexOf(marker);
    return at >= 0 && f.lastIndexOf(`${path.sep}node_modules${path.sep}`) === at;
  });
}

beforeAll(() => {
  compileTree(OUT, ['src', 'test/fixtures/peers']);
});

afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
});

describe.each(ADAPTERS)('optional peers on %s', (adapter) => {
  it('a plain HTTP app with the module loads none of the optional peers it does not use, and records', async () => {
    const bare = await run(adapter, 'plain', '0');
    const withModule = await run(adapter, 'plain', '1');
    // The exact files: none of these packages, and nothing of Nest's optional ones beyond bare Nest's.
    const loaded = Object.fromEntries(
      [...UNUSED_PEERS, ...NEST_LOADED_PEERS].map((name) => [
        name,
        filesOf(withModule.files, name).filter((f) => !bare.files.includes(f)),
      ]),
    );
    expect(loaded).toEqual(Object.fromEntries([...UNUSED_PEERS, ...NEST_LOADED_PEERS].map((n) => [n, []])));
    for (const name of UNUSED_PEERS) expect(filesOf(bare.files, name)).toEqual([]);
    // The evidence is real: the recorder saw the module and Nest load.
    expect(filesOf(withModule.files, '@nestjs/core').length).toBeGreaterThan(10);
    expect(filesOf(withModule.files, 'prom-client').length).toBeGreaterThan(5);
    expect(
      sampleValue(withModule.metrics!, 'veza_http_requests_total', { method: 'GET', endpoint: '/hello' }),
    ).toBe(1);
  });

  it('an app with a GraphQL API loads @nestjs/graphql and graphql, and records its operation', async () => {
    const report = await run(adapter, 'graphql', '1');
    expect(JSON.parse(report.graphql!)).toEqual({ data: { hello: 'world' } });
    expect(filesOf(report.files, '@nestjs/graphql').length).toBeGreaterThan(0);
    expect(filesOf(report.files, 'graphql').length).toBeGreaterThan(0);
    const operations = parseExposition(report.metrics!).get('veza_graphql_operations_total');
    expect(operations?.samples.map((s) => [s.labels.operation_type, s.labels.outcome, s.value])).toEqual([
      ['query', 'success', 1],
    ]);
    // Nothing of the queue peers: this app has no BullMQ.
    expect(filesOf(report.files, '@nestjs/bullmq')).toEqual([]);
    expect(filesOf(report.files, 'bullmq')).toEqual([]);
  });
});
