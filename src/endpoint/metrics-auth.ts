import { createHash, timingSafeEqual } from 'node:crypto';

/** Credentials `/metrics` accepts, digested once. */
export interface MetricsCredentials {
  readonly bearerToken?: string;
  readonly basic?: { readonly username: string; readonly password: string };
}

/** The verdict on one request's `Authorization` header. */
export interface AuthVerdict {
  readonly ok: boolean;
  /** The `WWW-Authenticate` challenge to send with a 401. */
  readonly challenge: string;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks `Authorization` headers against the configured credentials. Comparisons are constant-time
 * over SHA-256 digests (equal lengths whatever the input), and every request goes through the same
 * steps whether the scheme, the user or the secret is wrong.
 */
export class MetricsAuthenticator {
  private readonly bearer: Buffer | undefined;
  private readonly basic: Buffer | undefined;
  readonly challenge: string;

  constructor(credentials: MetricsCredentials) {
    this.bearer = credentials.bearerToken === undefined ? undefined : digest(credentials.bearerToken);
    this.basic =
      credentials.basic === undefined
        ? undefined
        : digest(`${credentials.basic.username}:${credentials.basic.password}`);
    this.challenge = [
      this.bearer ? 'Bearer realm="metrics"' : '',
      this.basic ? 'Basic realm="metrics", charset="UTF-8"' : '',
    ]
      .filter(Boolean)
      .join(', ');
  }

  /** Whether `header` (the raw `Authorization` value, if any) carries valid credentials. */
  verify(header: unknown): boolean {
    // Several Authorization headers, or none: refused.
    if (typeof header !== 'string') return false;
    const space = header.indexOf(' ');
    if (space <= 0) return false;
    const scheme = header.slice(0, space).toLowerCase();
    const credentials = header.slice(space + 1).trim();
    if (credentials === '' || credentials.length > 4096) return false;
    if (scheme === 'bearer' && this.bearer) return timingSafeEqual(digest(credentials), this.bearer);
    if (scheme === 'basic' && this.basic) {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(credentials)) return false;
      return timingSafeEqual(digest(Buffer.from(credentials, 'base64').toString('utf8')), this.basic);
    }
    return false;
  }
}
