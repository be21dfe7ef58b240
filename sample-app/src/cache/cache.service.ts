import { Injectable } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** The subsystems that cache through Redis: the `subsystem` label of the cache metrics. */
export type CacheSubsystem = 'tracks' | 'users' | 'playlists';

/**
 * The sample's Redis: an in-memory key-value store with expiry. Every lookup is a hit or a miss of
 * its subsystem (`veza_cache_hits_total`, `veza_cache_misses_total`).
 */
@Injectable()
export class CacheService {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly metrics: VezaMetricsService) {}

  get<T>(subsystem: CacheSubsystem, key: string): T | undefined {
    const entry = this.entries.get(`${subsystem}:${key}`);
    if (!entry || entry.expiresAt <= Date.now()) {
      this.metrics.recordCacheMiss(subsystem);
      return undefined;
    }
    this.metrics.recordCacheHit(subsystem);
    return entry.value as T;
  }

  set(subsystem: CacheSubsystem, key: string, value: unknown, ttlMs = 60_000): void {
    this.entries.set(`${subsystem}:${key}`, { value, expiresAt: Date.now() + ttlMs });
  }

  delete(subsystem: CacheSubsystem, key: string): void {
    this.entries.delete(`${subsystem}:${key}`);
  }

  /** `PING`: what the health check runs. */
  ping(): 'PONG' {
    return 'PONG';
  }
}
