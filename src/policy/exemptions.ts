// Exemptions are narrow on purpose: every field that is given must match (containers AND images AND
// namespaces AND rules), and an exemption stops applying at its expiry without anyone editing the policy.
import type { Exemption, RuleName } from '../api/types.js';
import type { ResolvedPolicy } from './defaults.js';
import { globMatchAny } from './glob.js';
import { imageSpellings } from './image.js';
import { parseRfc3339 } from './time.js';

export interface ExemptionContext {
  namespace: string;
  container: string;
  /** Absent when the container names no image; an exemption that lists images then does not apply. */
  image?: string;
  rule: RuleName;
}

/**
 * An exemption with `expires` applies strictly before that instant. An `expires` that is not a valid
 * RFC 3339 date-time counts as already expired: a typo must not turn a temporary waiver into a permanent one.
 */
export function exemptionExpired(exemption: Exemption, now: Date): boolean {
  if (exemption.expires === undefined) return false;
  const expires = parseRfc3339(exemption.expires);
  return expires === undefined || now.getTime() >= expires;
}

function listed(patterns: readonly string[] | undefined, matches: (patterns: readonly string[]) => boolean): boolean {
  return patterns === undefined || patterns.length === 0 || matches(patterns);
}

export function exemptionCovers(exemption: Exemption, ctx: ExemptionContext, now: Date): boolean {
  if (exemptionExpired(exemption, now)) return false;
  if (exemption.rules !== undefined && exemption.rules.length > 0 && !exemption.rules.includes(ctx.rule)) {
    return false;
  }
  const { image } = ctx;
  return (
    listed(exemption.namespaces, (patterns) => globMatchAny(patterns, ctx.namespace)) &&
    listed(exemption.containers, (patterns) => globMatchAny(patterns, ctx.container)) &&
    listed(
      exemption.images,
      (patterns) => image !== undefined && imageSpellings(image).some((spelling) => globMatchAny(patterns, spelling)),
    )
  );
}

/** The first exemption of the policy (in spec order) that covers this container and rule at `now`. */
export function activeExemption(policy: ResolvedPolicy, ctx: ExemptionContext, now: Date): Exemption | undefined {
  return policy.exemptions.find((exemption) => exemptionCovers(exemption, ctx, now));
}

/**
 * Milliseconds from `now` until the policy's next exemption expires, or undefined when none is pending: the
 * instant at which findings change without any event, so reconcilers come back then (a quiet cluster must
 * not wait for an unrelated event to report an expired waiver).
 */
export function msUntilNextExpiry(policy: ResolvedPolicy, now: Date): number | undefined {
  let next: number | undefined;
  for (const exemption of policy.exemptions) {
    const expires = exemption.expires === undefined ? undefined : parseRfc3339(exemption.expires);
    if (expires === undefined || expires <= now.getTime()) continue;
    next = next === undefined ? expires : Math.min(next, expires);
  }
  return next === undefined ? undefined : next - now.getTime();
}
