/**
 * Issue 12, item 1: hostile HTTP clients on Express and Fastify (test/utils/suites/hostile-http.ts),
 * 100 pipelined-then-aborted connections in the memory test (400 in test/stress).
 */
import { describeHostileHttp } from '../utils/suites/hostile-http';

describeHostileHttp({ connections: 100 });
