/**
 * Contract tests of src/compat/prisma.ts: each assumption it makes of Prisma's client, by its name,
 * against the installed version, with a client generated from test/utils/prisma.ts's schema over
 * @prisma/adapter-pg on a real PostgreSQL. A failure here names the assumption that broke.
 *
 * Against another Prisma, installed outside the repository (the engines' download fails here):
 *   mkdir /tmp/v-prisma6 && cd /tmp/v-prisma6 && npm init -y &&
 *     npm install --ignore-scripts prisma@6 @prisma/client@6 @prisma/adapter-pg@6 pg
 *   VEZA_PEERS_DIR=/tmp/v-prisma6 npx jest test/unit/prisma-contract.spec.ts --runInBand
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  hookPrismaClient,
  isPrismaClient,
  prismaErrorCode,
  type PrismaSettled,
} from '../../src/compat/prisma';
import { startPostgres, type Broker } from '../utils/brokers';
import {
  createPrismaTables,
  generatedPrisma,
  prismaClient,
  prismaVersion,
  prismaVersions,
  type PrismaLike,
} from '../utils/prisma';

jest.setTimeout(60_000);

const against = prismaVersions();
const broke = (id: string, what: string): string =>
  `${against} no longer meets ${id} of src/compat/prisma.ts: ${what}`;

const brief = (s: PrismaSettled): string =>
  `${s.kind} ${s.action} ${s.model ?? '-'} ${s.failed ? `failed ${prismaErrorCode(s.error) ?? (s.error as Error)?.constructor?.name}` : 'ok'}`;

/** What the hook reported once the query and every branch it made have settled. */
async function settled(seen: PrismaSettled[], run: () => Promise<unknown>): Promise<string[]> {
  const from = seen.length;
  await run().catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  return seen.slice(from).map(brief);
}

describe(`Prisma assumptions (${against})`, () => {
  let pg: Broker | undefined;
  let client: PrismaLike;
  const seen: PrismaSettled[] = [];
  let undo: (() => void) | undefined;

  beforeAll(async () => {
    pg = await startPostgres();
    if (!pg) return;
    await createPrismaTables(pg.url);
    client = prismaClient(pg.url);
    undo = hookPrismaClient(client, (s) => seen.push(s));
  });
  afterAll(async () => {
    await client?.$disconnect();
    await pg?.stop();
  });

  it(`PR1: a client is told by its shape, keeps its tracing helper in _tracingHelper, and the hook reaches it and the clients $extends makes (${against})`, async () => {
    if (!pg) return;
    expect({
      client: isPrismaClient(client),
      [broke('PR1', 'the client has $transaction, $connect and _tracingHelper.runInChildSpan')]: true,
    }).toEqual({
      client: true,
      [broke('PR1', 'the client has $transaction, $connect and _tracingHelper.runInChildSpan')]: true,
    });
    expect(undo).toBeDefined();
    expect(hookPrismaClient(client, () => undefined)).toBeUndefined();
    expect(isPrismaClient({ $transaction() {}, $connect() {} })).toBe(false);
    const extended = client.$extends({
      query: {
        $allOperations: ({ args, query }: { args: unknown; query: (a: unknown) => Promise<unknown> }) =>
          query(args),
      },
    });
    expect(await settled(seen, () => extended.track.count())).toEqual(['operation count Track ok']);
  });

  it(`PR2: each model action and raw query is an "operation" span with method and model, also inside transactions (${against})`, async () => {
    if (!pg) return;
    const all: string[] = [];
    const step = async (run: () => Promise<unknown>): Promise<void> => {
      all.push(...(await settled(seen, run)));
    };
    await step(() => client.track.create({ data: { title: 'one' } }));
    await step(() => client.track.createMany({ data: [{ title: 'two' }, { title: 'three' }] }));
    await step(() => client.track.findMany());
    await step(() => client.track.findUnique({ where: { title: 'one' } }));
    await step(() => client.track.findFirst());
    await step(() => client.track.aggregate({ _count: true }));
    await step(() => client.track.groupBy({ by: ['title'] }));
    await step(() =>
      client.track.upsert({ where: { title: 'four' }, create: { title: 'four' }, update: {} }),
    );
    await step(() => client.track.update({ where: { title: 'one' }, data: { plays: 1 } }));
    await step(() => client.track.updateMany({ data: { plays: 2 } }));
    await step(() => client.track.delete({ where: { title: 'four' } }));
    await step(() => client.$queryRawUnsafe('SELECT 1'));
    await step(() => client.$executeRawUnsafe('UPDATE "Album" SET name = name'));
    await step(() => client.$transaction([client.track.count(), client.album.findMany()]));
    await step(() => client.$transaction(async (tx: unknown) => (tx as PrismaLike).track.deleteMany()));
    expect({ [broke('PR2', 'every query is one "operation" span with { method, model }')]: all }).toEqual({
      [broke('PR2', 'every query is one "operation" span with { method, model }')]: [
        'operation create Track ok',
        'operation createMany Track ok',
        'operation findMany Track ok',
        'operation findUnique Track ok',
        'operation findFirst Track ok',
        'operation aggregate Track ok',
        'operation groupBy Track ok',
        'operation upsert Track ok',
        'operation update Track ok',
        'operation updateMany Track ok',
        'operation delete Track ok',
        'operation queryRaw - ok',
        'operation executeRaw - ok',
        'operation count Track ok',
        'operation findMany Album ok',
        'transaction $transaction - ok',
        'operation deleteMany Track ok',
        'transaction $transaction - ok',
      ],
    });
  });

  it(`PR3, PR4: a failed query rejects with Prisma's code, a failed transaction settles as failed, the app gets Prisma's own error (${against})`, async () => {
    if (!pg) return;
    const { Prisma } = generatedPrisma();
    await client.track.create({ data: { title: 'taken' } });
    let thrown: unknown;
    const unique = await settled(seen, () =>
      client.track.create({ data: { title: 'taken' } }).catch((e: unknown) => {
        thrown = e;
        throw e;
      }),
    );
    expect(thrown).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect({ [broke('PR4', 'a unique violation rejects with code P2002')]: unique }).toEqual({
      [broke('PR4', 'a unique violation rejects with code P2002')]: ['operation create Track failed P2002'],
    });
    expect(
      await settled(seen, () => client.track.update({ where: { title: 'absent' }, data: { plays: 1 } })),
    ).toEqual(['operation update Track failed P2025']);
    expect(await settled(seen, () => client.$queryRawUnsafe('SELECT * FROM nope'))).toEqual([
      'operation queryRaw - failed P2010',
    ]);
    expect(await settled(seen, () => client.track.findMany({ where: { nope: 1 } }))).toEqual([
      'operation findMany Track failed PrismaClientValidationError',
    ]);
    expect(
      await settled(seen, () =>
        client.$transaction(async (tx: unknown) => {
          await (tx as PrismaLike).album.create({ data: { name: 'x' } });
          throw new Error('rolled back');
        }),
      ),
    ).toEqual(['operation create Album ok', 'transaction $transaction - failed Error']);
    expect(await client.album.count()).toBe(0);
  });

  it(`PR1: the hook delegates to the helper of @prisma/instrumentation however late the app sets it, and undo puts the previous helper back (${against})`, async () => {
    if (!pg) return;
    // Prisma 7 reads V7_PRISMA_INSTRUMENTATION first; 5.x and 6.x read PRISMA_INSTRUMENTATION.
    const major = Number(prismaVersion().split('.')[0]);
    const key = major >= 7 ? `V${major}_PRISMA_INSTRUMENTATION` : 'PRISMA_INSTRUMENTATION';
    const spans: string[] = [];
    const helper = {
      isEnabled: () => false,
      getTraceParent: () => '00-10-10-00',
      dispatchEngineSpans: () => undefined,
      getActiveContext: () => undefined,
      runInChildSpan: (options: { name?: string } | string, callback: () => unknown) => {
        spans.push(typeof options === 'string' ? options : String(options.name));
        return callback();
      },
    };
    const global = globalThis as Record<string, unknown>;
    global[key] = { helper };
    try {
      const before = seen.length;
      expect(await client.album.count()).toBe(0);
      expect({ [broke('PR1', "Prisma's own helper reads the global helper on each call")]: spans }).toEqual({
        [broke('PR1', "Prisma's own helper reads the global helper on each call")]: expect.arrayContaining([
          'operation',
          'serialize',
        ]),
      });
      expect(seen.length).toBe(before + 1);
    } finally {
      delete global[key];
    }
    undo!();
    const before = seen.length;
    await client.album.count();
    expect(seen.length).toBe(before);
    undo = hookPrismaClient(client, (s) => seen.push(s));
    expect(undo).toBeDefined();
  });

  it(`PR1, PR2, PR4 with the generator prisma-client (TypeScript, CommonJS) too (${against})`, () => {
    if (!pg) return;
    // Its client loads the query compiler with a dynamic import(), which jest's module system refuses
    // without --experimental-vm-modules: the check runs in a plain Node process.
    const script = `
      const { generatedPrisma, prismaClient, PRISMA_CLIENT_TS_SCHEMA } = require(${JSON.stringify(join(__dirname, '..', 'utils', 'prisma.ts'))});
      const { hookPrismaClient, isPrismaClient, prismaErrorCode } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'compat', 'prisma.ts'))});
      (async () => {
        const client = prismaClient(process.env.PG_URL, generatedPrisma(PRISMA_CLIENT_TS_SCHEMA));
        const seen = [String(isPrismaClient(client))];
        hookPrismaClient(client, (s) => seen.push([s.kind, s.action, s.model ?? '-', s.failed ? 'failed ' + (prismaErrorCode(s.error) ?? s.error?.constructor?.name) : 'ok'].join(' ')));
        await client.album.create({ data: { name: 'ts' } });
        await client.track.create({ data: { title: 'taken' } }).catch(() => undefined);
        await client.$transaction([client.album.count()]);
        await client.$disconnect();
        process.stdout.write(JSON.stringify(seen));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const run = spawnSync(
      process.execPath,
      ['--no-warnings', '-r', join(__dirname, '..', '..', 'bench', 'http-register.js'), '-e', script],
      { encoding: 'utf8', env: { ...process.env, PG_URL: pg.url } },
    );
    expect(run.stderr).toBe('');
    expect({
      [broke('PR1', 'the prisma-client generator builds on the same runtime')]: JSON.parse(
        run.stdout,
      ) as string[],
    }).toEqual({
      [broke('PR1', 'the prisma-client generator builds on the same runtime')]: [
        'true',
        'operation create Album ok',
        'operation create Track failed P2002',
        'operation count Album ok',
        'transaction $transaction - ok',
      ],
    });
  });
});
