import { VezaMetric } from '../catalog/catalog';
import { SUCCESS, FAILURE } from '../instrumentation/instrument';
import { counterCell } from '../instrumentation/cells';
import { decoratorOptions, optionalFunction } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyResult } from '../instrumentation/loose-types';

/** Options of {@link CountLogin}. */
export interface CountLoginOptions<R = AnyResult> {
  /**
   * For a method that reports bad credentials by returning (`null`, `false`) rather than throwing:
   * whether the returned value is a successful login. A truthy answer counts `success`.
   * @defaultValue every call that returns is a success
   */
  isSuccess?: (result: R) => unknown;
}

/** The rules of {@link CountLoginOptions}. */
export const COUNT_LOGIN_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<CountLoginOptions>()({ isSuccess: optionalFunction<(result: unknown) => unknown>() }),
);

/**
 * Counts a login attempt in `veza_auth_login_attempts_total`: `success="success"` when the method
 * returns (or its Promise resolves, its Observable completes), `success="failure"` when it throws
 * (or rejects, or errors). An Observable unsubscribed before it completes counts nothing.
 *
 * @example
 * ```ts
 * @CountLogin({ isSuccess: (user) => user !== null })
 * async login(email: string, password: string): Promise<User | null> { ... }
 * ```
 */
export function CountLogin<R = AnyResult>(options?: CountLoginOptions<R>): MethodDecorator {
  return instrumentMethod('@CountLogin()', (at) => {
    const { isSuccess } = COUNT_LOGIN_OPTIONS_SCHEMA.resolve(options, at, {});
    return {
      decorator: '@CountLogin()',
      name: 'CountLogin',
      identity: 'CountLogin',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.LoginAttempts],
      build: ({ metrics }) => {
        const counter = metrics.get(VezaMetric.LoginAttempts);
        const success = counterCell(counter, { success: 'success' });
        const failure = counterCell(counter, { success: 'failure' });
        return {
          end(outcome, value) {
            if (outcome === SUCCESS) (isSuccess === undefined || isSuccess(value) ? success : failure).inc();
            else if (outcome === FAILURE) failure.inc();
          },
        };
      },
    };
  });
}
