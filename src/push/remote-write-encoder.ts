/**
 * Remote write 1.0's `WriteRequest` (prometheus/prompb remote.proto and types.proto) from the protobuf
 * exposition: the registry is read once, by the render `/metrics` uses (same metrics, series, labels,
 * default labels, scrape limits, event-loop slices, native parts), and its length-delimited
 * `MetricFamily` messages are turned here into `TimeSeries`, one sample each at the send's time:
 *
 * - a counter, gauge or untyped series: one series named as the family;
 * - a summary: `{quantile}` series, `_sum` and `_count`;
 * - a histogram: the classic `_bucket{le}` (cumulative, `+Inf` = count), `_sum` and `_count`, and,
 *   when it has a native part, also a native `Histogram` in a series named as the family.
 *
 * Labels are sorted by name with `__name__` among them (the spec's order: bytes, Prometheus' own),
 * labels with an empty value are left out (Prometheus treats them as absent), and `le` / `quantile`
 * are written as the text format writes them (`0.5`, `+Inf`), so a series is named exactly as a scrape
 * of `/metrics` names it.
 *
 * The exposition is read as the render wrote it, a list of 64 KiB chunks, never joined into one
 * buffer (joining the 3 MiB of an exposition at the caps held the event loop 10 to 20 ms in one
 * turn, and allocated a buffer of its size): a family is read field by field across the chunks, a
 * series' `Metric` where it lies (the render keeps one contiguous; one that is not is copied, its own
 * bytes only), and the work yields every `seriesPerPause` series when its slice of time is spent.
 */
import type { ProtoWriter } from '../exposition/protobuf-writer';

// metrics.proto (the exposition).
const FAMILY_NAME = 1;
const FAMILY_TYPE = 3;
const FAMILY_METRIC = 4;
const COUNTER = 0;
const GAUGE = 1;
const SUMMARY = 2;
const HISTOGRAM = 4;

// remote.proto / types.proto (remote write).
const REQUEST_TIMESERIES = 1;
const SERIES_LABEL = 1;
const SERIES_SAMPLE = 2;
const SERIES_HISTOGRAM = 4;

/** A field as read: varint or double value, or the bytes of a length-delimited one. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    from: number,
    readonly end: number,
  ) {
    this.pos = from;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated exposition');
      const byte = this.buf[this.pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error('bad varint in the exposition');
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new Error('truncated exposition');
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A length-delimited field: [start, end) of its bytes. */
  bytes(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new Error('truncated exposition');
    this.pos += length;
    return [start, this.pos];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`wire type ${wire} in the exposition`);
  }

  sub(range: [number, number]): Reader {
    return new Reader(this.buf, range[0], range[1]);
  }

  text(range: [number, number]): string {
    return this.buf.toString('utf8', range[0], range[1]);
  }
}

/**
 * The exposition as a list of parts, read in order without joining them: varints across part
 * boundaries, and the next `length` bytes as a {@link Reader} on the part that holds them (a copy of
 * those bytes only when they straddle two parts).
 */
class PartsReader {
  /** Bytes read so far, from the start of the first part. */
  offset = 0;
  readonly total: number;
  private index = 0;
  private pos = 0;

  constructor(private readonly parts: readonly Buffer[]) {
    let total = 0;
    for (const part of parts) total += part.length;
    this.total = total;
  }

  get done(): boolean {
    return this.offset >= this.total;
  }

  /** The part holding the next byte (moving past the parts read to their end). */
  private current(): Buffer {
    let part = this.parts[this.index];
    while (part !== undefined && this.pos >= part.length) {
      part = this.parts[++this.index];
      this.pos = 0;
    }
    if (part === undefined) throw new Error('truncated exposition');
    return part;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.current()[this.pos++];
      this.offset++;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error('bad varint in the exposition');
  }

  /** The next `length` bytes, which must end by `limit` (the end of the message they are in). */
  take(length: number, limit: number): Reader {
    if (this.offset + length > limit) throw new Error('truncated exposition');
    if (length === 0) return new Reader(Buffer.alloc(0), 0, 0);
    const part = this.current();
    if (this.pos + length <= part.length) {
      const reader = new Reader(part, this.pos, this.pos + length);
      this.pos += length;
      this.offset += length;
      return reader;
    }
    const copy = Buffer.allocUnsafe(length);
    for (let at = 0; at < length;) {
      const from = this.current();
      const n = Math.min(length - at, from.length - this.pos);
      from.copy(copy, at, this.pos, this.pos + n);
      at += n;
      this.pos += n;
    }
    this.offset += length;
    return new Reader(copy, 0, length);
  }

  /** Skips a field of wire type `wire`, which must end by `limit`. */
  skip(wire: number, limit: number): void {
    let length: number;
    if (wire === 0) return void this.varint();
    if (wire === 1) length = 8;
    else if (wire === 2) length = this.varint();
    else if (wire === 5) length = 4;
    else throw new Error(`wire type ${wire} in the exposition`);
    if (this.offset + length > limit) throw new Error('truncated exposition');
    for (let left = length; left > 0;) {
      const part = this.current();
      const n = Math.min(left, part.length - this.pos);
      this.pos += n;
      left -= n;
    }
    this.offset += length;
  }
}

type Label = readonly [name: string, value: string];

/** The text format's number: `+Inf`, `-Inf`, `NaN`, else JavaScript's shortest form. */
function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const byName = (a: Label, b: Label): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * One `TimeSeries` with one sample. `labels` are the series' own (sorted, empty values dropped),
 * `name` goes in as `__name__`, `extra` (`le`, `quantile`) in its place.
 */
function sampleSeries(
  w: ProtoWriter,
  name: string,
  labels: readonly Label[],
  extra: Label | undefined,
  value: number,
  timestampMs: number,
): void {
  w.unit();
  w.fork(REQUEST_TIMESERIES, 2);
  writeLabels(w, name, labels, extra);
  w.fork(SERIES_SAMPLE);
  w.double(1, value);
  w.int64(2, timestampMs);
  w.join();
  w.join();
}

function writeLabels(w: ProtoWriter, name: string, labels: readonly Label[], extra: Label | undefined): void {
  // `labels` are sorted: `__name__` and `extra` go in their places as they come.
  let nameDone = false;
  let extraDone = extra === undefined;
  for (const label of labels) {
    if (!nameDone && label[0] > '__name__') {
      labelPair(w, '__name__', name);
      nameDone = true;
    }
    if (!extraDone && label[0] > (extra as Label)[0]) {
      labelPair(w, (extra as Label)[0], (extra as Label)[1]);
      extraDone = true;
    }
    labelPair(w, label[0], label[1]);
  }
  if (!nameDone && !extraDone && (extra as Label)[0] < '__name__') {
    labelPair(w, (extra as Label)[0], (extra as Label)[1]);
    extraDone = true;
  }
  if (!nameDone) labelPair(w, '__name__', name);
  if (!extraDone) labelPair(w, (extra as Label)[0], (extra as Label)[1]);
}

function labelPair(w: ProtoWriter, name: string, value: string): void {
  if (value === '') return;
  w.fork(SERIES_LABEL);
  w.string(1, name);
  w.string(2, value);
  w.join();
}

/** Reads a `Metric`'s labels and the range of its typed value message. */
function readMetric(r: Reader): { labels: Label[]; value?: [number, number]; field: number } {
  const labels: Label[] = [];
  let value: [number, number] | undefined;
  let field = 0;
  while (r.pos < r.end) {
    const key = r.varint();
    const f = Math.floor(key / 8);
    const wire = key & 7;
    if (f === 1 && wire === 2) {
      const pair = r.sub(r.bytes());
      let labelName = '';
      let labelValue = '';
      while (pair.pos < pair.end) {
        const k = pair.varint();
        if (k === 10) labelName = pair.text(pair.bytes());
        else if (k === 18) labelValue = pair.text(pair.bytes());
        else pair.skip(k & 7);
      }
      labels.push([labelName, labelValue]);
    } else if (f >= 2 && f <= 7 && f !== 6 && wire === 2) {
      value = r.bytes();
      field = f;
    } else r.skip(wire);
  }
  labels.sort(byName);
  return { labels, value, field };
}

/** A `Gauge` / `Counter` / `Untyped` message's value (field 1). */
function simpleValue(r: Reader): number {
  let value = 0;
  while (r.pos < r.end) {
    const key = r.varint();
    if (key === 9) value = r.double();
    else r.skip(key & 7);
  }
  return value;
}

/** Native fields of the exposition's `Histogram` (5..14) → field numbers of remote write's. */
const NATIVE_FIELD: Readonly<Record<number, number>> = {
  5: 4, // schema (sint32)
  6: 5, // zero_threshold (double)
  7: 6, // zero_count (uint64)
  8: 7, // zero_count_float (double)
  9: 8, // negative spans (BucketSpan: same fields)
  10: 9, // negative deltas (sint64)
  11: 10, // negative counts (double)
  12: 11, // positive spans
  13: 12, // positive deltas
  14: 13, // positive counts
};

function histogram(
  w: ProtoWriter,
  r: Reader,
  name: string,
  labels: readonly Label[],
  timestampMs: number,
): void {
  let count = 0;
  let sum = 0;
  const buckets: Array<[bound: number, count: number]> = [];
  let native = false;
  const start = r.pos;
  while (r.pos < r.end) {
    const key = r.varint();
    const f = Math.floor(key / 8);
    const wire = key & 7;
    if (key === 8) count = r.varint();
    else if (key === 33) count = r.double();
    else if (key === 17) sum = r.double();
    else if (f === 3 && wire === 2) {
      const b = r.sub(r.bytes());
      let cumulative = 0;
      let bound = Infinity;
      while (b.pos < b.end) {
        const k = b.varint();
        if (k === 8) cumulative = b.varint();
        else if (k === 33) cumulative = b.double();
        else if (k === 17) bound = b.double();
        else b.skip(k & 7);
      }
      buckets.push([bound, cumulative]);
    } else {
      if (NATIVE_FIELD[f] !== undefined) native = true;
      r.skip(wire);
    }
  }
  // Classic: the exposition's buckets end with +Inf (the count); one is added if not.
  let sawInf = false;
  for (const [bound, cumulative] of buckets) {
    if (bound === Infinity) sawInf = true;
    sampleSeries(w, `${name}_bucket`, labels, ['le', formatNumber(bound)], cumulative, timestampMs);
  }
  if (!sawInf) sampleSeries(w, `${name}_bucket`, labels, ['le', '+Inf'], count, timestampMs);
  sampleSeries(w, `${name}_sum`, labels, undefined, sum, timestampMs);
  sampleSeries(w, `${name}_count`, labels, undefined, count, timestampMs);
  if (!native) return;
  // Native: the same message, fields renumbered (remote write's Histogram).
  w.unit();
  w.fork(REQUEST_TIMESERIES, 2);
  writeLabels(w, name, labels, undefined);
  w.fork(SERIES_HISTOGRAM, 2);
  if (Number.isSafeInteger(count) && count >= 0) w.uint(1, count);
  else w.double(2, count);
  w.double(3, sum);
  r.pos = start;
  while (r.pos < r.end) {
    const key = r.varint();
    const f = Math.floor(key / 8);
    const wire = key & 7;
    const to = NATIVE_FIELD[f];
    if (to === undefined) {
      r.skip(wire);
      continue;
    }
    if (wire === 0) {
      const value = r.varint();
      if (f === 5 || f === 10 || f === 13) w.sint(to, value % 2 === 0 ? value / 2 : -(value + 1) / 2);
      else w.uint(to, value);
    } else if (wire === 1) w.double(to, r.double());
    else if (wire === 2) {
      // A span: offset (sint32) and length (uint32), the same numbers in both schemas.
      const span = r.sub(r.bytes());
      let offset = 0;
      let length = 0;
      while (span.pos < span.end) {
        const k = span.varint();
        if (k === 8) offset = span.varint();
        else if (k === 16) length = span.varint();
        else span.skip(k & 7);
      }
      w.fork(to);
      if (offset !== 0) w.uint(1, offset); // zigzag as read
      if (length !== 0) w.uint(2, length);
      w.join();
    } else r.skip(wire);
  }
  w.int64(15, timestampMs);
  w.join();
  w.join();
}

function summary(
  w: ProtoWriter,
  r: Reader,
  name: string,
  labels: readonly Label[],
  timestampMs: number,
): void {
  let count = 0;
  let sum = 0;
  while (r.pos < r.end) {
    const key = r.varint();
    if (key === 8) count = r.varint();
    else if (key === 17) sum = r.double();
    else if (key === 26) {
      const q = r.sub(r.bytes());
      let quantile = 0;
      let value = 0;
      while (q.pos < q.end) {
        const k = q.varint();
        if (k === 9) quantile = q.double();
        else if (k === 17) value = q.double();
        else q.skip(k & 7);
      }
      sampleSeries(w, name, labels, ['quantile', formatNumber(quantile)], value, timestampMs);
    } else r.skip(key & 7);
  }
  sampleSeries(w, `${name}_sum`, labels, undefined, sum, timestampMs);
  sampleSeries(w, `${name}_count`, labels, undefined, count, timestampMs);
}

/**
 * One family's time series (its message ends at `end`), awaiting `pause` every `every` series. Its
 * series are gathered first (where they lie), since its name and type may come after them.
 */
async function family(
  w: ProtoWriter,
  r: PartsReader,
  end: number,
  timestampMs: number,
  pause: () => Promise<void>,
  every: number,
): Promise<void> {
  let name = '';
  let type = 3;
  const metrics: Reader[] = [];
  while (r.offset < end) {
    const key = r.varint();
    if (key === FAMILY_NAME * 8 + 2) {
      const text = r.take(r.varint(), end);
      name = text.text([text.pos, text.end]);
    } else if (key === FAMILY_TYPE * 8) type = r.varint();
    else if (key === FAMILY_METRIC * 8 + 2) {
      metrics.push(r.take(r.varint(), end));
      if (metrics.length % every === 0) await pause();
    } else r.skip(key & 7, end);
  }
  if (r.offset !== end) throw new Error('truncated exposition');
  for (let i = 0; i < metrics.length; i++) {
    if (i % every === every - 1) await pause();
    const metric = readMetric(metrics[i]);
    if (!metric.value) continue;
    const body = metrics[i].sub(metric.value);
    if (type === HISTOGRAM && metric.field === 7) histogram(w, body, name, metric.labels, timestampMs);
    else if (type === SUMMARY && metric.field === 4) summary(w, body, name, metric.labels, timestampMs);
    else if (
      type === COUNTER ||
      type === GAUGE ||
      metric.field === 2 ||
      metric.field === 3 ||
      metric.field === 5
    )
      sampleSeries(w, name, metric.labels, undefined, simpleValue(body), timestampMs);
  }
}

/**
 * Writes the `WriteRequest` for the exposition `exposition` (length-delimited `MetricFamily`
 * messages, in the parts the render wrote them in) into `w`, every sample at `timestampMs`; `pause`
 * is awaited after every family and every `seriesPerPause` series of one (it yields when the slice
 * of work is spent, as the render's).
 */
export async function encodeWriteRequest(
  w: ProtoWriter,
  exposition: readonly Buffer[],
  timestampMs: number,
  pause: () => Promise<void>,
  seriesPerPause = 32,
): Promise<void> {
  const r = new PartsReader(exposition);
  while (!r.done) {
    const length = r.varint();
    const end = r.offset + length;
    if (end > r.total) throw new Error('truncated exposition');
    await family(w, r, end, timestampMs, pause, seriesPerPause);
    await pause();
  }
}
