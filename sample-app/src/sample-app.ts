import { Logger, type DynamicModule, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { notificationsHost, notificationsPort } from './notifications/notifications.constants';
import { redisAnswers } from './redis-probe';

/** `SAMPLE_ADAPTER=express` (the default) or `fastify`. */
function createApp(
  adapter: string,
  module: DynamicModule,
  logger?: LoggerService,
): Promise<INestApplication> {
  const options = logger ? { logger } : {};
  if (adapter === 'express') return NestFactory.create(module, options);
  if (adapter === 'fastify') return NestFactory.create(module, new FastifyAdapter(), options);
  throw new Error(`SAMPLE_ADAPTER must be "express" or "fastify", got "${adapter}"`);
}

/**
 * The transcoding queue's Redis: `REDIS_URL` (redis://127.0.0.1:6379 by default), used only when it
 * answers at start-up, so the app starts and serves HTTP and /metrics without one; `REDIS_URL=off`
 * never tries.
 */
async function transcodingRedis(env: NodeJS.ProcessEnv, logger: Logger): Promise<string | undefined> {
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (redisUrl === 'off') {
    logger.log('REDIS_URL=off: uploads are stored and not transcoded (no queue)');
    return undefined;
  }
  if (await redisAnswers(redisUrl)) {
    logger.log(`Transcoding queue "uploads" on ${redisUrl}`);
    return redisUrl;
  }
  logger.warn(
    `Redis at ${redisUrl} does not answer: uploads are stored and not transcoded (start redis-server or set REDIS_URL, then restart)`,
  );
  return undefined;
}

/**
 * Starts the sample app as `npm run sample` does: HTTP (and /metrics, /graphql) on `PORT` (3000), the
 * notifications microservice on TCP `NOTIFICATIONS_PORT` (3001) in the same process (a hybrid app),
 * and the transcoding queue when Redis answers. Configured by
 * environment variables only; `logger` replaces Nest's console logger (tests).
 */
export async function startSampleApp(logger?: LoggerService): Promise<INestApplication> {
  // The notifications client reads the same variables (NotificationsModule), so: process.env only.
  const env = process.env;
  const log = new Logger('VezaSample');
  const redisUrl = await transcodingRedis(env, log);
  const app = await createApp(env.SAMPLE_ADAPTER ?? 'express', AppModule.forRoot({ redisUrl }), logger);
  app.enableShutdownHooks();
  app.connectMicroservice({
    transport: Transport.TCP,
    options: { host: notificationsHost(env), port: notificationsPort(env) },
  });
  await app.startAllMicroservices();
  await app.listen(Number(env.PORT ?? 3000), env.HOST ?? '0.0.0.0');
  return app;
}
