import { expect } from 'chai';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { Pod } from '../../../src/api/kube.js';
import { startDriftDetection } from '../../../src/audit/drift-detection.js';
import { DriftRegistry } from '../../../src/controllers/drift-registry.js';
import type { SlimNamespace } from '../../../src/k8s/slim.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { noopLogger } from '../../../src/runtime/logger.js';
import { Store } from '../../../src/runtime/store.js';
import { auditEvent, pod, policy } from './helpers.js';
import { objectKey } from '../../../src/runtime/list-watch.js';

const logger = { ...noopLogger, error: () => undefined, child: () => logger };
const key = (o: { metadata: { namespace?: string; name: string } }): string => objectKey(o.metadata);

describe('drift detection wiring', function () {
  this.timeout(10_000);
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), 'drift-wiring-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('turns a logged exec into a re-queued pod and an Event, and forgets deleted pods', async function () {
    const logFile = path.join(dir, 'audit.log');
    await writeFile(logFile, '{"old":"line"}\n');
    const pods = new Store<Pod>(key);
    const namespaces = new Store<SlimNamespace>((n) => n.metadata.name);
    pods.upsert(pod('web-1'));
    pods.upsert(pod('other', { namespace: 'elsewhere' }));
    const registry = new DriftRegistry({ podUid: (k) => pods.get(k)?.metadata.uid, now: () => new Date() });
    const enqueued: string[] = [];
    const events: { name: string; reason: string; note: string }[] = [];
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const detection = await startDriftDetection({
      audit: { maxBodyBytes: 1024, logFile }, falco: { queueCapacity: 10 },
      registry, caches: { pods, namespaces },
      policies: { governing: () => [policy('exec', { rules: { exec: true }, match: { namespaces: ['shop'] } })] },
      enqueuePod: (k) => enqueued.push(k),
      events: { record: (regarding, _type, reason, _action, note) => events.push({ name: regarding.name, reason, note }) },
      metrics, logger, clock: systemClock,
    });
    try {
      await appendFile(logFile, `${JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', ...auditEvent({ name: 'web-1', user: 'eve' }) })}\n`);
      await appendFile(logFile, `${JSON.stringify(auditEvent({ namespace: 'elsewhere', name: 'other' }))}\nnot json\n`);
      const deadline = Date.now() + 5000;
      while (enqueued.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(enqueued).to.deep.equal(['shop/web-1', 'elsewhere/other']);
      expect(events).to.have.length(1); // the unmatched pod gets no Event
      expect(events[0]).to.include({ name: 'web-1', reason: 'DriftDetected' });
      expect(events[0]!.note).to.match(/exec by eve in container app command "sh" \(policies exec\)/);
      const malformed = (await metrics.auditEvents.get()).values.find((v) => v.labels.outcome === 'malformed');
      expect(malformed?.value).to.equal(1);
      expect(registry.size).to.equal(2);
      pods.delete('shop/web-1');
      expect(registry.size).to.equal(1);
    } finally {
      await detection.stop();
    }
  });
});
