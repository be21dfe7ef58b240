import { Injectable } from '@nestjs/common';
import { GaugeSource, TrackSession, VezaMetric } from '@veza/nestjs-metrics';
import { randomBytes } from 'node:crypto';
import type { Session } from './session';

/**
 * Open sessions, kept in memory as Redis would keep them. Opening and closing one moves
 * `veza_auth_sessions_active`; `veza_active_users` (users with at least one session) is read when
 * Prometheus scrapes.
 */
@Injectable()
export class SessionsService {
  private readonly sessions = new Map<string, Session>();

  @TrackSession('open')
  open(userId: string): Session {
    const session: Session = {
      token: randomBytes(24).toString('base64url'),
      userId,
      createdAt: new Date().toISOString(),
    };
    this.sessions.set(session.token, session);
    return session;
  }

  find(token: string): Session | undefined {
    return this.sessions.get(token);
  }

  /** Closes the session of `token`; false when there was none. */
  close(token: string): boolean {
    const session = this.sessions.get(token);
    if (!session) return false;
    this.remove(session);
    return true;
  }

  @GaugeSource(VezaMetric.ActiveUsers)
  activeUsers(): number {
    return new Set([...this.sessions.values()].map((s) => s.userId)).size;
  }

  /** Only a session that was open is closed: closing an unknown token moves no gauge. */
  @TrackSession('close')
  private remove(session: Session): void {
    this.sessions.delete(session.token);
  }
}
