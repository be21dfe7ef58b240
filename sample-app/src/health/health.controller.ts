import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { HealthService, type HealthReport } from './health.service';

@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 while every dependency answers, 503 otherwise. */
  @Get()
  check(): HealthReport {
    const report = this.health.report();
    if (report.status === 'error') throw new ServiceUnavailableException(report);
    return report;
  }
}
