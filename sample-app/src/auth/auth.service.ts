import { Injectable, UnauthorizedException } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { toPublicUser, type PublicUser } from '../users/user.entity';
import { normalizeEmail, UsersService } from '../users/users.service';
import { verifyPassword } from '../users/password';
import { LoginThrottleService } from './login-throttle.service';
import type { Session } from './session';
import { SessionsService } from './sessions.service';

/** Registration, login and logout. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly throttle: LoginThrottleService,
    private readonly metrics: VezaMetricsService,
  ) {}

  register(email: string, password: string, displayName: string): PublicUser {
    const user = this.users.create(email, password, displayName);
    this.metrics.recordUserRegistered();
    return toPublicUser(user);
  }

  /** Opens a session for valid credentials; anything else is a 401 and a failed attempt. */
  login(email: string, password: string): Session {
    const user = this.users.findByEmail(email);
    const success = user !== undefined && verifyPassword(password, user.passwordHash);
    this.metrics.recordLoginAttempt(success);
    if (!success) {
      this.throttle.recordFailure(normalizeEmail(email));
      throw new UnauthorizedException('Invalid email or password');
    }
    this.throttle.reset(normalizeEmail(email));
    return this.sessions.open(user.id);
  }

  logout(token: string): void {
    this.sessions.close(token);
  }
}
