/**
 * test/e2e/graphql-hostile.e2e-spec.ts at the default cap of 100 operation names: twenty times as many
 * names and as many malformed documents per driver, over 16 keep-alive connections (the 10,000 of each
 * that ran before proved nothing more, in 386 s).
 */
import { describeGraphqlHostile } from '../utils/suites/graphql-hostile';

jest.setTimeout(600_000);

describeGraphqlHostile({ names: 2_000, malformed: 2_000 });
