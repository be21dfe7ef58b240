/** The `type` label of the upload metrics: a bounded family, never the raw MIME type. */
export type UploadFileType = 'audio' | 'image' | 'other';

/** Why an upload was refused: the `reason` label of `veza_uploads_failed_total`. */
export type UploadFailureReason = 'validation' | 'ClamAV' | 'quota';

export interface Upload {
  readonly id: string;
  readonly ownerId: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly type: UploadFileType;
  readonly sizeBytes: number;
  readonly createdAt: string;
}
