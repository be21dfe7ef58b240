import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { TrackHealthCheck } from '@veza/nestjs-metrics';
import { CacheService } from '../cache/cache.service';
import { pingCheck, SLOW_CHECK_MS } from './ping-indicator';

/** Redis' health: `PING`. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly cache: CacheService,
    private readonly health: HealthIndicatorService,
  ) {}

  @TrackHealthCheck('redis', { slowMs: SLOW_CHECK_MS })
  isHealthy(key: string): HealthIndicatorResult {
    return pingCheck(this.health, key, () => this.cache.ping());
  }
}
