/**
 * Issue 21 item 5: a label function that returns an object with many keys (a request body) costs
 * O(label names) per call, not O(keys of the object): its keys are listed at most once per decorated
 * method, and what is wrong with it is reported once. Asserted by counting how often the object's
 * keys are listed (a Proxy's `ownKeys` trap), never by timing.
 */
import { Counted, InProgress, Timed } from '../../../src';
import { captureWarnings, harness } from './harness';

const KEYS = 50_000;
const CALLS = 200;

/** A request body of `KEYS` keys and `plan`, with a count of how many times its keys were listed. */
function body(plan: unknown): { body: Record<string, unknown>; listed: () => number } {
  const target: Record<string, unknown> = {};
  for (let i = 0; i < KEYS; i++) target[`field${i}`] = i;
  target.plan = plan;
  let listed = 0;
  const proxy = new Proxy(target, {
    ownKeys(t) {
      listed++;
      return Reflect.ownKeys(t);
    },
  });
  return { body: proxy, listed: () => listed };
}

class Checkout {
  @Counted({
    name: 'app_checkouts_total',
    help: 'Checkouts by plan',
    labelNames: ['plan'],
    labels: ({ args: [request] }) => request as Record<string, string>,
  })
  counted(_request: unknown): string {
    return 'ok';
  }

  @Timed({
    name: 'app_checkout_seconds',
    help: 'Checkout time by plan and region',
    labelNames: ['plan', 'field7'],
    labels: ({ args: [request] }) => request as Record<string, string>,
  })
  timed(_request: unknown): string {
    return 'ok';
  }

  @InProgress({
    name: 'app_checkouts_in_progress',
    help: 'Checkouts running, by plan',
    labelNames: ['plan'],
    labels: (request: unknown) => request as Record<string, string>,
  })
  inProgress(_request: unknown): string {
    return 'ok';
  }

  @Counted({
    name: 'app_checkout_bodies_total',
    help: 'A label function that returns the body as a label value',
    labelNames: ['plan'],
    labels: ({ args: [request] }) => ({ plan: request as string }),
  })
  bodyAsValue(_request: unknown): string {
    return 'ok';
  }
}

describe('label functions that return objects with many keys', () => {
  it(`@Counted, @Timed, @InProgress: ${CALLS} calls with a ${KEYS}-key body list its keys once per method, record every call under the declared labels, and report the extra names once`, async () => {
    const warnings = captureWarnings();
    const checkout = new Checkout();
    const h = harness([checkout]);
    try {
      const counted = body('pro');
      const timed = body('pro');
      const inProgress = body('pro');
      for (let i = 0; i < CALLS; i++) {
        expect(checkout.counted(counted.body)).toBe('ok');
        timed.body.field7 = 'eu';
        expect(checkout.timed(timed.body)).toBe('ok');
        expect(checkout.inProgress(inProgress.body)).toBe('ok');
      }
      expect([counted.listed(), timed.listed(), inProgress.listed()]).toEqual([1, 1, 1]);
      expect(await h.value('app_checkouts_total', { plan: 'pro' })).toBe(CALLS);
      expect((await h.histogram('app_checkout_seconds', { plan: 'pro', field7: 'eu' }))?.count).toBe(CALLS);
      expect(await h.value('app_checkouts_in_progress', { plan: 'pro' })).toBe(0);
      const names = Array.from({ length: 10 }, (_, i) => `field${i}`).join(', ');
      expect(warnings.messages).toEqual([
        `@Counted on "Checkout#counted" recorded its calls, but its label function returned {${names}, ... ${KEYS - 9} more}, names beyond the label names {plan}: only those are read, the others are ignored (logged once, counted in veza_metrics_instrumentation_errors_total)`,
        `@Timed on "Checkout#timed" recorded its calls, but its label function returned {${names}, ... ${KEYS - 9} more}, names beyond the label names {plan, field7}: only those are read, the others are ignored (logged once, counted in veza_metrics_instrumentation_errors_total)`,
        `@InProgress on "Checkout#inProgress" recorded its calls, but its label function returned {${names}, ... ${KEYS - 9} more}, names beyond the label names {plan}: only those are read, the others are ignored (logged once, counted in veza_metrics_instrumentation_errors_total)`,
      ]);
    } finally {
      h.close();
      warnings.restore();
    }
  });

  it(`a ${KEYS}-key body given as a label value: ${CALLS} calls refused (the calls themselves unaffected), its keys listed once, reported once`, async () => {
    const warnings = captureWarnings();
    const checkout = new Checkout();
    const h = harness([checkout]);
    try {
      const request = body('pro');
      for (let i = 0; i < CALLS; i++) expect(checkout.bodyAsValue(request.body)).toBe('ok');
      // The one message describes the value once (JSON lists its keys once); the other calls build none.
      expect(request.listed()).toBe(1);
      expect(await h.value('app_checkout_bodies_total', { plan: 'pro' })).toBeUndefined();
      expect(await h.value('veza_metrics_instrumentation_errors_total')).toBe(CALLS);
      expect(warnings.messages).toHaveLength(1);
      expect(warnings.messages[0]).toMatch(
        /^@Counted on "Checkout#bodyAsValue" could not record this call \(the call itself was not affected; logged once, counted in veza_metrics_instrumentation_errors_total\): label "plan" must be a string, got an object \(\{"field0":0,/,
      );
    } finally {
      h.close();
      warnings.restore();
    }
  });
});
