/**
 * The Prisma hook of src/compat/prisma.ts on a client-shaped object: what the application gets is
 * what Prisma's helper returned or threw, whatever the result or the listener does.
 */
import { hookPrismaClient, isPrismaClient, type PrismaSettled } from '../../src/compat/prisma';

interface Helper {
  runInChildSpan(options: unknown, callback: () => unknown): unknown;
}

function fakeClient(): { $transaction(): void; $connect(): void; _tracingHelper: Helper } {
  return {
    $transaction() {},
    $connect() {},
    _tracingHelper: { runInChildSpan: (_options: unknown, callback: () => unknown) => callback() },
  };
}

const operation = (method: string, model?: string): unknown => ({
  name: 'operation',
  attributes: { method, model },
});

describe('hookPrismaClient', () => {
  it('passes spans other than operation and transaction through, unreported', () => {
    const client = fakeClient();
    const seen: PrismaSettled[] = [];
    hookPrismaClient(client, (s) => seen.push(s));
    expect(client._tracingHelper.runInChildSpan({ name: 'serialize' }, () => 7)).toBe(7);
    expect(client._tracingHelper.runInChildSpan('connect', () => 8)).toBe(8);
    expect(client._tracingHelper.runInChildSpan({ name: 'operation', attributes: {} }, () => 9)).toBe(9);
    expect(seen).toEqual([]);
  });

  it('returns a thenable whose then throws as it is, and reports a thenable that calls back twice once', async () => {
    const client = fakeClient();
    const seen: PrismaSettled[] = [];
    hookPrismaClient(client, (s) => seen.push(s));
    const broken = {
      get then(): never {
        throw new Error('hostile then');
      },
    };
    expect(client._tracingHelper.runInChildSpan(operation('findMany', 'Track'), () => broken)).toBe(broken);
    const twice = {
      then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
        ok(1);
        fail(new Error('late'));
        ok(2);
      },
    };
    expect(client._tracingHelper.runInChildSpan(operation('count', 'Track'), () => twice)).toBe(twice);
    await Promise.resolve();
    expect(seen.map((s) => `${s.action} ${s.failed}`)).toEqual(['count false']);
  });

  it('a listener that throws changes nothing the application gets', async () => {
    const client = fakeClient();
    hookPrismaClient(client, () => {
      throw new Error('listener');
    });
    const error = new Error('P2002');
    await expect(
      client._tracingHelper.runInChildSpan(operation('create', 'Track'), () => Promise.resolve(5)),
    ).resolves.toBe(5);
    await expect(
      client._tracingHelper.runInChildSpan(operation('create', 'Track'), () => Promise.reject(error)),
    ).rejects.toBe(error);
    expect(() =>
      client._tracingHelper.runInChildSpan(operation('create', 'Track'), () => {
        throw error;
      }),
    ).toThrow(error);
  });

  it('hooks a client once; its undo puts the previous helper back unless another replaced the hook since', () => {
    const client = fakeClient();
    const original = client._tracingHelper;
    const undo = hookPrismaClient(client, () => undefined);
    expect(client._tracingHelper).not.toBe(original);
    expect(hookPrismaClient(client, () => undefined)).toBeUndefined();
    undo!();
    expect(client._tracingHelper).toBe(original);
    const again = hookPrismaClient(client, () => undefined);
    const theirs = { runInChildSpan: (_o: unknown, cb: () => unknown) => cb() };
    client._tracingHelper = theirs;
    again!();
    expect(client._tracingHelper).toBe(theirs);
  });

  it('takes for a client only what has $transaction, $connect and a tracing helper, and survives hostile getters', () => {
    expect(isPrismaClient(fakeClient())).toBe(true);
    expect(isPrismaClient({ $transaction() {}, $connect() {}, _tracingHelper: {} })).toBe(false);
    expect(isPrismaClient(null)).toBe(false);
    expect(isPrismaClient('client')).toBe(false);
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
      },
    );
    expect(isPrismaClient(hostile)).toBe(false);
    expect(hookPrismaClient(hostile, () => undefined)).toBeUndefined();
  });
});
