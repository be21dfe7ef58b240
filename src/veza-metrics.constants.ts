/** Injection token of the validated, defaulted options. */
export const VEZA_METRICS_RESOLVED_OPTIONS = 'VEZA_METRICS:RESOLVED_OPTIONS';
