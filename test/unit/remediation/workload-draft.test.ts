// WorkloadDraft: one workload's outcome as the steps of a pass add to it, folded into its status entry.
// Checked directly: problem accumulation and the Degraded priority, the earliest requeue winning, Audit vs
// Enforce actions, and the CRD's length caps on message and patch.
import { expect } from 'chai';
import type { WorkloadAction } from '../../../src/api/types.js';
import { Reasons } from '../../../src/api/types.js';
import { DEGRADED_PRIORITY, type Problem } from '../../../src/remediation/outcome.js';
import { MAX_MESSAGE_CHARS, MAX_PATCH_CHARS } from '../../../src/remediation/status-text.js';
import { minDefined, WorkloadDraft } from '../../../src/remediation/workload-draft.js';

const MARKER = ' …[truncated]';
const problem = (reason: string, message = `${reason} happened`): Problem => ({ reason, message });

/** True when `text` has a high surrogate without its low one, or a low one without its high one. */
function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

describe('remediation/workload-draft', () => {
  describe('minDefined', () => {
    const cases: [number | undefined, number | undefined, number | undefined][] = [
      [undefined, undefined, undefined],
      [undefined, 5, 5],
      [5, undefined, 5],
      [3, 5, 3],
      [5, 3, 3],
      [0, 5, 0],
      [5, 0, 0],
      [undefined, 0, 0],
      [0, undefined, 0],
      [7, 7, 7],
    ];
    for (const [a, b, out] of cases) {
      it(`minDefined(${a}, ${b}) = ${out}`, () => {
        expect(minDefined(a, b)).to.equal(out);
      });
    }
  });

  describe('requeueWithin', () => {
    const cases: { name: string; calls: number[]; out: number | undefined }[] = [
      { name: 'never asked', calls: [], out: undefined },
      { name: 'one delay', calls: [5_000], out: 5_000 },
      { name: 'a later, shorter delay wins', calls: [5_000, 1_000], out: 1_000 },
      { name: 'a later, longer delay does not extend it', calls: [1_000, 5_000], out: 1_000 },
      { name: 'the earliest of many', calls: [30_000, 2_000, 10_000, 2_500], out: 2_000 },
      { name: 'zero (now) is kept', calls: [10_000, 0, 500], out: 0 },
      { name: 'zero first is kept', calls: [0, 10_000], out: 0 },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.out}`, () => {
        const draft = new WorkloadDraft();
        for (const ms of c.calls) draft.requeueWithin(ms);
        expect(draft.requeueAfterMs).to.equal(c.out);
        expect(draft.result(true, 'Labeled').requeueAfterMs).to.equal(c.out);
      });
    }
  });

  describe('problems', () => {
    it('addProblem says the problem in the message and keeps it for Degraded, in order', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('set readOnlyRootFilesystem');
      const first = problem(Reasons.RateLimited, '2 pod(s) waiting for the eviction budget (5/min)');
      const second = problem(Reasons.EvictionBlocked, 'eviction of ns/a refused');
      draft.addProblem(first);
      draft.addProblem(second);
      expect(draft.messages).to.deep.equal(['set readOnlyRootFilesystem', first.message, second.message]);
      expect(draft.problems).to.deep.equal([first, second]);
    });

    it('a problem pushed without addProblem blocks but adds nothing to the message (the step said it already)', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('eviction of ns/a refused (pdb); retrying with backoff');
      draft.problems.push(problem(Reasons.EvictionBlocked, 'eviction of ns/a refused (pdb); retrying with backoff'));
      const result = draft.result(true, 'Labeled');
      expect(result.outcome).to.deep.equal({ action: 'Blocked', message: 'eviction of ns/a refused (pdb); retrying with backoff' });
      expect(result.problem?.reason).to.equal(Reasons.EvictionBlocked);
    });

    it('orders reasons as documented', () => {
      expect(DEGRADED_PRIORITY).to.deep.equal([
        Reasons.Forbidden, Reasons.RolloutFailed, Reasons.PatchFailed, Reasons.EvictionBlocked, Reasons.GitOpsManaged, Reasons.RateLimited,
      ]);
    });

    // Every pair of known reasons, in both orders: the more severe one is the workload's Degraded candidate.
    for (let i = 0; i < DEGRADED_PRIORITY.length; i++) {
      for (let j = i + 1; j < DEGRADED_PRIORITY.length; j++) {
        const severe = DEGRADED_PRIORITY[i]!;
        const mild = DEGRADED_PRIORITY[j]!;
        for (const order of [[severe, mild], [mild, severe]]) {
          it(`${order.join(' then ')} → ${severe}`, () => {
            const draft = new WorkloadDraft();
            for (const reason of order) draft.addProblem(problem(reason));
            expect(draft.result(true, 'Labeled').problem).to.deep.equal(problem(severe));
          });
        }
      }
    }

    const cases: { name: string; problems: Problem[]; worst: Problem }[] = [
      { name: 'an unknown reason ranks below every known one', problems: [problem('Mystery'), problem(Reasons.RateLimited)], worst: problem(Reasons.RateLimited) },
      { name: 'an unknown reason alone is still reported', problems: [problem('Mystery')], worst: problem('Mystery') },
      { name: 'of equal reasons the first one is kept', problems: [problem(Reasons.EvictionBlocked, 'first'), problem(Reasons.EvictionBlocked, 'second')], worst: problem(Reasons.EvictionBlocked, 'first') },
      {
        name: 'the most severe of many, with its Event reason',
        problems: [problem(Reasons.RateLimited), { reason: Reasons.PatchFailed, message: 'reverted', event: 'PatchBlocked' }, problem(Reasons.GitOpsManaged), problem('Mystery')],
        worst: { reason: Reasons.PatchFailed, message: 'reverted', event: 'PatchBlocked' },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const draft = new WorkloadDraft();
        for (const p of c.problems) draft.addProblem(p);
        expect(draft.result(true, 'Labeled').problem).to.deep.equal(c.worst);
      });
    }
  });

  describe('result: the action', () => {
    const cases: { name: string; action?: WorkloadAction; problems?: Problem[]; enforce: boolean; fallback: WorkloadAction; out: WorkloadAction; problem: boolean }[] = [
      { name: 'Enforce, nothing acted: the fallback', enforce: true, fallback: 'Labeled', out: 'Labeled', problem: false },
      { name: 'Enforce, another fallback', enforce: true, fallback: 'Skipped', out: 'Skipped', problem: false },
      { name: 'Enforce, a step patched', action: 'Patched', enforce: true, fallback: 'Labeled', out: 'Patched', problem: false },
      { name: 'Enforce, a step evicted', action: 'Evicted', enforce: true, fallback: 'Labeled', out: 'Evicted', problem: false },
      { name: 'Enforce, a problem: Blocked', problems: [problem(Reasons.RateLimited)], enforce: true, fallback: 'Labeled', out: 'Blocked', problem: true },
      { name: 'Enforce, patched but a problem after: Blocked', action: 'Patched', problems: [problem(Reasons.EvictionBlocked)], enforce: true, fallback: 'Labeled', out: 'Blocked', problem: true },
      { name: 'Audit, nothing acted: Planned', enforce: false, fallback: 'Labeled', out: 'Planned', problem: false },
      { name: 'Audit, an action set: still Planned', action: 'Patched', enforce: false, fallback: 'Labeled', out: 'Planned', problem: false },
      { name: 'Audit, a problem: Planned, and no Degraded candidate', problems: [problem(Reasons.Forbidden)], enforce: false, fallback: 'Labeled', out: 'Planned', problem: false },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.out}`, () => {
        const draft = new WorkloadDraft();
        if (c.action) draft.action = c.action;
        for (const p of c.problems ?? []) draft.addProblem(p);
        const result = draft.result(c.enforce, c.fallback);
        expect(result.outcome?.action).to.equal(c.out);
        expect('problem' in result).to.equal(c.problem);
      });
    }

    it('an untouched draft folds into a bare, settled entry', () => {
      expect(new WorkloadDraft().result(true, 'Labeled')).to.deep.equal({ outcome: { action: 'Labeled' }, settled: true });
      expect(new WorkloadDraft().result(false, 'Labeled')).to.deep.equal({ outcome: { action: 'Planned' }, settled: true });
    });

    it('result() does not change the draft: folding twice gives the same entry', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('a');
      draft.addProblem(problem(Reasons.PatchFailed));
      draft.requeueWithin(10);
      expect(draft.result(true, 'Labeled')).to.deep.equal(draft.result(true, 'Labeled'));
      expect(draft.messages).to.deep.equal(['a', 'PatchFailed happened']);
    });
  });

  describe('result: settled', () => {
    const cases: { name: string; settled: boolean; requeue?: number; out: boolean }[] = [
      { name: 'nothing in flight, no requeue', settled: true, out: true },
      { name: 'something in flight', settled: false, out: false },
      { name: 'a requeue asked for', settled: true, requeue: 2_000, out: false },
      { name: 'a requeue of 0 asked for', settled: true, requeue: 0, out: false },
      { name: 'both', settled: false, requeue: 2_000, out: false },
    ];
    for (const c of cases) {
      it(`${c.name} → settled ${c.out}`, () => {
        const draft = new WorkloadDraft();
        draft.settled = c.settled;
        if (c.requeue !== undefined) draft.requeueWithin(c.requeue);
        const result = draft.result(true, 'Labeled');
        expect(result.settled).to.equal(c.out);
        expect(result.requeueAfterMs).to.equal(c.requeue);
      });
    }
  });

  describe('result: message and patch', () => {
    it('joins the messages with "; ", leaving empty ones out', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('', 'would patch: set readOnlyRootFilesystem', '', 'would evict ns/db-0', '');
      expect(draft.result(false, 'Labeled').outcome?.message).to.equal('would patch: set readOnlyRootFilesystem; would evict ns/db-0');
    });

    it('has no message and no patch when there is nothing to say', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('', '');
      draft.patch = '';
      const outcome = draft.result(true, 'Labeled').outcome;
      expect(outcome).to.deep.equal({ action: 'Labeled' });
    });

    it('the CRD caps are 1024 and 8192 characters', () => {
      expect(MAX_MESSAGE_CHARS).to.equal(1024);
      expect(MAX_PATCH_CHARS).to.equal(8192);
    });

    const cases: { name: string; messages: string[]; message: (m: string) => void }[] = [
      { name: 'exactly at the cap: unchanged', messages: ['m'.repeat(MAX_MESSAGE_CHARS)], message: (m) => expect(m).to.equal('m'.repeat(MAX_MESSAGE_CHARS)) },
      {
        name: 'one over the cap: cut to the cap with a marker',
        messages: ['m'.repeat(MAX_MESSAGE_CHARS + 1)],
        message: (m) => expect(m).to.equal('m'.repeat(MAX_MESSAGE_CHARS - MARKER.length) + MARKER),
      },
      {
        name: 'parts that only together exceed the cap',
        messages: ['a'.repeat(600), 'b'.repeat(600)],
        message: (m) => {
          expect(m).to.have.length(MAX_MESSAGE_CHARS);
          expect(m).to.equal(`${'a'.repeat(600)}; ${'b'.repeat(MAX_MESSAGE_CHARS - MARKER.length - 602)}${MARKER}`);
        },
      },
      {
        name: 'a surrogate pair across the cut is not split',
        // The emoji's high surrogate sits exactly at the last position kept before the marker.
        messages: ['m'.repeat(MAX_MESSAGE_CHARS - MARKER.length - 1) + '😀'.repeat(10)],
        message: (m) => {
          expect(hasLoneSurrogate(m)).to.equal(false);
          expect(m).to.equal('m'.repeat(MAX_MESSAGE_CHARS - MARKER.length - 1) + MARKER);
        },
      },
    ];
    for (const c of cases) {
      it(`message ${c.name}`, () => {
        const draft = new WorkloadDraft();
        draft.messages.push(...c.messages);
        c.message(draft.result(true, 'Labeled').outcome?.message ?? '');
      });
    }

    const patchCases: { name: string; patch: string; out: string }[] = [
      { name: 'a short patch: unchanged', patch: '[{"op":"add"}]', out: '[{"op":"add"}]' },
      { name: 'exactly at the cap: unchanged', patch: 'p'.repeat(MAX_PATCH_CHARS), out: 'p'.repeat(MAX_PATCH_CHARS) },
      { name: 'one over the cap: cut with a marker', patch: 'p'.repeat(MAX_PATCH_CHARS + 1), out: 'p'.repeat(MAX_PATCH_CHARS - MARKER.length) + MARKER },
      { name: 'far over the cap: cut with a marker', patch: 'p'.repeat(50_000), out: 'p'.repeat(MAX_PATCH_CHARS - MARKER.length) + MARKER },
      // The message cap must not be applied to the patch.
      { name: 'over the message cap but under the patch cap: unchanged', patch: 'p'.repeat(5_000), out: 'p'.repeat(5_000) },
    ];
    for (const c of patchCases) {
      it(`patch ${c.name}`, () => {
        const draft = new WorkloadDraft();
        draft.patch = c.patch;
        expect(draft.result(false, 'Labeled').outcome?.patch).to.equal(c.out);
      });
    }

    it('caps the message and the patch independently, in the same entry', () => {
      const draft = new WorkloadDraft();
      draft.messages.push('m'.repeat(2_000));
      draft.patch = 'p'.repeat(9_000);
      const outcome = draft.result(true, 'Labeled').outcome;
      expect(outcome?.message).to.have.length(MAX_MESSAGE_CHARS);
      expect(outcome?.patch).to.have.length(MAX_PATCH_CHARS);
    });

    it('the Degraded candidate keeps its full message (degradedState caps it for the condition)', () => {
      const draft = new WorkloadDraft();
      const long = problem(Reasons.PatchFailed, 'x'.repeat(3_000));
      draft.addProblem(long);
      const result = draft.result(true, 'Labeled');
      expect(result.outcome?.message).to.have.length(MAX_MESSAGE_CHARS);
      expect(result.problem).to.equal(long);
    });
  });
});
