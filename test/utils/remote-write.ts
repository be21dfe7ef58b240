/**
 * Decoding of remote write 1.0 bodies in tests: snappy (test/utils/snappy-decode.ts), then the
 * `WriteRequest` with protobufjs and test/fixtures/remote-write.proto (prompb's wire schema).
 */
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { snappyDecompress } from './snappy-decode';

const root = protobuf.loadSync(join(__dirname, '..', 'fixtures', 'remote-write.proto'));
const WriteRequest = root.lookupType('prometheus.WriteRequest');

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface DecodedSeries {
  labels: Array<{ name: string; value: string }>;
  samples: Array<{ value: number; timestamp: number }>;
  histograms: Array<Record<string, any>>;
}

/** The time series of an uncompressed `WriteRequest`. */
export function decodeWriteRequest(body: Uint8Array): DecodedSeries[] {
  const message = WriteRequest.decode(body);
  const object = WriteRequest.toObject(message, {
    longs: Number,
    defaults: true,
    arrays: true,
    oneofs: true,
  });
  return (object.timeseries as any[]).map((s) => ({
    labels: s.labels,
    samples: s.samples,
    histograms: s.histograms,
  }));
}

/** The time series of a snappy-compressed `WriteRequest` (what goes over the wire). */
export function decodeCompressedWriteRequest(body: Uint8Array): DecodedSeries[] {
  return decodeWriteRequest(snappyDecompress(body));
}

/** `name{a="1",…} value` lines of the series' samples (labels in their order), for comparisons. */
export function seriesLines(series: readonly DecodedSeries[]): string[] {
  const out: string[] = [];
  for (const s of series) {
    const name = s.labels.find((l) => l.name === '__name__')?.value ?? '';
    const rest = s.labels
      .filter((l) => l.name !== '__name__')
      .map((l) => `${l.name}="${l.value}"`)
      .join(',');
    for (const sample of s.samples) out.push(`${name}${rest ? `{${rest}}` : ''} ${sample.value}`);
  }
  return out;
}
