/** Issue #25: option `remoteWrite`: defaults, auth, credentials out of the URL and out of every message. */
import { resolveOptions } from '../../src/veza-metrics.options';

const resolve = (remoteWrite: unknown) => resolveOptions({ remoteWrite } as never).remoteWrite;
const messageOf = (remoteWrite: unknown): string => {
  try {
    resolve(remoteWrite);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('option remoteWrite', () => {
  it('is off by default, and fills in its defaults when given', () => {
    expect(resolveOptions({}).remoteWrite).toBeUndefined();
    expect(resolve({ url: 'http://prometheus:9090/api/v1/write' })).toEqual({
      url: 'http://prometheus:9090/api/v1/write',
      target: 'http://prometheus:9090/api/v1/write',
      intervalMs: 15_000,
      timeoutMs: 5_000,
      sendOnShutdown: true,
      headers: {},
    });
  });

  it('takes a bearer token or basic credentials into Authorization; headers are kept', () => {
    expect(resolve({ url: 'https://mimir/api/v1/push', auth: { bearerToken: 'tok' } })?.headers).toEqual({
      Authorization: 'Bearer tok',
    });
    expect(
      resolve({
        url: 'https://mimir/api/v1/push',
        auth: { username: 'u', password: 'p' },
        headers: { 'X-Scope-OrgID': 'tenant-1' },
      })?.headers,
    ).toEqual({
      'X-Scope-OrgID': 'tenant-1',
      Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
    });
    // An Authorization header given wins over auth.
    expect(
      resolve({ url: 'http://r/w', auth: { bearerToken: 'tok' }, headers: { authorization: 'Custom x' } })
        ?.headers,
    ).toEqual({ authorization: 'Custom x' });
  });

  it('moves credentials out of the URL; the target (log lines) has neither them nor the query', () => {
    expect(
      resolve({
        url: 'https://us%40r:p%3Ass@vm.example:8428/api/v1/write?extra_label=a%3Db',
        intervalMs: 1000,
      }),
    ).toEqual({
      url: 'https://vm.example:8428/api/v1/write?extra_label=a%3Db',
      target: 'https://vm.example:8428/api/v1/write',
      intervalMs: 1000,
      timeoutMs: 5_000,
      sendOnShutdown: true,
      headers: { Authorization: `Basic ${Buffer.from('us@r:p:ss').toString('base64')}` },
    });
  });

  it('refuses bad values without ever quoting a URL or a secret', () => {
    expect(messageOf({ url: 'ftp://user:hunter2@host/x' })).toMatch(
      /remoteWrite\.url.*http:\/\/ or https:\/\//,
    );
    expect(messageOf({ url: 'ftp://user:hunter2@host/x' })).not.toContain('hunter2');
    expect(messageOf({ url: 'http://h/w', auth: { bearerToken: 'hunter2', extra: 1 } })).not.toContain(
      'hunter2',
    );
    expect(messageOf({ url: 'http://h/w', auth: { bearerToken: 'a\nb' } })).toMatch(/remoteWrite\.auth/);
    expect(messageOf({ url: 'http://h/w', intervalMs: 0 })).toMatch(/remoteWrite\.intervalMs/);
    expect(messageOf({ url: 'http://h/w', headers: { 'Bad Header': 'x' } })).toMatch(/remoteWrite\.headers/);
    expect(messageOf({ url: 'http://h/w', unknown: 1 })).toMatch(/remoteWrite\.unknown/);
  });
});
