import { Counter, Registry } from 'prom-client';
import { Counted, InProgress, Timed } from '../../../src';
import { harness } from './harness';

/* @Counted, @Timed, @InProgress: the application's own metrics, created in its registry at start-up. */

const deferred = () => {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

class Mailer {
  pending: Array<ReturnType<typeof deferred>> = [];

  @Counted({
    name: 'app_emails_sent_total',
    help: 'Emails sent, by template and outcome',
    labelNames: ['template', 'outcome'],
    labels: ({ args: [template], outcome }) => ({ template: template as string, outcome }),
  })
  @Timed({
    name: 'app_email_duration_seconds',
    help: 'Time to send an email',
    buckets: [0.01, 0.1, 1],
    labelNames: ['transport'],
    labels: { transport: 'smtp' },
  })
  @InProgress({
    name: 'app_emails_in_flight',
    help: 'Emails being sent',
    labelNames: ['template'],
    labels: (template: string) => ({ template }),
  })
  send(_template: string): Promise<string> {
    const d = deferred();
    this.pending.push(d);
    return d.promise;
  }

  @Counted({ name: 'app_bounces_total', help: 'Bounces', on: 'failure' })
  @Counted({ name: 'app_delivered_total', help: 'Delivered', on: 'success' })
  deliver(ok: boolean): void {
    if (!ok) throw new Error('bounced');
  }
}

describe('generic decorators', () => {
  it('count, time and follow the calls in flight, with labels from the arguments and the outcome', async () => {
    const mailer = new Mailer();
    const h = harness([mailer]);
    try {
      const a = mailer.send('welcome');
      const b = mailer.send('welcome');
      const c = mailer.send('reset');
      expect(await h.value('app_emails_in_flight', { template: 'welcome' })).toBe(2);
      expect(await h.value('app_emails_in_flight', { template: 'reset' })).toBe(1);
      mailer.pending[0]?.resolve('ok');
      mailer.pending[1]?.reject(new Error('smtp down'));
      mailer.pending[2]?.resolve('ok');
      await a;
      await expect(b).rejects.toThrow('smtp down');
      await c;
      expect(await h.value('app_emails_in_flight', { template: 'welcome' })).toBe(0);
      expect(await h.value('app_emails_in_flight', { template: 'reset' })).toBe(0);
      expect(await h.value('app_emails_sent_total', { template: 'welcome', outcome: 'success' })).toBe(1);
      expect(await h.value('app_emails_sent_total', { template: 'welcome', outcome: 'failure' })).toBe(1);
      expect(await h.value('app_emails_sent_total', { template: 'reset', outcome: 'success' })).toBe(1);
      expect((await h.histogram('app_email_duration_seconds', { transport: 'smtp' }))?.count).toBe(3);
      mailer.deliver(true);
      expect(() => mailer.deliver(false)).toThrow('bounced');
      expect(() => mailer.deliver(false)).toThrow('bounced');
      expect(await h.value('app_delivered_total')).toBe(1);
      expect(await h.value('app_bounces_total')).toBe(2);
      const text = await h.metrics.registry.metrics();
      expect(text).toContain(
        '# HELP app_emails_sent_total Emails sent, by template and outcome\n# TYPE app_emails_sent_total counter',
      );
      expect(text).toContain('app_email_duration_seconds_bucket{le="0.01",transport="smtp"}');
    } finally {
      h.close();
    }
  });

  it('a metric of that name registered by other code fails the start-up, naming both', () => {
    const registry = new Registry();
    new Counter({ name: 'app_emails_sent_total', help: 'mine', registers: [registry] });
    expect(() => harness([new Mailer()], { registry })).toThrow(
      '@Counted("app_emails_sent_total") on "Mailer#send" could not be set up: @Counted("app_emails_sent_total") on "Mailer#send": ' +
        'metric "app_emails_sent_total" (counter{template,outcome} "Emails sent, by template and outcome") is already registered by other code as counter{} "mine"; ' +
        'rename one of them (the decorator creates its own metric).',
    );
  });

  it("two applications on one registry share the decorators' metrics, which leave the registry with the last one", async () => {
    const registry = new Registry();
    const one = new Mailer();
    const two = new Mailer();
    const h1 = harness([one], { registry });
    const h2 = harness([two], { registry });
    one.deliver(true);
    two.deliver(true);
    expect(await h1.value('app_delivered_total')).toBe(2);
    h1.close();
    expect(registry.getSingleMetric('app_delivered_total')).toBeDefined();
    h2.close();
    expect(registry.getSingleMetric('app_delivered_total')).toBeUndefined();
    expect(registry.getSingleMetric('veza_metrics_instrumentation_errors_total')).toBeUndefined();
  });

  it('an application closed and started again on its own registry starts from zero, without a clash', async () => {
    const registry = new Registry();
    const first = harness([new Mailer()], { registry });
    first.close();
    const again = new Mailer();
    const second = harness([again], { registry });
    again.deliver(true);
    expect(await second.value('app_delivered_total')).toBe(1);
    second.close();
  });
});
