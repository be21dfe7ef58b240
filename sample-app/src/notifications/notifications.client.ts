import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { SEND_NOTIFICATION, type Notification } from './notifications.constants';

/** The injection token of the TCP client of the notifications microservice. */
export const NOTIFICATIONS_PROXY = 'NOTIFICATIONS_PROXY';

/** How long a caller waits for the microservice's reply. */
const REPLY_TIMEOUT_MS = 2_000;

/**
 * What the app's services call to notify someone. A notification that cannot be delivered (refused,
 * microservice down or slow) is logged and reported as `false`: it never fails the caller's request.
 */
@Injectable()
export class NotificationsClient implements OnApplicationShutdown {
  private readonly logger = new Logger(NotificationsClient.name);

  constructor(@Inject(NOTIFICATIONS_PROXY) private readonly proxy: ClientProxy) {}

  async send(notification: Notification): Promise<boolean> {
    try {
      await firstValueFrom(this.proxy.send(SEND_NOTIFICATION, notification).pipe(timeout(REPLY_TIMEOUT_MS)));
      return true;
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : JSON.stringify(error);
      this.logger.warn(`Notification to "${notification.recipient}" not delivered: ${reason}`);
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.proxy.close();
  }
}
