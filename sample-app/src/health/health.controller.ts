import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HttpHealthIndicator,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { PaymentsSandbox } from '../payments/payments-sandbox';

/**
 * Terminus' own indicators, with no decorator: the Veza module records each under its key
 * (veza_health_check_status and the check's duration, service="database" and "payments").
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly http: HttpHealthIndicator,
    private readonly payments: PaymentsSandbox,
  ) {}

  /** 200 while every dependency answers, 503 when one is down: `SELECT 1`, and the provider's status page. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database'),
      () => this.http.pingCheck('payments', `${this.payments.url}/health`),
    ]);
  }
}
