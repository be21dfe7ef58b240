import { Controller, Get, HttpException, Param } from '@nestjs/common';
import { VezaMetricsModule, VezaMetricsService, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { findTool, promtoolCheckMetrics } from '../utils/tools';

const promtool = findTool('promtool');
const describeWithPromtool = promtool ? describe : describe.skip;

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    if (id === 'missing') throw new HttpException('no such track', 404);
    return { id };
  }
}

/** Starts an app, writes a series into every catalog metric, and returns the exposition. */
async function populatedExposition(
  kind: (typeof ADAPTERS)[number],
  options: VezaMetricsModuleOptions,
): Promise<string> {
  const { app, url } = await startApp(kind, {
    imports: [VezaMetricsModule.forRoot(options)],
    controllers: [TracksController],
  });
  try {
    await fetch(`${url}/tracks/1`);
    await fetch(`${url}/tracks/missing`);
    await fetch(`${url}/nowhere?q=1`);
    const s = app.get(VezaMetricsService);
    s.recordLoginAttempt(true);
    s.updateActiveSessions(2);
    s.recordDatabaseQuery('select', 'tracks', 0.004);
    s.recordDatabaseError('insert', 'unique_violation');
    s.updateDatabaseConnections(5);
    s.recordFileUpload('audio', 'success', 5_000_000);
    s.recordRateLimitHit('/api/login', 'default');
    s.updateActiveUsers(10);
    s.updateWebSocketConnections(3);
    s.recordWebSocketMessage('chat', 'success');
    s.recordError('Error', 'high');
    s.recordHealthCheck('database', 7, 'ok');
    s.recordTrackUploaded();
    s.recordCommerceOrder('completed');
    s.recordCheckoutDuration(0.8);
    s.recordUserRegistered();
    s.recordPlaylistCreated();
    s.recordUploadFailed('quota');
    s.recordTransferRetry();
    s.recordTransferRetrySuccess();
    s.recordTransferRetryFailure();
    s.recordTransferRetryPermanent();
    s.updateLiveStreams(1);
    s.updateLiveStreamViewers(40);
    s.recordCacheHit('tracks');
    s.recordCacheMiss('tracks');
    return await scrape(url);
  } finally {
    await app.close();
  }
}

describeWithPromtool.each(ADAPTERS)('promtool check metrics (%s)', (kind) => {
  it('finds nothing at all with naming "strict"', async () => {
    const text = await populatedExposition(kind, {
      naming: 'strict',
      defaultLabels: { service: 'veza-api' },
    });
    expect(promtoolCheckMetrics(promtool as string, text)).toEqual({ status: 0, findings: [] });
  });

  it('finds exactly the two findings catalog.md documents with naming "seed"', async () => {
    const text = await populatedExposition(kind, {});
    expect(promtoolCheckMetrics(promtool as string, text)).toEqual({
      status: 3,
      findings: [
        'veza_health_check_duration_ms metric names should not contain abbreviated units',
        'veza_live_stream_viewers_total non-counter metrics should not have "_total" suffix',
      ],
    });
  });
});
