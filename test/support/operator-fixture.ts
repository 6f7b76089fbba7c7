// The fixture most integration and fault specs share: the CRD, the spec's namespaces and one operator for the
// whole describe block, the operator's log tail after a failed test, and cleanup in the order the policies'
// finalizer needs (policies deleted while the operator still runs to release them, then the operator stopped).
import { installCrd } from './fixtures.js';
import { OperatorProcess, type OperatorOptions } from './operator.js';
import { cleanup, createNamespaces } from './workloads.js';

export interface OperatorFixture {
  /** Created before the operator starts; deleted at the end without waiting. */
  namespaces?: string[];
  /** Policies the spec creates: deleted at the end while the operator still runs (their finalizer needs it). */
  policies?: string[];
  /**
   * Runs once the namespaces exist, before the operator starts: what the operator should find already there.
   * A mocha hook body, so it may set `this.timeout(...)` for slow seeding.
   */
  beforeStart?: (this: Mocha.Context) => Promise<void>;
  /** How to run the operator; a function when the options come from earlier set-up (a proxy, a token). */
  operator?: OperatorOptions | (() => OperatorOptions | Promise<OperatorOptions>);
}

/** Lines of the operator's log printed after a failed test. */
const LOG_TAIL_LINES = 60;

/**
 * Registers before/afterEach/after hooks in the calling describe block and returns the operator they start
 * (running from the end of the `before` hook on). Hooks of a block run in the order they are registered:
 * a spec's own `before` registered earlier runs before the operator starts, its own `after` registered later
 * runs once the operator has stopped.
 */
export function withOperator(fixture: OperatorFixture = {}): OperatorProcess {
  const operator = new OperatorProcess();
  const namespaces = fixture.namespaces ?? [];

  before(async function () {
    this.timeout(Math.max(this.timeout(), 180_000));
    await installCrd();
    if (namespaces.length > 0) await createNamespaces(namespaces);
    await fixture.beforeStart?.call(this);
    await operator.start(typeof fixture.operator === 'function' ? await fixture.operator() : fixture.operator);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`operator log tail:\n${await operator.logs(LOG_TAIL_LINES)}\n`);
  });

  after(async function () {
    this.timeout(Math.max(this.timeout(), 180_000));
    await cleanup(fixture.policies ?? [], namespaces);
    await operator.stop();
  });

  return operator;
}
