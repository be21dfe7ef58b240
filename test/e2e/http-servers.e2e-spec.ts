/**
 * Requests reach an application in other ways than Nest's own server: an Express app served by
 * servers of the application's own (Nest's "multiple servers" recipe, serverless wrappers), Fastify's
 * `inject()`. Each is recorded once, like any request.
 */
import { Controller, Get, Module, Param } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { samples } from './http-client.fixture';

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [TracksController],
})
class AppModule {}

// Express ships no types (no @types/express here): the app is a request listener.
const express = jest.requireActual<() => (req: IncomingMessage, res: ServerResponse) => void>('express');

const listen = (server: Server): Promise<string> =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`),
    ),
  );

it('records an Express app served by two servers of its own, and never by Nest', async () => {
  const instance = express();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication(new ExpressAdapter(instance), { logger: false });
  await app.init();
  const servers = [createServer(instance), createServer(instance)];
  try {
    const [a, b] = await Promise.all(servers.map(listen));
    for (let i = 0; i < 3; i++) expect((await fetch(`${a}/tracks/${i}`)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await fetch(`${b}/nope/${i}`)).status).toBe(404);
    const text = await app.get(VezaMetricsRegistry).render();
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
      'GET /tracks/:id 200': 3,
      'GET <unmatched> 404': 2,
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await app.close();
  }
});

it("records Fastify's inject() requests", async () => {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  try {
    for (let i = 0; i < 3; i++)
      expect((await app.inject({ method: 'GET', url: `/tracks/${i}` })).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: '/tracks/1' })).statusCode).toBe(404);
    const text = await app.get(VezaMetricsRegistry).render();
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
      'GET /tracks/:id 200': 3,
      'DELETE <unmatched> 404': 1,
    });
  } finally {
    await app.close();
  }
});

// Issue 12, item 11: light-my-request's mock socket still holds the bytes at the response's `close`.
it('records an Express app driven through light-my-request (serverless wrappers, in-process tests) with the status sent', async () => {
  const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
  const instance = express();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication(new ExpressAdapter(instance), { logger: false });
  await app.init();
  try {
    for (let i = 0; i < 3; i++)
      expect((await inject(instance, { method: 'GET', url: `/tracks/${i}` })).statusCode).toBe(200);
    expect((await inject(instance, { method: 'DELETE', url: '/tracks/1' })).statusCode).toBe(404);
    const text = await app.get(VezaMetricsRegistry).render();
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
      'GET /tracks/:id 200': 3,
      'DELETE <unmatched> 404': 1,
    });
  } finally {
    await app.close();
  }
});
