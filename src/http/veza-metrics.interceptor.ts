import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';

/**
 * For applications that attach an interceptor themselves, with `@UseInterceptors()` or
 * `APP_INTERCEPTOR`: it records nothing and returns the handler's stream untouched, in every
 * context (HTTP, RPC, WebSocket, GraphQL).
 *
 * `VezaMetricsModule` records HTTP requests at the adapter, where every response is seen once with
 * the status the client received, including those an interceptor never sees (rejected by a guard or
 * the throttler, or matching no route). An interceptor that counted too would count twice, so this
 * one does not: adding it changes no metric and no response. It exists so that code (or a migration
 * from an interceptor-based library) that wires an interceptor keeps compiling and working.
 *
 * @deprecated It records nothing: `VezaMetricsModule.forRoot()` alone records every HTTP request.
 * Remove it from `APP_INTERCEPTOR` and `@UseInterceptors()`. It stays exported until the next major
 * version, since removing an export breaks the code that imports it.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [VezaMetricsModule.forRoot()],
 *   providers: [{ provide: APP_INTERCEPTOR, useClass: VezaMetricsInterceptor }],
 * })
 * export class AppModule {}
 * ```
 */
@Injectable()
export class VezaMetricsInterceptor implements NestInterceptor {
  /** Returns the handler's stream untouched. */
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}
