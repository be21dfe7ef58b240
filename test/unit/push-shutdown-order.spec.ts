/**
 * The final Pushgateway push (and remote write's final send) holds the registry's counts whatever
 * order Nest calls the providers' `onModuleDestroy` in: Nest 10 and 11 call them all at once, in
 * the order the providers are listed, so the module's registry (cleared by its own hook) can be
 * cleared before the sender notes it.
 */
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter } from 'prom-client';
import { VezaMetricsModule } from '../../src';
import { AppRegistry } from '../../src/registry/app-registry';

describe('final push when the registry is destroyed first', () => {
  let server: Server;
  const bodies: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        bodies.push(body);
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('pushes the counts noted before the registry is cleared', async () => {
    const { port } = server.address() as AddressInfo;
    @Module({
      imports: [
        VezaMetricsModule.forRoot({
          defaultMetrics: false,
          http: false,
          pushgateway: { url: `http://127.0.0.1:${port}`, jobName: 'nightly', pushOnShutdown: true },
        }),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    const { registry } = app.get(AppRegistry);
    new Counter({ name: 'vz_jobs_total', help: 'Jobs', registers: [registry as never] }).inc(3);
    // As Nest 10 and 11 do: the registry's own hook first.
    app.get(AppRegistry).onModuleDestroy();
    await app.close();
    expect(bodies.join('\n')).toContain('vz_jobs_total 3');
  });
});
