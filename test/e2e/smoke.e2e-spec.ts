import { Controller, Get, Module, Param } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { VezaMetricsModule, VezaMetricsService } from '../../src';
@Controller('tracks')
class C {
  @Get(':id') x(@Param('id') id: string) {
    return { id };
  }
}
@Module({ imports: [VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api' } })], controllers: [C] })
class M {}
it.each(['express', 'fastify'])('%s', async (kind) => {
  const m = await Test.createTestingModule({ imports: [M] }).compile();
  const app = kind === 'express' ? m.createNestApplication() : m.createNestApplication(new FastifyAdapter());
  app.setGlobalPrefix('api');
  await app.listen(0);
  const url = await app.getUrl();
  await fetch(url + '/api/tracks/3');
  await fetch(url + '/nope/x?y=1');
  app.get(VezaMetricsService).recordLoginAttempt(false);
  const r = await fetch(url + '/metrics');
  const t = await r.text();
  console.log(
    kind,
    r.status,
    r.headers.get('content-type'),
    t
      .split('\n')
      .filter((l) => l.startsWith('veza_http') || l.startsWith('veza_auth'))
      .join('\n'),
  );
  await app.close();
});
