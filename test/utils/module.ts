import type { TestingModule } from '@nestjs/testing';
import { Test } from '@nestjs/testing';
import {
  VezaMetricsModule,
  VezaMetricsRegistry,
  VezaMetricsService,
  type VezaMetricsModuleOptions,
} from '../../src';

/** A compiled testing module holding only VezaMetricsModule (no HTTP server): for helpers and registry checks. */
export interface MetricsContext {
  moduleRef: TestingModule;
  service: VezaMetricsService;
  registry: VezaMetricsRegistry;
  render(): Promise<string>;
  close(): Promise<void>;
}

export async function metricsContext(options: VezaMetricsModuleOptions = {}): Promise<MetricsContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [VezaMetricsModule.forRoot(options)],
  }).compile();
  await moduleRef.init();
  const registry = moduleRef.get(VezaMetricsRegistry);
  return {
    moduleRef,
    service: moduleRef.get(VezaMetricsService),
    registry,
    render: () => registry.render(),
    close: () => moduleRef.close(),
  };
}

/** Compiles an app with `options` and returns its start-up error message ('' when it starts). */
export async function startupError(options: unknown): Promise<string> {
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [VezaMetricsModule.forRoot(options as VezaMetricsModuleOptions)],
    }).compile();
    await moduleRef.close();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}
