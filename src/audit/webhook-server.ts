// The endpoint kube-apiserver's audit webhook backend posts to: the shared ingest server (authentication,
// limits, timeouts) on POST /audit, accepting only an audit.k8s.io/v1 EventList. The events themselves are
// validated one by one downstream.
import { validateEventList } from './event.js';
import { startIngestServer, type IngestListenOptions, type RunningIngestServer } from './ingest-server.js';

export { tokenMatches } from './ingest-server.js';

export const AUDIT_WEBHOOK_PATH = '/audit';

export interface AuditWebhookOptions extends IngestListenOptions {
  /** Largest accepted body, counted both as sent and after gzip inflation. */
  maxBodyBytes: number;
  /** Receives the (still unvalidated) items of each accepted EventList. Must not block. */
  onEvents: (items: unknown[]) => void;
}

export type RunningAuditWebhook = RunningIngestServer;

export function startAuditWebhook(opts: AuditWebhookOptions): Promise<RunningAuditWebhook> {
  const { onEvents, ...server } = opts;
  return startIngestServer({
    ...server,
    name: 'audit webhook',
    path: AUDIT_WEBHOOK_PATH,
    mediaTypes: ['application/json'],
    onBody(body) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return { status: 400, message: 'body is not JSON' };
      }
      const list = validateEventList(parsed);
      if (!list.ok) return { status: 400, message: list.error };
      onEvents(list.value);
      return { status: 200, fields: { items: list.value.length } };
    },
  });
}
