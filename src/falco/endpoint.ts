// POST /falco: Falco's http_output and Falcosidekick's webhook post alerts here. The shared ingest server
// authenticates (client certificate or bearer token, never neither) and caps the request at 12 MiB; this
// module judges the body (400 naming the line and field, 413 for an alert over 256 KiB) and queues the
// alerts (503 with Retry-After when the queue is full).
import { startIngestServer, type IngestListenOptions, type RunningIngestServer } from '../audit/ingest-server.js';
import { MAX_FALCO_REQUEST_BYTES, parseFalcoBody } from './alert.js';
import type { FalcoIngest } from './ingest.js';

export const FALCO_PATH = '/falco';

export interface FalcoEndpointOptions extends IngestListenOptions {
  ingest: Pick<FalcoIngest, 'offer'>;
  /** Counts refused alerts (400/413). */
  onRefused?: () => void;
  /** Default 12 MiB. */
  maxRequestBytes?: number;
}

export function startFalcoEndpoint(opts: FalcoEndpointOptions): Promise<RunningIngestServer> {
  const { ingest, onRefused, maxRequestBytes, ...server } = opts;
  return startIngestServer({
    ...server,
    name: 'falco endpoint',
    path: FALCO_PATH,
    maxBodyBytes: maxRequestBytes ?? MAX_FALCO_REQUEST_BYTES,
    // Falco and Falcosidekick send application/json; NDJSON senders may say so.
    mediaTypes: ['application/json', 'application/x-ndjson'],
    onBody(body) {
      const parsed = parseFalcoBody(body);
      if (!parsed.ok) {
        onRefused?.();
        return { status: parsed.status, message: parsed.error };
      }
      if (!ingest.offer(parsed.alerts)) {
        return { status: 503, message: 'alert queue full, retry later', headers: { 'Retry-After': '1' } };
      }
      return { status: 200, fields: { alerts: parsed.alerts.length } };
    },
  });
}
