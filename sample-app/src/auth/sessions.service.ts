import { Injectable } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomBytes } from 'node:crypto';
import type { Session } from './session';

/**
 * Open sessions, kept in memory as Redis would keep them. Every change updates
 * `veza_auth_sessions_active` and `veza_active_users` (users with at least one session).
 */
@Injectable()
export class SessionsService {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly metrics: VezaMetricsService) {}

  open(userId: string): Session {
    const session: Session = { token: randomBytes(24).toString('base64url'), userId, createdAt: new Date().toISOString() };
    this.sessions.set(session.token, session);
    this.publish();
    return session;
  }

  find(token: string): Session | undefined {
    return this.sessions.get(token);
  }

  /** Closes the session of `token`; false when there was none. */
  close(token: string): boolean {
    const closed = this.sessions.delete(token);
    if (closed) this.publish();
    return closed;
  }

  private publish(): void {
    this.metrics.updateActiveSessions(this.sessions.size);
    this.metrics.updateActiveUsers(new Set([...this.sessions.values()].map((s) => s.userId)).size);
  }
}
