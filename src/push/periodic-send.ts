/**
 * What the Pushgateway push (metrics-pusher.ts) and remote write (remote-writer.ts) share: the
 * interval timer, the final send after the HTTP server has closed (with the registry's metrics noted
 * before Nest cleared it), and failures counted by reason and logged once per kind until a send
 * succeeds again. Each owner keeps its own queueing rule (what an interval does while a send is on
 * its way) and its own request.
 */
import { Logger } from '@nestjs/common';
import type { AnyMetric as Metric, CounterMetric as Counter, MetricsRegistry } from '../compat/client-types';
import { metricsOf } from '../compat/metrics-client';
import { errorText } from '../veza-metrics.messages';
import type { AppRegistry } from '../registry/app-registry';

/**
 * The longest the final push waits for the HTTP server to close (its in-flight responses to finish)
 * before it pushes anyway; it pushes again once the server is closed.
 */
export const FINAL_PUSH_WAIT_MS = 10_000;

/** The longest part of a failed answer's body kept for the log line. */
export const MAX_DETAIL = 300;

/** A failed send, with the `reason` label it is counted under. */
export class SendFailure<Reason extends string> extends Error {
  constructor(
    readonly reason: Reason,
    detail: string,
  ) {
    super(detail);
  }
}

/** How one owner sends: see {@link PeriodicSend}. */
export interface PeriodicSendPlan<Reason extends string> {
  /** Send every `intervalMs` while the application runs (`undefined`: no periodic send). */
  readonly intervalMs: number | undefined;
  /** Send once more when the application closes. */
  readonly finalSend: boolean;
  /** What log lines name (no credentials, no query). */
  readonly target: string;
  /** The log line of a failure of a kind not logged since the last success. */
  readonly failed: (target: string, reason: Reason, detail: string) => string;
  /** The log line of the first success after a failure. */
  readonly recovered: (target: string) => string;
  /** What an interval does: start a send, or skip it while one is on its way. */
  readonly tick: () => void;
  /** Sends `snapshot` (or the registry's metrics when it is empty) after any send on its way; never rejects. */
  readonly send: (snapshot: readonly Metric[]) => Promise<boolean>;
  /** The send on its way (settled when there is none): closing waits for it. */
  readonly settled: () => Promise<unknown>;
}

/**
 * The lifecycle of a periodic sender, driven by its owner's Nest hooks: `start` (bootstrap), `stop`
 * (module destroy), `beforeShutdown`, `shutdown` (application shutdown). Inert without a plan.
 */
export class PeriodicSend<Reason extends string> {
  private readonly logger = new Logger('VezaMetrics');
  private readonly logged = new Set<Reason>();
  private timer: NodeJS.Timeout | undefined;
  /** The registry's metrics as they were just before the module destroyed it (see `stop`). */
  private snapshot: Metric[] = [];
  private finalSendDone = false;
  /** Sends at `FINAL_PUSH_WAIT_MS` when the HTTP server takes longer than that to close. */
  private waitTimer: NodeJS.Timeout | undefined;

  /** Lets the module clear its registry once the final send is done (see `start`). */
  private release: (() => void) | undefined;

  constructor(
    private readonly app: AppRegistry,
    private readonly plan: PeriodicSendPlan<Reason> | undefined,
    private readonly failures: Counter<'reason'> | undefined,
  ) {}

  /**
   * Starts the periodic send, when the plan has an interval (the timer never keeps the process
   * alive); with a final send, keeps the module's registry until it is done: Nest 10 and 11 call
   * every provider's `onModuleDestroy` at once, the registry's own (which clears it) first.
   */
  start(): void {
    if (this.plan?.finalSend && !this.release)
      this.app.keepUntil(new Promise<void>((resolve) => (this.release = resolve)));
    const interval = this.plan?.intervalMs;
    if (interval === undefined || this.timer) return;
    const tick = (this.plan as PeriodicSendPlan<Reason>).tick;
    this.timer = setInterval(tick, interval);
    this.timer.unref();
  }

  /**
   * Stops the periodic send, and notes the registry's metrics: Nest destroys the owner before the
   * registry it depends on, which clears the registry it owns.
   */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.plan?.finalSend) this.snapshot = metricsOf(this.app.registry);
  }

  /**
   * Nest closes the HTTP server next (it stops accepting, and waits for the responses in flight):
   * the final send waits for that (see `shutdown`), but sends at `FINAL_PUSH_WAIT_MS` anyway, so
   * that a response that never ends (a stream, a hung client) cannot cost the whole send when the
   * process is killed at the end of its grace period.
   */
  beforeShutdown(): void {
    const plan = this.plan;
    if (!plan?.finalSend || this.finalSendDone || this.waitTimer) return;
    this.waitTimer = setTimeout(() => void plan.send(this.snapshot), FINAL_PUSH_WAIT_MS);
    this.waitTimer.unref();
  }

  /**
   * The final send: after every `onModuleDestroy` hook of the application has run (what a job records
   * while it shuts down is in it) and once the HTTP server is closed (so are the requests that were
   * in flight when the shutdown began). Without one, a send on its way ends first (within its
   * `timeoutMs`): nothing of a closed application is sent after `app.close()`.
   */
  async shutdown(): Promise<void> {
    clearTimeout(this.waitTimer);
    try {
      await this.finalSend();
    } finally {
      this.release?.();
      this.release = undefined;
    }
  }

  private async finalSend(): Promise<void> {
    const plan = this.plan;
    if (!plan) return;
    if (!plan.finalSend || this.finalSendDone) {
      await plan.settled();
      return;
    }
    this.finalSendDone = true;
    await plan.send(this.snapshot);
    this.snapshot = [];
  }

  /** A send failed: counted under its reason, logged when no failure of that kind was since the last success. */
  failed(reason: Reason, error: unknown): void {
    this.count(reason);
    const plan = this.plan;
    if (!plan || this.logged.has(reason)) return;
    this.logged.add(reason);
    this.logger.warn(plan.failed(plan.target, reason, errorText(error)));
  }

  /** A send did not happen (counted, never logged). */
  count(reason: Reason): void {
    try {
      this.failures?.inc({ reason });
    } catch {
      // The registry may be gone at shutdown: the count is lost, never thrown.
    }
  }

  /** A send succeeded: logged when failures were, and every kind may be logged again. */
  succeeded(): void {
    if (this.logged.size === 0 || !this.plan) return;
    this.logged.clear();
    this.logger.log(this.plan.recovered(this.plan.target));
  }
}

/**
 * `render()`, with the module's registry as the application had it: at shutdown that registry is
 * already cleared, so the metrics noted before (`snapshot`, still counting) go back in for the time
 * of the render, with the module's default labels, and out again after. Shared by the Pushgateway
 * push and remote write.
 */
export async function withShutdownSnapshot<T>(
  registry: MetricsRegistry,
  defaultLabels: Readonly<Record<string, string>>,
  snapshot: readonly Metric[],
  render: () => Promise<T>,
): Promise<T> {
  if (snapshot.length === 0 || registry.getMetricsAsArray().length > 0) return render();
  for (const metric of snapshot) registry.registerMetric(metric);
  if (Object.keys(defaultLabels).length > 0) registry.setDefaultLabels({ ...defaultLabels });
  try {
    return await render();
  } finally {
    registry.clear();
  }
}

/** A network error as a log detail: its code in front when the message does not name it. */
export function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
