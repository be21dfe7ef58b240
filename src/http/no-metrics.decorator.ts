import { SetMetadata } from '@nestjs/common';

/** Metadata key of {@link NoMetrics}. */
export const NO_METRICS = 'VEZA_METRICS:NO_METRICS';

/**
 * Leaves the routes of a controller, or one route handler, out of `veza_http_requests_total` and
 * `veza_http_request_duration_seconds`. The routes are resolved to their templates (global prefix,
 * module path and URI version included) once, while the application starts; a request on them costs
 * one lookup and records nothing. The exclusion is per method and template: another handler on the
 * same method and template (another version under header versioning) is left out too.
 *
 * @example
 * ```ts
 * @Controller('health')
 * @NoMetrics()
 * export class HealthController {}
 *
 * @Get('internal/ping')
 * @NoMetrics()
 * ping() {}
 * ```
 */
export const NoMetrics = (): ClassDecorator & MethodDecorator => SetMetadata(NO_METRICS, true);
