/**
 * The label constants of the microservice and queue families, as the public entry point exports
 * them (issue 15: names and labels are a contract): the names the recorders register, and the
 * states `veza_queue_jobs` reports, in order.
 */
import { QUEUE_STATES, QueueMetric, RpcMetric } from '../../src';

describe('RpcMetric and QueueMetric', () => {
  it('name the microservice families', () => {
    expect(RpcMetric).toEqual({
      Requests: 'veza_rpc_server_requests_total',
      Duration: 'veza_rpc_server_duration_seconds',
    });
  });

  it('name the queue families', () => {
    expect(QueueMetric).toEqual({
      Jobs: 'veza_queue_jobs_total',
      JobDuration: 'veza_queue_job_duration_seconds',
      Depth: 'veza_queue_jobs',
    });
  });

  it('list the states of veza_queue_jobs in the order they are written', () => {
    expect(QUEUE_STATES).toEqual(['waiting', 'active', 'delayed', 'failed']);
  });
});
