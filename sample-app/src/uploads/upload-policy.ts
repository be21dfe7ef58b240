import type { UploadFailureReason, UploadFileType } from './upload.entity';

/** The most one file may weigh. */
export const MAX_FILE_BYTES = 48 * 1024;
/** The most one user may store in all. */
export const USER_QUOTA_BYTES = 64 * 1024;

const AUDIO = new Set(['audio/mpeg', 'audio/wav', 'audio/flac', 'audio/ogg', 'audio/aac']);
const IMAGE = new Set(['image/png', 'image/jpeg', 'image/webp']);

/** The family of a MIME type. */
export function fileTypeOf(mimeType: string): UploadFileType {
  const mime = mimeType.toLowerCase();
  if (AUDIO.has(mime)) return 'audio';
  if (IMAGE.has(mime)) return 'image';
  return 'other';
}

/** Why a file of `type` and `sizeBytes` may not be stored by a user who already stores `usedBytes`, or null. */
export function refusalOf(
  type: UploadFileType,
  sizeBytes: number,
  usedBytes: number,
): Exclude<UploadFailureReason, 'ClamAV'> | null {
  if (type === 'other' || sizeBytes === 0 || sizeBytes > MAX_FILE_BYTES) return 'validation';
  if (usedBytes + sizeBytes > USER_QUOTA_BYTES) return 'quota';
  return null;
}
