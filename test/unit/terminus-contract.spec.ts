/**
 * Contract tests of src/compat/nest-terminus.ts: each assumption (TM1-TM5) it makes of
 * @nestjs/terminus, by its name, against the installed version, on a real application context (no
 * HTTP). A failure names the assumption and the version. The matrix's Nest 10 and 11 jest rows
 * run it against their fixtures' terminus (VEZA_PEERS_DIR, scripts/matrix.sh).
 *
 * Against 10.x and 11.x, installed outside the repository with the Nest of their time:
 *   mkdir /tmp/v-term10 && cd /tmp/v-term10 && npm init -y && npm install @nestjs/terminus@10
 *     @nestjs/common@10 @nestjs/core@10 @nestjs/testing@10 reflect-metadata rxjs
 *   VEZA_PEERS_DIR=/tmp/v-term10 npx jest test/unit/terminus-contract.spec.ts --runInBand
 * 10.x has no HealthIndicatorService (11.x+): its indicators build results with the abstract
 * HealthIndicator's getStatus() and fail by throwing a HealthCheckError, as 10.x applications do.
 */
import { Controller, Get, Module, ServiceUnavailableException } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import * as terminus from '@nestjs/terminus';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { describeInstalled, installedVersion } from '../../src/compat/installed-version';
import {
  causesOf,
  healthCheckServicesOf,
  isHealthCheckAttempt,
  loadTerminus,
  wrapCheck,
} from '../../src/compat/nest-terminus';

const against = describeInstalled('@nestjs/terminus');
const major = Number((installedVersion('@nestjs/terminus') ?? '0').split('.')[0]);

/** Fails with the assumption's name and the installed version. */
function holds(id: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${against} no longer meets ${id} of src/compat/nest-terminus.ts: ${detail}`);
}

/** 10.x's way to build an indicator's result: a subclass of the abstract `HealthIndicator` (gone in 12.x). */
type LegacyStatus = (key: string, isHealthy: boolean, data?: object) => Record<string, unknown>;
function legacyStatus(): LegacyStatus {
  const Base = (terminus as Record<string, unknown>).HealthIndicator as new () => {
    getStatus: LegacyStatus;
  };
  const indicator = new (class extends Base {})();
  return (key, isHealthy, data) => indicator.getStatus(key, isHealthy, data);
}

@Controller('health')
class HealthController {
  constructor(private readonly health: HealthCheckService) {}

  @Get()
  check(indicators: unknown[]) {
    return this.health.check(indicators as never);
  }
}

@Module({ imports: [TerminusModule.forRoot({ logger: false })], controllers: [HealthController] })
class HealthApp {}

describe(`@nestjs/terminus assumptions (${against})`, () => {
  let moduleRef: TestingModule;
  let service: HealthCheckService;
  /** Undefined before 11.x. */
  let indicators: HealthIndicatorService | undefined;
  /** An indicator's `up` result. */
  const up = (key: string): unknown => (indicators ? indicators.check(key).up() : legacyStatus()(key, true));
  /** An indicator's `down`: resolved from 11.x, thrown as a HealthCheckError in 10.x. */
  const down = (key: string, message: string): unknown => {
    if (indicators) return indicators.check(key).down({ message });
    const HealthCheckError = (terminus as Record<string, unknown>).HealthCheckError as new (
      message: string,
      causes: unknown,
    ) => Error;
    throw new HealthCheckError(message, legacyStatus()(key, false, { message }));
  };

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [HealthApp] }).compile();
    await moduleRef.init();
    service = moduleRef.get(HealthCheckService);
    if (typeof HealthIndicatorService === 'function') indicators = moduleRef.get(HealthIndicatorService);
  });
  afterAll(() => moduleRef?.close());

  const lib = () => {
    const loaded = loadTerminus(moduleRef.get(ModulesContainer));
    if (!loaded) throw new Error(`${against}: loadTerminus() found nothing (P4 or the package's exports)`);
    return loaded;
  };

  it(`TM1: one HealthCheckService singleton, and a controller's check() goes through an own property of it (${against})`, async () => {
    const found = healthCheckServicesOf(moduleRef.get(ModulesContainer), lib());
    holds(
      'TM1',
      found.length === 1 && found[0] === service,
      `${found.length} HealthCheckService instances found`,
    );
    const other = Object.create(Object.getPrototypeOf(service) as object) as HealthCheckService;
    const calls: unknown[] = [];
    Object.assign(other, service);
    expect(wrapCheck(other, (given) => (calls.push(given), given))).toBe(true);
    expect(wrapCheck(other, (given) => given)).toBe(false); // once per instance
    const controller = moduleRef.get(HealthController);
    (controller as unknown as { health: HealthCheckService }).health = other;
    await controller.check([() => up('a')]);
    holds('TM1', calls.length === 1, "the controller's call did not reach the instance's own check");
    expect(Object.keys(other)).not.toContain('check');
  });

  it(`TM2: each indicator called once, with no argument and no this, all before any settles; the result is built from theirs (${against})`, async () => {
    const seen: { args: number; self: unknown }[] = [];
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    let secondCalledFirstPending = false;
    let firstSettled = false;
    const a = function (this: unknown, ...args: unknown[]) {
      seen.push({ args: args.length, self: this });
      return first.then(() => {
        firstSettled = true;
        return up('a');
      });
    };
    const b = function (this: unknown, ...args: unknown[]) {
      seen.push({ args: args.length, self: this });
      secondCalledFirstPending = !firstSettled;
      releaseFirst();
      return down('b', 'no');
    };
    const error: unknown = await service.check([a, b] as never).catch((e: unknown) => e);
    holds('TM2', seen.length === 2, `${seen.length} calls for 2 indicators`);
    holds(
      'TM2',
      seen.every((s) => s.args === 0 && s.self === undefined),
      `called with ${JSON.stringify(seen.map((s) => s.args))} arguments or a this`,
    );
    holds('TM2', secondCalledFirstPending, 'the second indicator was called after the first settled');
    holds(
      'TM2',
      error instanceof ServiceUnavailableException,
      'a down indicator did not make a ServiceUnavailableException',
    );
    expect((error as ServiceUnavailableException).getResponse()).toEqual({
      status: 'error',
      info: { a: { status: 'up' } },
      error: { b: { status: 'down', message: 'no' } },
      details: { a: { status: 'up' }, b: { status: 'down', message: 'no' } },
    });
  });

  it(`TM2, TM5: a HealthCheckAttempt in the array (12.x) runs once, whether terminus or a wrapper awaits it (${against})`, async () => {
    const Attempt = (terminus as Record<string, unknown>).HealthCheckAttempt;
    if (major < 12) {
      holds(
        'TM5',
        Attempt === undefined && lib().HealthCheckAttempt === undefined,
        'HealthCheckAttempt is exported before 12.x',
      );
      return;
    }
    holds('TM5', typeof Attempt === 'function', 'HealthCheckAttempt is not exported');
    let runs = 0;
    const attempt = indicators!.check('c').attempt(() => {
      runs++;
      return { n: runs };
    });
    holds('TM5', isHealthCheckAttempt(attempt, lib()), 'attempt() returned no HealthCheckAttempt');
    const direct = await service.check([attempt] as never);
    holds('TM2', runs === 1, `a HealthCheckAttempt in the array ran ${runs} times`);
    const attempt2 = indicators!.check('c').attempt(() => {
      runs++;
      return { n: runs };
    });
    const wrapped = await service.check([
      () => new Promise((resolve, reject) => void attempt2.then(resolve, reject)),
    ] as never);
    holds('TM2', runs === 2, `a HealthCheckAttempt awaited by a wrapper ran ${runs - 1} times`);
    const shape = (r: unknown) =>
      JSON.parse(
        JSON.stringify(r, (k, v: unknown) => (k === 'responseTime' || k === 'n' ? 0 : v)),
      ) as unknown;
    expect(shape(wrapped)).toEqual(shape(direct));
  });

  it(`TM3: an indicator's result is { [key]: { status } }: up, down, degraded (12.x) (${against})`, () => {
    if (!indicators) {
      const status = legacyStatus();
      holds(
        'TM3',
        JSON.stringify(status('storage', true)) === '{"storage":{"status":"up"}}',
        JSON.stringify(status('storage', true)),
      );
      const failed = status('storage', false, { message: 'x' });
      holds(
        'TM3',
        JSON.stringify(failed) === '{"storage":{"status":"down","message":"x"}}',
        JSON.stringify(failed),
      );
      return;
    }
    const session = indicators.check('storage');
    holds(
      'TM3',
      JSON.stringify(session.up()) === '{"storage":{"status":"up"}}',
      JSON.stringify(session.up()),
    );
    holds(
      'TM3',
      JSON.stringify(session.down('x')) === '{"storage":{"message":"x","status":"down"}}',
      JSON.stringify(session.down('x')),
    );
    if (major >= 12) {
      const degraded = (session as unknown as { degraded(): unknown }).degraded();
      holds(
        'TM3',
        JSON.stringify(degraded) === '{"storage":{"status":"degraded"}}',
        JSON.stringify(degraded),
      );
    }
  });

  it(`TM4: a rejection with isHealthCheckError and causes: a down indicator before 12.x, the whole check's failure from 12.x (${against})`, async () => {
    const thrown = Object.assign(new Error('down'), {
      isHealthCheckError: true,
      causes: { payments: { status: 'down' } },
    });
    expect(causesOf(thrown)).toEqual({ payments: { status: 'down' } });
    expect(causesOf(new Error('plain'))).toBeUndefined();
    const error: unknown = await service
      .check([() => Promise.reject(thrown)] as never)
      .catch((e: unknown) => e);
    if (major >= 12) {
      holds('TM4', error === thrown, 'from 12.x a HealthCheckError is no longer rethrown as it is');
    } else {
      holds(
        'TM4',
        error instanceof ServiceUnavailableException,
        'a HealthCheckError made no ServiceUnavailableException',
      );
      expect((error as ServiceUnavailableException).getResponse()).toMatchObject({
        error: { payments: { status: 'down' } },
      });
    }
  });
});
