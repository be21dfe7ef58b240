import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { notificationsHost, notificationsPort } from './notifications/notifications.constants';
import { startSampleApp } from './sample-app';

async function bootstrap(): Promise<void> {
  const app = await startSampleApp();
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://localhost:${port}`;
  console.log(
    `Veza sample app on ${url} — metrics at ${url}/metrics, GraphQL at ${url}/graphql, notifications on tcp://${notificationsHost()}:${notificationsPort()}`,
  );
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
