import { Injectable } from '@nestjs/common';
import { VezaMetricsService, type HealthCheckStatus } from '@veza/nestjs-metrics';
import { performance } from 'node:perf_hooks';
import { CacheService } from '../cache/cache.service';
import { DatabaseService } from '../database/database.service';

/** A check slower than this is `slow` (0.5 in `veza_health_check_status`). */
export const SLOW_CHECK_MS = 250;

export interface CheckResult {
  status: HealthCheckStatus;
  durationMs: number;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'error';
  checks: Record<string, CheckResult>;
}

/** Pings the services the API depends on, and records each check. */
@Injectable()
export class HealthService {
  private readonly checks: Record<string, () => unknown>;

  constructor(
    database: DatabaseService,
    cache: CacheService,
    private readonly metrics: VezaMetricsService,
  ) {
    this.checks = { database: () => database.ping(), redis: () => cache.ping() };
  }

  report(): HealthReport {
    const checks: Record<string, CheckResult> = {};
    for (const [service, ping] of Object.entries(this.checks)) checks[service] = this.check(service, ping);
    const statuses = Object.values(checks).map((c) => c.status);
    const status = statuses.includes('error') ? 'error' : statuses.includes('slow') ? 'degraded' : 'ok';
    return { status, checks };
  }

  private check(service: string, ping: () => unknown): CheckResult {
    const started = performance.now();
    let failed = false;
    try {
      ping();
    } catch {
      failed = true;
    }
    const durationMs = performance.now() - started;
    const status: HealthCheckStatus = failed ? 'error' : durationMs > SLOW_CHECK_MS ? 'slow' : 'ok';
    this.metrics.recordHealthCheck(service, durationMs, status);
    return { status, durationMs };
  }
}
