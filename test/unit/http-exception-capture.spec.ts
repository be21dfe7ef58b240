import { ArgumentsHost, BadRequestException } from '@nestjs/common';
import { ExceptionsHandler } from '@nestjs/core/exceptions/exceptions-handler.js';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import {
  captureHandledExceptions,
  HANDLED_EXCEPTION,
  handledException,
} from '../../src/http/exception-capture';

describe('captureHandledExceptions', () => {
  it("notes the exception on the request and hands Nest's handler the very same arguments", () => {
    const calls: unknown[][] = [];
    const original = ExceptionsHandler.prototype.next;
    // A stand-in for what Nest does, to see what reaches it.
    ExceptionsHandler.prototype.next = function (this: ExceptionsHandler, ...args: unknown[]) {
      calls.push([this, ...args]);
      return 'answered' as never;
    };
    try {
      captureHandledExceptions();
      captureHandledExceptions(); // once per process, however many applications
      const handler = new ExceptionsHandler();
      const req = {};
      const host = new ExecutionContextHost([req, {}, undefined]);
      const exception = new BadRequestException();
      expect(handler.next(exception, host)).toBe('answered');
      expect(calls).toEqual([[handler, exception, host]]);
      expect(handledException(req)).toBe(exception);
      expect((req as Record<symbol, unknown>)[HANDLED_EXCEPTION]).toBe(exception);
    } finally {
      ExceptionsHandler.prototype.next = original;
    }
  });

  it('never gets in the way: a host without a request object, or one that throws, is passed on untouched', () => {
    captureHandledExceptions();
    const seen: unknown[] = [];
    const handler = new ExceptionsHandler();
    const inner = Object.getPrototypeOf(ExceptionsHandler.prototype) as {
      catch: (e: unknown, h: ArgumentsHost) => void;
    };
    const spy = jest.spyOn(inner, 'catch').mockImplementation((e) => void seen.push(e));
    try {
      const broken = {
        getArgByIndex: () => {
          throw new Error('no args');
        },
      } as unknown as ArgumentsHost;
      handler.next('thrown string' as never, new ExecutionContextHost(['not an object']));
      handler.next(42 as never, broken);
      expect(seen).toEqual(['thrown string', 42]);
    } finally {
      spy.mockRestore();
    }
  });

  it("finds an exception noted on a Fastify request's raw request (Nest middleware errors)", () => {
    const raw = { [HANDLED_EXCEPTION]: 'from middleware' };
    expect(handledException({ raw })).toBe('from middleware');
    expect(handledException({})).toBeUndefined();
  });
});
