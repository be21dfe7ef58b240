import type { ServerResponse } from 'node:http';

/** The limits every scrape of one endpoint shares. */
export interface ScrapeLimits {
  /** Scrapes rendered at once. */
  readonly maxConcurrent: number;
  /** Bytes of exposition held by scrapes being rendered or sent, all scrapes together. */
  readonly maxBytesInFlight: number;
  /** How long sending one exposition may take before its connection is destroyed. */
  readonly sendTimeoutMs: number;
}

/** Why a scrape was refused before rendering (the `reason` of `veza_metrics_scrapes_rejected_total`). */
export type ScrapeRefusal = 'concurrency' | 'bytes_in_flight' | 'shutdown';

/** Why a scrape's connection was destroyed while sending (the `reason` of `veza_metrics_scrapes_aborted_total`). */
export type ScrapeAbort = 'send_timeout' | 'shutdown';

/**
 * The least a scrape counts for in bytes in flight (one render chunk): so that the number of
 * scrapes in flight is bounded by `maxBytesInFlight / 64 KiB` even when the exposition is tiny.
 */
const MIN_SCRAPE_BYTES = 1 << 16;

interface ClientShare {
  renders: number;
  bytes: number;
}

/** One admitted scrape: it holds a render slot until rendered, then its bytes until sent, timed out or gone. */
export interface ScrapeLease {
  /**
   * The render is done and weighs `bytes`. Returns `false` when those bytes do not fit within the
   * bound (the exposition grew meanwhile) or the endpoint is closing: the lease is then released
   * and the scrape must be answered 503.
   */
  rendered(bytes: number): boolean;
  /**
   * The answer goes out on `res`: the bytes stay held until it finishes or closes; past the send
   * timeout, or when the endpoint closes, its connection is destroyed.
   */
  send(res: ServerResponse): void;
  /** Gives back the slot and the bytes. Idempotent. */
  release(): void;
}

/**
 * Admission and release of scrapes. Three bounds:
 * - at most `maxConcurrent` renders at once;
 * - at most `maxBytesInFlight` bytes of exposition held by scrapes being rendered or sent (a single
 *   exposition bigger than that is still served, alone); a scrape that would not fit is refused
 *   before rendering, its size estimated from the last render;
 * - a send lasts at most `sendTimeoutMs`, then its connection is destroyed and its bytes released.
 * When `fair` (no credentials configured: anyone may scrape), one client address holds at most
 * `maxConcurrent - 1` renders (when `maxConcurrent` is 2 or more) and half the bytes, so that a
 * client looping on the endpoint leaves room for another (Prometheus).
 * `close()` destroys every send in flight and refuses new scrapes: a slow reader never holds
 * `app.close()`.
 */
export class ScrapeLimiter {
  private renders = 0;
  private bytes = 0;
  private lastSize = 0;
  private closed = false;
  /** Bound: one entry per client address with a scrape in flight, deleted when its last one ends. */
  private readonly clients = new Map<string, ClientShare>();
  /**
   * Bound: scrapes in flight; each holds at least 64 KiB of the byte bound, so at most
   * `maxBytesInFlight / 64 KiB + maxConcurrent` of them; released when the send ends.
   */
  private readonly leases = new Set<Lease>();

  constructor(
    readonly limits: ScrapeLimits,
    private readonly fair: boolean,
    private readonly onAbort: (reason: ScrapeAbort) => void = () => undefined,
  ) {}

  /** Bytes of exposition held by scrapes in flight (what the bound applies to). */
  get bytesInFlight(): number {
    return this.bytes;
  }

  /** Scrapes in flight, and client addresses they come from (what the two maps hold). */
  get inFlight(): { scrapes: number; clients: number } {
    return { scrapes: this.leases.size, clients: this.clients.size };
  }

  /** A lease for a scrape from `client` (its address), or why it is refused. */
  admit(client: string): ScrapeLease | ScrapeRefusal {
    if (this.closed) return 'shutdown';
    const { maxConcurrent, maxBytesInFlight } = this.limits;
    const share = this.clients.get(client);
    if (this.renders >= maxConcurrent) return 'concurrency';
    if (this.fair && maxConcurrent >= 2 && (share?.renders ?? 0) >= maxConcurrent - 1) return 'concurrency';
    const estimate = Math.max(this.lastSize, MIN_SCRAPE_BYTES);
    if (this.bytes > 0 && this.bytes + estimate > maxBytesInFlight) return 'bytes_in_flight';
    if (this.fair && share && share.bytes + estimate > maxBytesInFlight / 2) return 'bytes_in_flight';
    const lease = new Lease(this, client, share ?? { renders: 0, bytes: 0 }, estimate);
    this.clients.set(client, lease.share);
    this.leases.add(lease);
    this.renders++;
    lease.share.renders++;
    this.move(lease, estimate);
    return lease;
  }

  /** Refuses new scrapes and destroys the connection of every scrape being sent. */
  close(): void {
    this.closed = true;
    for (const lease of [...this.leases]) lease.abort('shutdown');
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Moves `bytes` (may be negative) into the lease's account. */
  move(lease: Lease, bytes: number): void {
    this.bytes += bytes;
    lease.share.bytes += bytes;
  }

  /** @internal The render of `lease` is done; whether its bytes fit. */
  renderDone(lease: Lease, size: number): boolean {
    this.renders--;
    lease.share.renders--;
    this.lastSize = size;
    const weight = Math.max(size, MIN_SCRAPE_BYTES);
    this.move(lease, weight - lease.weight);
    lease.weight = weight;
    return !this.closed && (this.bytes <= this.limits.maxBytesInFlight || this.bytes === weight);
  }

  /** @internal */
  remove(lease: Lease, rendering: boolean): void {
    if (!this.leases.delete(lease)) return;
    if (rendering) {
      this.renders--;
      lease.share.renders--;
    }
    this.move(lease, -lease.weight);
    if (lease.share.renders === 0 && lease.share.bytes === 0) this.clients.delete(lease.client);
  }

  /** @internal */
  aborted(reason: ScrapeAbort): void {
    this.onAbort(reason);
  }
}

class Lease implements ScrapeLease {
  private rendering = true;
  private timer: NodeJS.Timeout | undefined;
  private res: ServerResponse | undefined;
  private done = false;

  constructor(
    private readonly limiter: ScrapeLimiter,
    readonly client: string,
    readonly share: ClientShare,
    public weight: number,
  ) {}

  rendered(bytes: number): boolean {
    if (this.done || !this.rendering) return !this.done;
    this.rendering = false;
    if (this.limiter.renderDone(this, bytes)) return true;
    this.release();
    return false;
  }

  send(res: ServerResponse): void {
    if (this.done) return;
    if (this.limiter.isClosed) {
      this.res = res;
      this.abort('shutdown');
      return;
    }
    if (res.writableFinished || res.destroyed) {
      this.release();
      return;
    }
    this.res = res;
    const release = (): void => this.release();
    res.once('finish', release).once('close', release);
    this.timer = setTimeout(() => this.abort('send_timeout'), this.limiter.limits.sendTimeoutMs);
    this.timer.unref();
  }

  /** Destroys the connection of a send in flight (a lease still rendering is refused by `rendered`). */
  abort(reason: ScrapeAbort): void {
    const res = this.res;
    if (this.done || !res) return;
    this.limiter.aborted(reason);
    this.release();
    res.destroy();
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.res = undefined;
    this.limiter.remove(this, this.rendering);
    this.rendering = false;
  }
}
