import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { CountWebSocketMessage, GaugeSource, VezaMetric } from '@veza/nestjs-metrics';
import type { Socket } from 'socket.io';

/** A chat message as clients send it. */
export interface ChatMessage {
  room: string;
  text: string;
}

/** What the sender gets back, as the acknowledgement of its `chat` event. */
export type ChatAck = { ok: true } | { ok: false; error: string };

/**
 * Live chat over Socket.IO (on the HTTP server's port, path `/socket.io`). Open connections are
 * `veza_websocket_connections_active`, read when Prometheus scrapes; each `chat` message is counted
 * by status (`ok`, `rejected`).
 */
@WebSocketGateway({ cors: { origin: '*' } })
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly clients = new Set<string>();

  handleConnection(client: Socket): void {
    this.clients.add(client.id);
  }

  handleDisconnect(client: Socket): void {
    this.clients.delete(client.id);
  }

  @GaugeSource(VezaMetric.WebSocketConnectionsActive)
  connections(): number {
    return this.clients.size;
  }

  @SubscribeMessage('chat')
  @CountWebSocketMessage('chat', { status: (ack: ChatAck) => (ack.ok ? 'ok' : 'rejected') })
  chat(@ConnectedSocket() client: Socket, @MessageBody() message: unknown): ChatAck {
    if (!isChatMessage(message))
      return { ok: false, error: 'a chat message is { room, text } with a text of 1 to 2000 characters' };
    void client.join(message.room);
    client.to(message.room).emit('chat', { from: client.id, text: message.text });
    return { ok: true };
  }
}

function isChatMessage(value: unknown): value is ChatMessage {
  if (typeof value !== 'object' || value === null) return false;
  const { room, text } = value as Record<string, unknown>;
  return (
    typeof room === 'string' &&
    room.length > 0 &&
    typeof text === 'string' &&
    text.length > 0 &&
    text.length <= 2000
  );
}
