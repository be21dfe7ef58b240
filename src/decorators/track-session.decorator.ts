import { VezaMetric } from '../catalog/catalog';
import { SUCCESS } from '../instrumentation/instrument';
import { gaugeCell } from '../instrumentation/cells';
import { argument, quotedOneOf } from '../instrumentation/decorator-options';
import { instrumentMethod } from '../instrumentation/instrument-method';

/**
 * Moves `veza_auth_sessions_active` when the method succeeds: up by one for `'open'`, down by one
 * for `'close'`. A method that throws changes nothing.
 *
 * @example
 * ```ts
 * @TrackSession('open')
 * async createSession(userId: string): Promise<Session> { ... }
 *
 * @TrackSession('close')
 * async logout(sessionId: string): Promise<void> { ... }
 * ```
 */
export function TrackSession(change: 'open' | 'close'): MethodDecorator {
  const decorator = `@TrackSession(${JSON.stringify(change)})`;
  return instrumentMethod(decorator, (at) => {
    const open = argument(at, 'change', quotedOneOf(['open', 'close'] as const), change) === 'open';
    return {
      decorator,
      name: 'TrackSession',
      identity: 'TrackSession',
      timed: false,
      needsArgs: false,
      writes: [VezaMetric.SessionsActive],
      steps: [VezaMetric.SessionsActive],
      build: ({ metrics }) => {
        const sessions = gaugeCell(metrics.get(VezaMetric.SessionsActive));
        return {
          end(outcome) {
            if (outcome !== SUCCESS) return;
            if (open) sessions.inc();
            else sessions.dec();
          },
        };
      },
    };
  });
}
