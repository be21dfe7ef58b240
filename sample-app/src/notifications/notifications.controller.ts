import { Controller } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { SEND_NOTIFICATION, type Notification, type NotificationReceipt } from './notifications.constants';

/**
 * The notifications microservice (TCP, in the same process: a hybrid app). A recipient that is not an
 * email address is refused with an RpcException, so handler errors show on /metrics. No metrics code:
 * the library counts and times every message a `@MessagePattern` handler handles.
 */
@Controller()
export class NotificationsController {
  private readonly delivered: Notification[] = [];

  @MessagePattern(SEND_NOTIFICATION)
  send(@Payload() notification: Notification): NotificationReceipt {
    if (typeof notification?.recipient !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(notification.recipient))
      throw new RpcException(`Cannot notify "${String(notification?.recipient)}": not an email address`);
    // A real service would hand it to a mail or push provider; the sample keeps the last 100.
    this.delivered.push(notification);
    if (this.delivered.length > 100) this.delivered.shift();
    return { recipient: notification.recipient, delivered: true };
  }
}
