/**
 * The decorators next to each Nest integration the tests install: a cron job fired through the
 * SchedulerRegistry, an event listener, a microservice message handler over TCP, a WebSocket gateway,
 * Swagger's document, a terminus health indicator. Each keeps working, and each call is recorded.
 */
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { ClientProxyFactory, MessagePattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { WsAdapter } from '@nestjs/platform-ws';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { ApiOperation, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { firstValueFrom } from 'rxjs';
import WebSocket from 'ws';
import {
  CountUserRegistered,
  CountWebSocketMessage,
  Counted,
  TrackHealthCheck,
  TrackTransferRetry,
  VezaMetricsModule,
} from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { freePort } from '../utils/prometheus';

@Injectable()
class Jobs {
  fail = false;

  @Cron('0 0 3 * * *', { name: 'transfers' })
  @TrackTransferRetry()
  retryTransfers(): void {
    if (this.fail) throw new Error('bank unavailable');
  }

  @CountUserRegistered()
  @OnEvent('user.registered')
  onRegistered(payload: { id: string }): string {
    return payload.id;
  }
}

@Controller()
class MathController {
  @Counted({
    name: 'test_sums_total',
    help: 'Sums',
    labelNames: ['outcome'],
    labels: ({ outcome }) => ({ outcome }),
  })
  @MessagePattern({ cmd: 'sum' })
  sum(numbers: number[]): number {
    if (!Array.isArray(numbers)) throw new Error('not numbers');
    return numbers.reduce((a, b) => a + b, 0);
  }
}

@WebSocketGateway()
class ChatGateway {
  @SubscribeMessage('chat')
  @CountWebSocketMessage('chat', {
    status: (reply: { event: string }) => (reply.event === 'rejected' ? 'rejected' : 'ok'),
  })
  onChat(@MessageBody() text: string): { event: string; data: string } {
    return text.includes('spam')
      ? { event: 'rejected', data: text }
      : { event: 'chat', data: text.toUpperCase() };
  }
}

@Injectable()
class DatabaseHealth {
  up = true;
  constructor(private readonly health: HealthIndicatorService) {}

  @TrackHealthCheck('database', { slowMs: 1000 })
  async isHealthy(key: string) {
    const indicator = this.health.check(key);
    await new Promise((resolve) => setTimeout(resolve, 2));
    return this.up ? indicator.up() : indicator.down({ reason: 'no connection' });
  }
}

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealth,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.database.isHealthy('database')]);
  }

  @ApiOperation({ summary: 'Count the users' })
  @Counted({ name: 'test_users_total', help: 'x' })
  @Get('users')
  users(): number {
    return 1;
  }

  @Counted({ name: 'test_tracks_total', help: 'x' })
  @ApiOperation({ summary: 'List the tracks' })
  @Get('tracks')
  tracks(): number {
    return 2;
  }
}

@Module({
  imports: [
    VezaMetricsModule.forRoot({ defaultMetrics: false }),
    ScheduleModule.forRoot(),
    EventEmitterModule.forRoot(),
    TerminusModule,
  ],
  controllers: [MathController, HealthController],
  providers: [Jobs, ChatGateway, DatabaseHealth],
})
class IntegrationsModule {}

describe.each(ADAPTERS)('decorators with Nest integrations (%s)', (kind) => {
  it('@Cron fired through the SchedulerRegistry and @OnEvent listeners are measured', async () => {
    const { app, url } = await startApp(kind, { imports: [IntegrationsModule] });
    try {
      const job = app.get(SchedulerRegistry).getCronJob('transfers');
      await job.fireOnTick();
      app.get(Jobs).fail = true;
      await job.fireOnTick(); // @nestjs/schedule logs the error; the job stays scheduled
      expect(app.get(SchedulerRegistry).getCronJob('transfers')).toBe(job);
      const events = app.get(EventEmitter2);
      expect(events.emit('user.registered', { id: 'u1' })).toBe(true);
      expect(await events.emitAsync('user.registered', { id: 'u2' })).toEqual(['u2']);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_transfer_retry_total')).toBe(2);
      expect(sampleValue(text, 'veza_transfer_retry_success_total')).toBe(1);
      expect(sampleValue(text, 'veza_transfer_retry_failures_total')).toBe(1);
      expect(sampleValue(text, 'veza_users_registered_total')).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('a @MessagePattern handler answers over TCP and is measured', async () => {
    const port = await freePort();
    const { app, url } = await startApp(kind, { imports: [IntegrationsModule] }, (a) => {
      a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    });
    await app.startAllMicroservices();
    const client: ClientProxy = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
    });
    try {
      expect(await firstValueFrom(client.send<number>({ cmd: 'sum' }, [1, 2, 3]))).toBe(6);
      await expect(firstValueFrom(client.send<number>({ cmd: 'sum' }, 'x'))).rejects.toBeDefined();
      const text = await scrape(url);
      expect(sampleValue(text, 'test_sums_total', { outcome: 'success' })).toBe(1);
      expect(sampleValue(text, 'test_sums_total', { outcome: 'failure' })).toBe(1);
    } finally {
      client.close();
      await app.close();
    }
  });

  it('Swagger documents the operations whatever the order of @ApiOperation and our decorators', async () => {
    const { app, url } = await startApp(kind, { imports: [IntegrationsModule] });
    try {
      const document = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('test').build());
      expect(document.paths['/users']?.get?.summary).toBe('Count the users');
      expect(document.paths['/tracks']?.get?.summary).toBe('List the tracks');
      expect(await (await fetch(`${url}/users`)).text()).toBe('1');
      expect(sampleValue(await scrape(url), 'test_users_total')).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('a terminus health indicator decorated with @TrackHealthCheck: up, then down (503)', async () => {
    const { app, url } = await startApp(kind, { imports: [IntegrationsModule] });
    try {
      const ok = await fetch(`${url}/health`);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { status: string }).status).toBe('ok');
      expect(sampleValue(await scrape(url), 'veza_health_check_status', { service: 'database' })).toBe(1);
      app.get(DatabaseHealth).up = false;
      const down = await fetch(`${url}/health`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { details: unknown }).details).toEqual({
        database: { status: 'down', reason: 'no connection' },
      });
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_health_check_status', { service: 'database' })).toBe(0);
      expect(sampleValue(text, 'veza_health_check_duration_ms_count', { service: 'database' })).toBe(2);
    } finally {
      await app.close();
    }
  });
});

describe('a @SubscribeMessage handler over a real WebSocket (express, ws adapter)', () => {
  it('answers and is measured', async () => {
    const { app, url } = await startApp('express', { imports: [IntegrationsModule] }, (a) => {
      a.useWebSocketAdapter(new WsAdapter(a));
    });
    const socket = new WebSocket(url.replace('http', 'ws'));
    try {
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const replies: unknown[] = [];
      socket.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString('utf8'))));
      socket.send(JSON.stringify({ event: 'chat', data: 'hello' }));
      socket.send(JSON.stringify({ event: 'chat', data: 'buy spam' }));
      while (replies.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(replies).toEqual([
        { event: 'chat', data: 'HELLO' },
        { event: 'rejected', data: 'buy spam' },
      ]);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_websocket_messages_total', { type: 'chat', status: 'ok' })).toBe(1);
      expect(sampleValue(text, 'veza_websocket_messages_total', { type: 'chat', status: 'rejected' })).toBe(
        1,
      );
    } finally {
      socket.close();
      await app.close();
    }
  });
});
