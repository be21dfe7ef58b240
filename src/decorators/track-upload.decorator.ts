import { VezaMetric } from '../catalog/catalog';
import { FAILURE, SUCCESS } from '../instrumentation/instrument';
import { amount, applyArgs, argsArray, labelFrom, readSafely, CellCache } from '../instrumentation/labels';
import { counterCell, histogramCell } from '../instrumentation/cells';
import { decoratorOptions, optionalFunction, stringOrFunction } from '../instrumentation/decorator-options';
import { fail } from '../options/option-schema';
import { instrumentMethod } from '../instrumentation/instrument-method';
import { shapeOf } from '../options/option-schema';
import type { AnyArgs, AnyResult } from '../instrumentation/loose-types';

/** The bounded reasons of `veza_uploads_failed_total` the default classification gives. */
export type UploadFailureReason = 'ClamAV' | 'validation' | 'quota' | 'other';

/** Options of {@link TrackUpload}. */
export interface TrackUploadOptions<A extends unknown[] = AnyArgs, R = AnyResult> {
  /** The `type` label (`audio`, `image`, …): a constant, or a function of the method's arguments. */
  type: string | ((...args: A) => string);
  /** The size in bytes, from the arguments or the result. Without it, no size is observed. */
  size?: (call: { args: A; result: R }) => number;
  /**
   * The `reason` of a failed upload. Keep it bounded.
   * @defaultValue the error's `reason` when it is one of `ClamAV`, `validation`, `quota`; HTTP 400/422
   * (or a `ValidationError`) → `validation`; HTTP 413/507 → `quota`; anything else → `other`
   */
  failureReason?: (error: unknown, ...args: A) => string;
}

const REASONS: readonly string[] = ['ClamAV', 'validation', 'quota'];

function callSafely(fn: (...args: unknown[]) => unknown, self: unknown): unknown {
  try {
    return fn.call(self);
  } catch {
    return undefined;
  }
}

/**
 * The default, bounded classification of a failed upload, what `@TrackUpload()` uses without a
 * `failureReason`: the error's `reason` when it is `ClamAV`, `validation` or `quota`; HTTP 400 or 422
 * (or a `ValidationError`) is `validation`; HTTP 413 or 507 is `quota`; anything else is `other`.
 *
 * @example
 * ```ts
 * // Name one more failure, and keep the default classification for the others.
 * @TrackUpload({ type: 'audio', failureReason: (e) => (e instanceof StorageFullError ? 'quota' : uploadFailureReason(e)) })
 * ```
 */
export function uploadFailureReason(error: unknown): UploadFailureReason {
  if (typeof error !== 'object' || error === null) return 'other';
  // Each property read may run a getter of the error: one that throws counts as absent.
  const reason = readSafely(error, 'reason');
  if (typeof reason === 'string' && REASONS.includes(reason)) return reason as UploadFailureReason;
  const getStatus = readSafely(error, 'getStatus');
  const code =
    typeof getStatus === 'function'
      ? callSafely(getStatus as (...args: unknown[]) => unknown, error)
      : readSafely(error, 'status');
  const name = readSafely(error, 'name');
  if (code === 400 || code === 422 || name === 'ValidationError') return 'validation';
  if (code === 413 || code === 507) return 'quota';
  return 'other';
}

/** The rules of {@link TrackUploadOptions}; the options themselves are required. */
export const TRACK_UPLOAD_OPTIONS_SCHEMA = decoratorOptions(
  shapeOf<TrackUploadOptions>()({
    type: stringOrFunction<(...args: unknown[]) => string>(),
    size: optionalFunction<(call: { args: unknown[]; result: unknown }) => unknown>(),
    failureReason: optionalFunction<(error: unknown, ...args: unknown[]) => unknown>(),
  }),
);

/**
 * Records a file upload: `veza_file_uploads_total{type, status}` (`success` or `failure`), its size
 * in `veza_file_upload_size_bytes{type}` on success when `size` says it, and on failure
 * `veza_uploads_failed_total{reason}` with a bounded reason.
 *
 * @example
 * ```ts
 * @TrackUpload<[UploadedFile]>({ type: (file) => file.kind, size: ({ args: [file] }) => file.bytes.length })
 * async upload(file: UploadedFile): Promise<StoredFile> { ... }
 * ```
 */
export function TrackUpload<A extends unknown[] = AnyArgs, R = AnyResult>(
  options: TrackUploadOptions<A, R>,
): MethodDecorator {
  return instrumentMethod('@TrackUpload()', (at) => {
    if (options === undefined) fail(at, '{ type, size?, failureReason? }', options);
    const opts = TRACK_UPLOAD_OPTIONS_SCHEMA.resolve(options, at, {});
    const type = opts.type as string | ((...args: A) => string);
    const size = opts.size as ((call: { args: A; result: R }) => unknown) | undefined;
    const reasonOf = opts.failureReason as ((error: unknown, ...args: A) => unknown) | undefined;
    return {
      decorator: '@TrackUpload()',
      name: 'TrackUpload',
      identity: 'TrackUpload',
      timed: false,
      needsArgs: typeof type === 'function' || size !== undefined || reasonOf !== undefined,
      writes: [VezaMetric.FileUploads, VezaMetric.FileUploadSize, VezaMetric.UploadsFailed],
      build: ({ metrics }) => {
        const uploadsMetric = metrics.get(VezaMetric.FileUploads);
        const sizeMetric = metrics.get(VezaMetric.FileUploadSize);
        const failedMetric = metrics.get(VezaMetric.UploadsFailed);
        const uploads = new CellCache(['type', 'status'], (labels) => counterCell(uploadsMetric, labels));
        const sizes = new CellCache(['type'], (labels) => histogramCell(sizeMetric, labels));
        const failed = new CellCache(['reason'], (labels) => counterCell(failedMetric, labels));
        return {
          end(outcome, value, _seconds, args) {
            if (outcome === SUCCESS) {
              const t = labelFrom('type', type, args);
              const bytes = size && amount('size', size({ args: argsArray(args) as A, result: value as R }));
              const counted = uploads.get({ type: t, status: 'success' });
              const observed = bytes === undefined ? undefined : sizes.one(t);
              counted.inc();
              observed?.observe(bytes as number);
            } else if (outcome === FAILURE) {
              const t = labelFrom('type', type, args);
              const reason = reasonOf ? applyArgs(reasonOf, args, value) : uploadFailureReason(value);
              const counted = uploads.get({ type: t, status: 'failure' });
              const reasoned = failed.one(reason);
              counted.inc();
              reasoned.inc();
            }
          },
        };
      },
    };
  });
}
