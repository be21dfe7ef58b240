import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';

/** `SAMPLE_ADAPTER=express` (the default) or `fastify`. */
async function createApp(adapter: string): Promise<INestApplication> {
  if (adapter === 'express') return NestFactory.create(AppModule);
  if (adapter === 'fastify') return NestFactory.create(AppModule, new FastifyAdapter());
  throw new Error(`SAMPLE_ADAPTER must be "express" or "fastify", got "${adapter}"`);
}

async function bootstrap(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const app = await createApp(process.env.SAMPLE_ADAPTER ?? 'express');
  app.enableShutdownHooks();
  await app.listen(port, process.env.HOST ?? '0.0.0.0');
  const { port: actualPort } = app.getHttpServer().address() as AddressInfo;
  const url = `http://localhost:${actualPort}`;
  console.log(`Veza sample app on ${url} — metrics at ${url}/metrics`);
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
