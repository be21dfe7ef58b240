import { Injectable } from '@nestjs/common';
import { CountRateLimitHit } from '@veza/nestjs-metrics';

/** Failed logins allowed per email within the window, before further attempts are refused. */
export const MAX_FAILED_LOGINS = 5;
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;

/** Counts failed logins per email, to refuse brute force (the guard does the refusing). */
@Injectable()
export class LoginThrottleService {
  private readonly failures = new Map<string, number[]>();

  /** Whether a login for `email` may be tried; each refusal is a rate limit hit. */
  @CountRateLimitHit('/auth/login', 'failed_logins', { isHit: (allowed: boolean) => !allowed })
  allows(email: string): boolean {
    return this.recent(email).length < MAX_FAILED_LOGINS;
  }

  recordFailure(email: string): void {
    this.failures.set(email, [...this.recent(email), Date.now()]);
  }

  reset(email: string): void {
    this.failures.delete(email);
  }

  private recent(email: string): number[] {
    const since = Date.now() - FAILED_LOGIN_WINDOW_MS;
    return (this.failures.get(email) ?? []).filter((at) => at > since);
  }
}
