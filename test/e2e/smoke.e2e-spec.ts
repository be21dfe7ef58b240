/**
 * HTTP metrics are on with a bare `VezaMetricsModule.forRoot()`: nothing else to configure.
 */
import { Controller, Get, Module, Param } from '@nestjs/common';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({ imports: [VezaMetricsModule.forRoot()], controllers: [TracksController] })
class AppModule {}

it.each(ADAPTERS)('records requests by default on %s', async (adapter) => {
  const { app, url } = await startApp(adapter, { imports: [AppModule] }, (a) => {
    a.setGlobalPrefix('api');
  });
  try {
    expect((await fetch(`${url}/api/tracks/3?x=1`)).status).toBe(200);
    expect((await fetch(`${url}/api/tracks/4`)).status).toBe(200);
    expect((await fetch(`${url}/nope/x?y=1`)).status).toBe(404);
    const text = await scrape(url);
    expect(
      sampleValue(text, 'veza_http_requests_total', {
        method: 'GET',
        endpoint: '/api/tracks/:id',
        status: '2xx',
      }),
    ).toBe(2);
    expect(
      sampleValue(text, 'veza_http_requests_total', {
        method: 'GET',
        endpoint: '<unmatched>',
        status: '4xx',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'veza_http_request_duration_seconds_count', {
        method: 'GET',
        endpoint: '/api/tracks/:id',
      }),
    ).toBe(2);
    expect(
      sampleValue(text, 'veza_http_request_duration_seconds_count', {
        method: 'GET',
        endpoint: '<unmatched>',
      }),
    ).toBe(1);
    expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/metrics' })).toBeUndefined();
  } finally {
    await app.close();
  }
});
