/** The message pattern of the notifications microservice (`pattern` label of `veza_rpc_server_*`). */
export const SEND_NOTIFICATION = 'notifications.send';

/** The TCP port of the notifications microservice: `NOTIFICATIONS_PORT`, 3001 by default. */
export function notificationsPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = Number(env.NOTIFICATIONS_PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`NOTIFICATIONS_PORT must be a TCP port (0 to 65535), got "${env.NOTIFICATIONS_PORT}"`);
  return port;
}

/** The host the notifications microservice listens on and the app's client calls: `NOTIFICATIONS_HOST`, 127.0.0.1 by default. */
export function notificationsHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.NOTIFICATIONS_HOST ?? '127.0.0.1';
}

/** A message to a listener. */
export interface Notification {
  readonly recipient: string;
  readonly subject: string;
  readonly body: string;
}

/** The microservice's reply. */
export interface NotificationReceipt {
  readonly recipient: string;
  readonly delivered: true;
}
