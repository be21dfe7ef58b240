import { connect } from 'node:net';
import { redisConnection } from './transcoding/transcoding.module';

/**
 * Whether the Redis at `redisUrl` answers PING within `timeoutMs`: the sample app starts its
 * transcoding queue only then, so `npm run sample` works with no Redis installed.
 */
export function redisAnswers(redisUrl: string, timeoutMs = 1_000): Promise<boolean> {
  const { host, port } = redisConnection(redisUrl);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    // An answer of any kind (+PONG, or -NOAUTH from a Redis with a password) is a Redis.
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(/^[+-]/.test(data.toString('latin1'))));
  });
}
