import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { TrackHealthCheck } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import { pingCheck, SLOW_CHECK_MS } from './ping-indicator';

/** The database's health: `SELECT 1` on the pool. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly database: DatabaseService,
    private readonly health: HealthIndicatorService,
  ) {}

  @TrackHealthCheck('database', { slowMs: SLOW_CHECK_MS })
  isHealthy(key: string): HealthIndicatorResult {
    return pingCheck(this.health, key, () => this.database.ping());
  }
}
