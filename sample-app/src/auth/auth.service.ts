import { Injectable, UnauthorizedException } from '@nestjs/common';
import { CountLogin, CountUserRegistered } from '@veza/nestjs-metrics';
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
  ) {}

  /** A taken email is a 409, and registers no one. */
  @CountUserRegistered()
  async register(email: string, password: string, displayName: string): Promise<PublicUser> {
    return toPublicUser(await this.users.create(email, password, displayName));
  }

  /** Opens a session for valid credentials (a successful attempt); anything else is a 401 (a failed one). */
  @CountLogin()
  async login(email: string, password: string): Promise<Session> {
    const user = await this.users.findByEmail(email);
    if (user === undefined || !verifyPassword(password, user.passwordHash)) {
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
