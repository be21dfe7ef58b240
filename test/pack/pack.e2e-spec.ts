/**
 * The package as users get it: `npm pack` (which builds dist/ through prepack), then a fresh Nest 12
 * application outside the repository that installs the tarball, starts, and serves the whole
 * catalog; a TypeScript consumer type-checked against the installed declarations; and `npm install`
 * with the optional peers absent (that app), present in their ranges, and out of range (ERESOLVE
 * naming the peer), as the README's Install section says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO, run, runAny, type RunResult } from './pack-stage';

jest.setTimeout(6 * 60_000);

const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

/** The 30 names of the Veza catalog (test/fixtures/catalog.md), written out here rather than read from src/. */
const CATALOG_NAMES = [
  'veza_http_requests_total',
  'veza_http_request_duration_seconds',
  'veza_auth_login_attempts_total',
  'veza_auth_sessions_active',
  'veza_database_query_duration_seconds',
  'veza_database_connections_active',
  'veza_database_query_errors_total',
  'veza_file_uploads_total',
  'veza_file_upload_size_bytes',
  'veza_rate_limit_hits_total',
  'veza_active_users',
  'veza_websocket_connections_active',
  'veza_websocket_messages_total',
  'veza_errors_total',
  'veza_health_check_duration_ms',
  'veza_health_check_status',
  'veza_tracks_uploaded_total',
  'veza_commerce_orders_total',
  'veza_commerce_checkout_duration_seconds',
  'veza_users_registered_total',
  'veza_playlists_created_total',
  'veza_uploads_failed_total',
  'veza_transfer_retry_total',
  'veza_transfer_retry_success_total',
  'veza_transfer_retry_failures_total',
  'veza_transfer_retry_permanent_failures_total',
  'veza_live_streams_active',
  'veza_live_stream_viewers_total',
  'veza_cache_hits_total',
  'veza_cache_misses_total',
];

/**
 * A Nest 12 app's package.json with the packed library and prom-client, plus `extra` dependencies
 * and `devDependencies`.
 */
function appPackage(
  name: string,
  tarball: string,
  extra: Record<string, string>,
  devDependencies: Record<string, string> = {},
): string {
  const dependencies: Record<string, string> = {
    '@nestjs/common': '^12.0.0',
    '@nestjs/core': '^12.0.0',
    '@nestjs/platform-express': '^12.0.0',
    '@veza/nestjs-metrics': `file:${tarball}`,
    'prom-client': '^15.0.0',
    'reflect-metadata': '^0.2.0',
    rxjs: '^7.8.0',
    ...extra,
  };
  return JSON.stringify({ name, version: '0.0.0', private: true, dependencies, devDependencies }, null, 2);
}

/** Lines of npm's output about a peer of this package: none when every peer is in its range. */
function peerComplaints(result: RunResult): string[] {
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((line) => /ERESOLVE|peer/i.test(line) && line.includes('@veza/nestjs-metrics'));
}

/** Starts `node main.js` in `cwd` and resolves with the child and the port it printed. */
function startConsumer(cwd: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['main.js'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`the consumer app did not start within 30 s:\n${output}`)),
      30_000,
    );
    const onData = (d: Buffer): void => {
      output += d.toString();
      const match = /LISTENING (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, port: Number(match[1]) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the consumer app exited with ${code} before listening:\n${output}`));
    });
  });
}

const CONSUMER_MAIN = `'use strict';
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { VezaMetricsModule } = require('@veza/nestjs-metrics');

class AppModule {}
Module({ imports: [VezaMetricsModule.forRoot({ defaultLabels: { service: 'pack-consumer' } })] })(AppModule);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  console.log('LISTENING ' + app.getHttpServer().address().port);
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

// Type errors expected on the @ts-expect-error lines prove the declarations are typed, not `any`.
const CONSUMER_TS = `import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { InjectMetric, VezaMetric, VezaMetricsModule, VezaMetricsService, type VezaMetricOf } from '@veza/nestjs-metrics';

@Injectable()
export class AuthService {
  constructor(
    @InjectMetric(VezaMetric.LoginAttempts) private readonly logins: VezaMetricOf<typeof VezaMetric.LoginAttempts>,
    private readonly metrics: VezaMetricsService,
  ) {}

  login(ok: boolean): void {
    this.logins.inc({ success: ok ? 'success' : 'failure' });
    this.metrics.recordHealthCheck('database', 3, 'ok');
    // @ts-expect-error: not a label of veza_auth_login_attempts_total
    this.logins.inc({ ok: 'yes' });
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api' }, naming: 'strict', statusLabel: 'class' })],
  providers: [AuthService],
})
export class AppModule {}

// @ts-expect-error: not an option of VezaMetricsModule
VezaMetricsModule.forRoot({ nope: true });
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'node20',
    moduleResolution: 'node16',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  },
  files: ['consumer.ts'],
};

describe('npm pack', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'veza-pack-'));
  const consumerDir = join(workDir, 'consumer');
  let tarball = '';
  let tarballFiles: string[] = [];
  let consumer: ChildProcess | undefined;

  beforeAll(async () => {
    await run('npm', ['pack', '--pack-destination', workDir], REPO);
    const tgz = readdirSync(workDir).filter((f) => f.endsWith('.tgz'));
    expect(tgz).toHaveLength(1);
    tarball = join(workDir, tgz[0]);
    tarballFiles = (await run('tar', ['-tzf', tarball], workDir)).stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const unpacked = join(workDir, 'unpacked');
    mkdirSync(unpacked);
    await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], workDir);
  });

  afterAll(async () => {
    if (consumer && consumer.exitCode === null && consumer.signalCode === null) {
      const child = consumer;
      await new Promise<void>((done) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      });
    }
    rmSync(workDir, { recursive: true, force: true });
  });

  it('packs dist/, README.md and package.json, and nothing of src/, test/ or sample-app/', () => {
    expect(tarballFiles).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'README.md', 'package.json']),
    );
    expect(tarballFiles.filter((f) => /^(src|test|sample-app|bench)\//.test(f))).toEqual([]);
    expect(tarballFiles.filter((f) => /\.spec\.|tsbuildinfo|^node_modules\//.test(f))).toEqual([]);
  });

  it('ships what the docs promise: the docs pages and images, the API reference, the Grafana dashboard and alert rules', () => {
    expect(tarballFiles).toEqual(
      expect.arrayContaining([
        'docs/getting-started.md',
        'docs/testing.md',
        'docs/images/prometheus-graph.png',
        'docs/jest/esm-to-cjs.transformer.js',
        'docs/api/index.md',
        'docs/api/testing/index.md',
        'monitoring/grafana-dashboard.json',
        'monitoring/alerts.yml',
        'monitoring/alerts.test.yml',
        'CONTRIBUTING.md',
        'CHANGELOG.md',
      ]),
    );
  });

  it('ships a source map only with the sources it maps (none: dist/ is readable as built)', () => {
    const unpacked = join(workDir, 'unpacked');
    for (const map of tarballFiles.filter((f) => f.endsWith('.map'))) {
      const { sources = [] } = JSON.parse(readFileSync(join(unpacked, map), 'utf8')) as {
        sources?: string[];
      };
      for (const source of sources)
        expect(tarballFiles).toContain(relative(unpacked, resolve(unpacked, dirname(map), source)));
    }
    expect(tarballFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('resolves every relative link and image of the packed README.md and docs/ inside the package', () => {
    const unpacked = join(workDir, 'unpacked');
    const pages = tarballFiles.filter(
      (f) => f === 'README.md' || (f.startsWith('docs/') && f.endsWith('.md')),
    );
    expect(pages.length).toBeGreaterThan(12);
    const broken: string[] = [];
    let links = 0;
    for (const page of pages) {
      const markdown = readFileSync(join(unpacked, page), 'utf8')
        .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
        .replace(/`[^`\n]*`/g, '');
      const targets = [
        ...[...markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
        ...[...markdown.matchAll(/<(?:img|a)\s[^>]*(?:src|href)="([^"]+)"/g)].map((m) => m[1]),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // https:, mailto:, same page
        links++;
        const file = relative(
          unpacked,
          resolve(unpacked, dirname(page), decodeURIComponent(target.split('#')[0])),
        );
        if (file.startsWith('..') || !existsSync(join(unpacked, file))) broken.push(`${page}: ${target}`);
      }
    }
    expect(links).toBeGreaterThan(100);
    expect(broken).toEqual([]);
  });

  it('installs into a fresh Nest 12 app, which serves every catalog metric at /metrics', async () => {
    mkdirSync(consumerDir);
    writeFileSync(
      join(consumerDir, 'package.json'),
      appPackage('veza-pack-consumer', tarball, {}, { '@types/node': '^20.19.0' }),
    );
    writeFileSync(join(consumerDir, 'main.js'), CONSUMER_MAIN);
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], consumerDir);
    // No optional peer installed (but the client): nothing to say about them.
    expect(peerComplaints(install)).toEqual([]);

    const started = await startConsumer(consumerDir);
    consumer = started.child;
    const res = await fetch(`http://127.0.0.1:${started.port}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const typed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect(CATALOG_NAMES.filter((name) => !typed.has(name))).toEqual([]);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it("type-checks a TypeScript consumer against the installed package's declarations", async () => {
    writeFileSync(join(consumerDir, 'consumer.ts'), CONSUMER_TS);
    writeFileSync(join(consumerDir, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    const { stdout } = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--listFiles'], consumerDir);
    // The declarations checked are the installed ones, not the repository's.
    expect(stdout).toContain(join(consumerDir, 'node_modules/@veza/nestjs-metrics/dist/index.d.ts'));
  });
  it('installs with its optional peers present in their ranges, with no word about its peers', async () => {
    const dir = join(workDir, 'peers-in-range');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'package.json'),
      appPackage('veza-peers-in-range', tarball, {
        '@nestjs/bullmq': '^12.0.0',
        '@nestjs/microservices': '^12.0.0',
        '@nestjs/platform-fastify': '^12.0.0',
        '@nestjs/throttler': '^6.0.0',
        '@nestjs/websockets': '^12.0.0',
        '@opentelemetry/api': '^1.0.0',
        bullmq: '^6.0.0',
        graphql: '^16.0.0',
      }),
    );
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], dir);
    expect(peerComplaints(install)).toEqual([]);
  });

  // An optional peer installed outside its range: npm refuses the install, naming the peer and range.
  it.each([
    ['bullmq', '^2.0.0', '^3.0.0 || ^4.0.0 || ^5.0.0 || ^6.0.0'],
    ['graphql', '^15.0.0', '^16.0.0 || ^17.0.0'],
    ['@opentelemetry/api', '^0.9.0', '^1.0.0'],
  ])(
    'refuses to install with %s %s installed (out of its range %s): ERESOLVE naming it',
    async (peer, installed, range) => {
      const dir = join(workDir, `out-of-range-${peer.replace(/\W/g, '-')}`);
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'package.json'),
        appPackage('veza-peer-out-of-range', tarball, { [peer]: installed }),
      );
      const install = await runAny('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], dir);
      expect(install.code).not.toBe(0);
      expect(install.stderr).toContain('npm error code ERESOLVE');
      expect(install.stderr).toContain(`peerOptional ${peer}@"${range}" from @veza/nestjs-metrics@0.1.0`);
    },
  );
});
