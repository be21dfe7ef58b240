import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { UsersService } from '../users/users.service';
import type { AuthenticatedRequest } from './session';
import { SessionsService } from './sessions.service';

/** Lets a request through when it carries `Authorization: Bearer <token>` of an open session. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    const session = token === undefined ? undefined : this.sessions.find(token);
    const user = session && (await this.users.findById(session.userId));
    if (!session || !user) throw new UnauthorizedException('A valid bearer token is required');
    request.user = { id: user.id, email: user.email, token: session.token };
    return true;
  }
}

function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S+)$/i.exec(value ?? '');
  return match?.[1];
}
