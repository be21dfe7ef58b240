/** A Veza account. */
export interface User {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly passwordHash: string;
  readonly createdAt: string;
}

/** What the API shows of a user: never the password hash. */
export type PublicUser = Omit<User, 'passwordHash'>;

export function toPublicUser({ passwordHash: _hash, ...user }: User): PublicUser {
  return user;
}
