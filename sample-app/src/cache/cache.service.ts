import { Injectable } from '@nestjs/common';

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** The subsystems that cache through Redis: the `subsystem` label of the cache metrics. */
export type CacheSubsystem = 'tracks' | 'users' | 'playlists';

/**
 * The sample's Redis: an in-memory key-value store with expiry. Each subsystem's lookups are
 * counted as hits and misses where the subsystem reads (`@CountCacheLookup('tracks')` on
 * `TracksService#cached`).
 */
@Injectable()
export class CacheService {
  private readonly entries = new Map<string, Entry>();

  /** The value of `key`, or `undefined` when it is absent or expired. */
  get<T>(subsystem: CacheSubsystem, key: string): T | undefined {
    const entry = this.entries.get(`${subsystem}:${key}`);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
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
