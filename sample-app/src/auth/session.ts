/** An open session: the bearer token a client sends, and whose it is. */
export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly createdAt: string;
}

/** The user a guarded request is made by. */
export interface AuthUser {
  readonly id: string;
  readonly email: string;
  readonly token: string;
}

/** The part of an Express or Fastify request the auth guard reads and writes. */
export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  user?: AuthUser;
}
