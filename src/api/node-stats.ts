/**
 * Reads a node's Summary from its node agent for metrics.k8s.io: GET /stats/summary at the address the Node
 * advertises (the streaming server's, see streaming.ts), checked against the Summary schema before anything
 * else sees it. The transport edge of the metrics API; the agent's side is docs/node-agent.md.
 */
import { request } from 'node:http';
import { STATS_SUMMARY_PATH, statsSummarySchema, type KubeObject, type StatsSummary } from '../kube/index.js';
import type { NodeStatsSource } from './metrics.js';
import { failure } from './status.js';
import { nodeAgentUrl } from './streaming.js';

const MAX_SUMMARY_BYTES = 16 << 20;

export class NodeAgentStats implements NodeStatsSource {
  constructor(private readonly timeoutMs = 5_000) {}

  async summary(node: KubeObject): Promise<StatsSummary> {
    const name = node.metadata.name ?? '';
    const url = new URL(STATS_SUMMARY_PATH, nodeAgentUrl(node));
    const unreachable = (why: string): Error => failure(503, 'ServiceUnavailable',
      `cannot read the resource usage of node "${name}" from its node agent at ${url.origin}: ${why}; is the node agent running and Ready?`);
    return new Promise<StatsSummary>((resolve, reject) => {
      const req = request(url, { method: 'GET', headers: { Accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_SUMMARY_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_SUMMARY_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) return reject(unreachable(`HTTP ${res.statusCode ?? 0}: ${body.trim().slice(0, 200)}`));
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            return reject(failure(502, 'InternalError', `node "${name}" answered ${STATS_SUMMARY_PATH} with something that is not JSON; is its node agent a Sandpod agent of this version?`));
          }
          const parsed = statsSummarySchema.safeParse(json);
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            return reject(failure(502, 'InternalError', `node "${name}" answered ${STATS_SUMMARY_PATH} with a summary this API server cannot read (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}); are the node agent and the API server the same Sandpod version?`));
          }
          resolve(parsed.data);
        });
        res.on('error', (err) => reject(unreachable(err.message)));
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(unreachable(err.message)));
      req.end();
    });
  }
}
