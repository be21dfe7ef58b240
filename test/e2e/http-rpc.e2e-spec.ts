/**
 * Issue 3, points 7 and 8: microservice (RPC) handlers of a hybrid application pass through
 * untouched and never count as HTTP, with an interceptor of the application's attached globally (and inherited
 * by the microservice) or not; they count in the RPC families instead (issue 15).
 */
import { Controller, Get, Logger, Module, type INestApplication, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR, ModulesContainer } from '@nestjs/core';
import {
  ClientProxyFactory,
  MessagePattern,
  Payload,
  RpcException,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { VezaMetricsModule } from '../../src';
import { freePort } from '../utils/prometheus';
import { ADAPTERS, scrape } from '../utils/app';
import { PassThroughInterceptor, startHttpApp } from './http-app.fixture';
import { samples } from './http-client.fixture';

/** Whether the installed Nest lets the library see microservice servers (Nest 11 and 12). */
const RPC_RECORDED =
  typeof (ModulesContainer.prototype as { getRpcTargetRegistry?: unknown }).getRpcTargetRegistry ===
  'function';

@Controller('tracks')
class TracksController {
  @Get()
  list(): number[] {
    return [1, 2];
  }

  @MessagePattern('tracks.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('tracks.fail')
  fail(): never {
    throw new RpcException('no such track');
  }
}

function appModule(interceptor: boolean): Type {
  @Module({
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
    controllers: [TracksController],
    providers: interceptor ? [{ provide: APP_INTERCEPTOR, useClass: PassThroughInterceptor }] : [],
  })
  class RpcAppModule {}
  return RpcAppModule;
}

describe.each(ADAPTERS)('RPC handlers of a hybrid application on %s', (adapter) => {
  describe.each([false, true])("with an application's interceptor attached globally: %s", (interceptor) => {
    let app: INestApplication;
    let url: string;
    let client: ClientProxy;
    let warnings: string[];

    beforeAll(async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const port = await freePort();
      // A hybrid application: the microservice is connected before the application starts.
      ({ app, url } = await startHttpApp(adapter, { imports: [appModule(interceptor)] }, (a) => {
        a.connectMicroservice(
          { transport: Transport.TCP, options: { host: '127.0.0.1', port } },
          { inheritAppConfig: true },
        );
      }));
      await app.startAllMicroservices();
      client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
      await client.connect();
      warnings = warn.mock.calls.map(([message]) => String(message));
      warn.mockRestore();
    }, 60_000);

    it('says at start-up, on a Nest without a registry of RPC servers (Nest 10), that messages are not recorded', () => {
      expect(warnings.filter((w) => w.startsWith('Microservice handlers are not recorded'))).toEqual(
        RPC_RECORDED
          ? []
          : [
              'Microservice handlers are not recorded: this @nestjs/core (Nest 10) has no ModulesContainer#getRpcTargetRegistry (Nest 11 and later have it), the one place servers can be found before their handlers are registered. Upgrade to Nest 11, or set rpc: false to silence this.',
            ],
      );
    });

    afterAll(async () => {
      await client?.close();
      await app?.close();
    });

    it('answers RPC messages exactly as without the module, errors included', async () => {
      await expect(firstValueFrom(client.send('tracks.sum', [1, 2, 3]))).resolves.toBe(6);
      await expect(firstValueFrom(client.send('tracks.fail', {}))).rejects.toEqual({
        status: 'error',
        message: 'no such track',
      });
    });

    it('counts HTTP requests once each and RPC messages never', async () => {
      for (let i = 0; i < 3; i++) await firstValueFrom(client.send('tracks.sum', [i]));
      for (let i = 0; i < 4; i++) expect((await fetch(`${url}/tracks`)).status).toBe(200);
      const text = await scrape(url);
      expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
        'GET /tracks 200': 4,
      });
      expect(samples(text, 'veza_http_request_duration_seconds_count', ['method', 'endpoint'])).toEqual({
        'GET /tracks': 4,
      });
      // RPC messages have families of their own (issue 15, test/e2e/rpc-metrics.e2e-spec.ts), and the
      // failed one of the first test counts in veza_errors_total, as a failed HTTP handler does.
      // Nest 10 has no ModulesContainer#getRpcTargetRegistry (src/compat/nest-microservices.ts, R1):
      // RPC is not recorded there, and nothing of it reaches the exposition.
      expect(
        samples(text, 'veza_rpc_server_requests_total', ['transport', 'pattern', 'kind', 'outcome']),
      ).toEqual(
        RPC_RECORDED ? { 'tcp tracks.sum request success': 4, 'tcp tracks.fail request error': 1 } : {},
      );
      expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual(
        RPC_RECORDED ? { 'RpcException error': 1 } : {},
      );
    });
  });
});
