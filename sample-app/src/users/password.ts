import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

// A low scrypt cost keeps the sample (and its tests) fast; a real deployment uses the defaults or more.
const COST = { N: 1024, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** `salt:hash`, both hex. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('hex')}:${scryptSync(password, salt, KEY_LENGTH, COST).toString('hex')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [salt, hash] = stored.split(':');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'hex');
  const actual = scryptSync(password, Buffer.from(salt, 'hex'), expected.length, COST);
  return timingSafeEqual(actual, expected);
}
