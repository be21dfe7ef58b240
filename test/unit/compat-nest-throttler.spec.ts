/**
 * Contract tests of src/compat/nest-throttler.ts: each assumption (T1-T3) it makes of
 * @nestjs/throttler, by its name, against the installed version, on a real application whose
 * ThrottlerGuard refuses requests. A failure says which assumption broke and on which version.
 */
import { Controller, Get, Module, UseGuards, type INestApplication } from '@nestjs/common';
import { ModuleRef, NestFactory } from '@nestjs/core';
import { Throttle, ThrottlerException, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { installedVersion } from '../../src/compat/installed-version';
import {
  isThrottlerException,
  THROTTLER_OPTIONS_TOKEN,
  throttlerNamesOf,
  throttlerOfHeaders,
} from '../../src/compat/nest-throttler';

const against = `@nestjs/throttler ${installedVersion('@nestjs/throttler') ?? '(unknown version)'}`;

/** Fails with the assumption's name and the installed @nestjs/throttler's version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(`${against} no longer meets ${assumption} of src/compat/nest-throttler.ts: ${detail}`);
}

jest.setTimeout(60_000);

@Controller()
@UseGuards(ThrottlerGuard)
class Limited {
  @Get('one')
  one(): string {
    return 'ok';
  }

  @Throttle({ Burst: { limit: 1, ttl: 60_000 } })
  @Get('burst')
  burst(): string {
    return 'ok';
  }
}

@Module({
  imports: [
    ThrottlerModule.forRoot([
      { name: 'default', limit: 1, ttl: 60_000 },
      { name: 'Burst', limit: 100, ttl: 60_000 },
    ]),
  ],
  controllers: [Limited],
})
class LimitedModule {}

describe(`src/compat/nest-throttler.ts: what we assume of @nestjs/throttler (${against})`, () => {
  let app: INestApplication;
  let url: string;
  const refused: unknown[] = [];

  beforeAll(async () => {
    app = await NestFactory.create(LimitedModule, { logger: false });
    app.useGlobalFilters({
      catch(exception: unknown, host: { switchToHttp(): { getResponse<T>(): T } }) {
        refused.push(exception);
        host
          .switchToHttp()
          .getResponse<{ status(n: number): { json(b: unknown): void } }>()
          .status(429)
          .json({});
      },
    } as never);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('T1: the guard refuses with a ThrottlerException, found by its class name without loading the package', async () => {
    await fetch(`${url}/one`);
    const response = await fetch(`${url}/one`);
    expect(response.status).toBe(429);
    holds('T1', refused.length === 1, `${refused.length} exceptions reached the filter for one refusal`);
    holds(
      'T1',
      isThrottlerException(refused[0]),
      `the refusal was a ${(refused[0] as object)?.constructor?.name}`,
    );
    class Subclass extends ThrottlerException {}
    expect(isThrottlerException(new Subclass())).toBe(true);
    expect(isThrottlerException(new Error('429'))).toBe(false);
    expect(isThrottlerException(undefined)).toBe(false);
  });

  it('T2, T3: Retry-After for the default throttler, Retry-After-<name> for others; the options token gives names their case', async () => {
    const options = app.get(ModuleRef).get<string, unknown>(THROTTLER_OPTIONS_TOKEN, { strict: false });
    const names = throttlerNamesOf(options);
    holds(
      'T3',
      names.get('burst') === 'Burst',
      `the options under '${THROTTLER_OPTIONS_TOKEN}' were ${JSON.stringify(options)}`,
    );
    // 'default' allows 1 per minute: /one was refused above; /burst has its own counters per route.
    const first = await fetch(`${url}/burst`);
    const second = await fetch(`${url}/burst`);
    expect([first.status, second.status]).toEqual([200, 429]);
    const headers = [...second.headers.keys()];
    holds(
      'T2',
      throttlerOfHeaders(headers, names) === 'default' || throttlerOfHeaders(headers, names) === 'Burst',
      `the 429's headers were ${JSON.stringify(headers)}`,
    );
    const refusedOne = await fetch(`${url}/one`);
    holds(
      'T2',
      throttlerOfHeaders([...refusedOne.headers.keys()], names) === 'default',
      `the default throttler's 429 had headers ${JSON.stringify([...refusedOne.headers.keys()])}`,
    );
    expect(throttlerOfHeaders(['retry-after-burst'], names)).toBe('Burst');
    expect(throttlerOfHeaders(['content-type'], names)).toBeUndefined();
    expect(throttlerNamesOf({ throttlers: [{ name: 'Short' }] })).toEqual(new Map([['short', 'Short']]));
  });
});
