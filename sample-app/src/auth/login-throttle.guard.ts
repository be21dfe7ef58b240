import {
  HttpException,
  HttpStatus,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { normalizeEmail } from '../users/users.service';
import { LoginThrottleService } from './login-throttle.service';
import type { AuthenticatedRequest } from './session';

/** Refuses a login with 429 once its email has failed too often. */
@Injectable()
export class LoginThrottleGuard implements CanActivate {
  constructor(private readonly throttle: LoginThrottleService) {}

  canActivate(context: ExecutionContext): boolean {
    const body = context.switchToHttp().getRequest<AuthenticatedRequest>().body;
    const email = typeof body === 'object' && body !== null && 'email' in body ? body.email : undefined;
    if (typeof email !== 'string' || this.throttle.allows(normalizeEmail(email))) return true;
    throw new HttpException('Too many failed logins; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}
