// The ValidatingAdmissionPolicy and binding an ImmutabilityPolicy stands for, generated — never written by
// hand — from the same rule table the engine evaluates (rules.ts) and the same match and exemption semantics
// (match.ts, exemptions.ts), so that `check`, the controller and admission give one verdict. Pure: the caller
// passes `now`, and gets back when the generated objects stop being right (the next exemption expiry), since
// CEL has no clock.
import { API_VERSION, FIELD_MANAGER, GROUP, KIND } from '../../api/types.js';
import type { LabelSelector, RuleName } from '../../api/types.js';
import type { ResolvedPolicy } from '../defaults.js';
import { exemptionExpired } from '../exemptions.js';
import { CONTAINER, POD } from '../predicate.js';
import type { Predicate } from '../predicate.js';
import { RULE_TABLE } from '../rules.js';
import type { SpecRule } from '../rules.js';
import { parseRfc3339 } from '../time.js';
import { celAccess, celList, celListOrEmpty, celPredicate, celString } from './cel.js';
import type { CelScope } from './cel.js';

export const ADMISSION_API_VERSION = 'admissionregistration.k8s.io/v1';
export const LABEL_POLICY = `${GROUP}/policy`;
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

type Obj = Record<string, unknown>;

export interface GeneratedValidation {
  policy: Obj;
  binding: Obj;
  /** The earliest future exemption expiry: the generated policy must be regenerated then. */
  regenerateAt?: Date;
}

/** `immutability.dev-<policy>`: DNS-subdomain safe, since policy names are DNS subdomains too. */
export function admissionObjectName(policyName: string): string {
  return `${GROUP}-${policyName}`;
}

/** Glob (glob.ts semantics: `*` any run incl. `/`, `?` one character but `/`) as an anchored RE2 pattern. */
export function globRegex(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '[^/]';
    else out += /[\\^$.|+()[\]{}]/.test(ch) ? `\\${ch}` : ch;
  }
  return `^${out}$`;
}

function anyGlob(globs: readonly string[], subject: string): string {
  if (globs.length === 0) return 'false';
  return `(${globs.map((g) => `${subject}.matches(${celString(globRegex(g))})`).join(' || ')})`;
}

/**
 * `body` with `name` bound to `value`. The API server's VAP environment has no cel.bind, so a one-item list
 * comprehension binds instead.
 */
export function celBind(name: string, value: string, body: string): string {
  return `[${value}].map(${name}, ${body})[0]`;
}

/** metav1.LabelSelector over a CEL map of labels (selector.ts semantics). */
export function celLabelSelector(selector: LabelSelector, labels: string): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    parts.push(`(${celString(key)} in ${labels} && ${labels}[${celString(key)}] == ${celString(value)})`);
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const key = celString(requirement.key);
    const values = celList(requirement.values ?? []);
    switch (requirement.operator) {
      case 'In':
        parts.push(`(${key} in ${labels} && ${labels}[${key}] in ${values})`);
        break;
      case 'NotIn':
        parts.push(`(!(${key} in ${labels}) || !(${labels}[${key}] in ${values}))`);
        break;
      case 'Exists':
        parts.push(`(${key} in ${labels})`);
        break;
      case 'DoesNotExist':
        parts.push(`!(${key} in ${labels})`);
        break;
    }
  }
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

/**
 * `body` with the parts of a container image reference bound as image.ts parses them: `registry` (docker.io
 * for Docker Hub), `path` (the repository path, `library/nginx`), `tag` and `digest` (with their ':' and
 * '@', or ''), `hub` (a Docker Hub image) and `i` (the reference as written).
 */
export function celWithImageParts(image: string, body: string): string {
  const b = celBind;
  // Tag: after the last ':' that follows the last '/'. Registry: a first component with '.' or ':' or localhost.
  return b('i', `string(${image})`,
    b('at', "i.indexOf('@')",
      b('digest', "at >= 0 ? '@' + i.substring(at + 1) : ''",
        b('n0', 'at >= 0 ? i.substring(0, at) : i',
          b('hasTag', "n0.lastIndexOf(':') > n0.lastIndexOf('/')",
            b('tag', "hasTag ? n0.substring(n0.lastIndexOf(':')) : ''",
              b('n', "hasTag ? n0.substring(0, n0.lastIndexOf(':')) : n0",
                b('slash', "n.indexOf('/')",
                  b('first', "slash >= 0 ? n.substring(0, slash) : ''",
                    b('hasRegistry', "slash >= 0 && (first.contains('.') || first.contains(':') || first == 'localhost')",
                      b('hub', "!hasRegistry || first in ['docker.io', 'index.docker.io', 'registry-1.docker.io']",
                        b('registry', "hub ? 'docker.io' : first",
                          b('p0', 'hasRegistry ? n.substring(slash + 1) : n',
                            b('path', "hub && !p0.contains('/') ? 'library/' + p0 : p0", body))))))))))))));
}

/**
 * Every spelling of a container image that image exemptions are matched against, as image.ts computes them
 * (the reference as written; with registry, without it and, for official Docker Hub images, the short name;
 * each bare, with tag, with digest, with both).
 */
export function celImageSpellings(image: string): string {
  return celWithImageParts(image,
    `([i] + (hub && path.startsWith('library/') ? [registry + '/' + path, path, path.substring(8)] : [registry + '/' + path, path])` +
    `.map(r, [r, r + tag, r + digest, r + tag + digest]).flatten())`);
}

export interface ContainerContext {
  scope: CelScope;
}

export const NEW: ContainerContext = { scope: { [CONTAINER]: 'c', [POD]: 'variables.podSpec' } };
const OLD: ContainerContext = { scope: { [CONTAINER]: 'o', [POD]: 'variables.oldPodSpec' } };

/** The rule holds for the container bound in `ctx` (item rules: no offending item). */
export function compliesCel(rule: SpecRule, ctx: ContainerContext): string {
  if (rule.complies !== undefined) return celPredicate(rule.complies, ctx.scope);
  const items = rule.items;
  if (items === undefined) return 'true';
  const offends: Predicate = items.offends;
  const list = celListOrEmpty(items.list, ctx.scope);
  return `!${list}.exists(${items.as}, ${celPredicate(offends, { ...ctx.scope, [items.as]: items.as })})`;
}

/** Exemptions that cover `rule` and have not expired, as a CEL condition on container `c`. */
export function exemptCel(policy: ResolvedPolicy, rule: RuleName, now: Date): string {
  const terms = policy.exemptions.flatMap((e, index) => {
    if (exemptionExpired(e, now) || !(e.rules === undefined || e.rules.length === 0 || e.rules.includes(rule))) return [];
    const parts: string[] = [];
    if (e.namespaces !== undefined && e.namespaces.length > 0) parts.push(anyGlob(e.namespaces, 'request.namespace'));
    if (e.containers !== undefined && e.containers.length > 0) parts.push(anyGlob(e.containers, 'c.name'));
    // Spelled out once per request in a variable (imageExemptionVariables), not once per container and rule.
    if (e.images !== undefined && e.images.length > 0) parts.push(`(has(c.image) && c.name in variables.${imageExemptionVariable(index)})`);
    return [parts.length === 0 ? 'true' : `(${parts.join(' && ')})`];
  });
  return terms.length === 0 ? 'false' : `(${terms.join(' || ')})`;
}

function imageExemptionVariable(index: number): string {
  return `imageExempted${index}`;
}

/**
 * Per exemption with image globs, the names of the request's containers whose image it matches. Container
 * names are unique across a pod's three lists, and a variable is evaluated once per request, so the costly
 * image spellings are built once per container instead of once per container and rule.
 */
export function imageExemptionVariables(policy: ResolvedPolicy, now: Date): Obj[] {
  return policy.exemptions.flatMap((e, index) => {
    if (exemptionExpired(e, now) || e.images === undefined || e.images.length === 0) return [];
    return [{
      name: imageExemptionVariable(index),
      expression: `variables.containers.filter(c, has(c.image) && ${celImageSpellings('c.image')}.exists(s, ${anyGlob(e.images, 's')})).map(c, c.name)`,
    }];
  });
}

function messagePrefix(policyName: string): string {
  return `ImmutabilityPolicy ${policyName}: `;
}

/**
 * One variable per enabled spec rule: the messages of containers that newly break it. A container breaks a
 * rule newly when it does not comply, no exemption covers it, and — on UPDATE — it did comply (or did not
 * exist) before: admission keeps new violations out and never blocks an update that makes nothing worse
 * (a label change, the operator's own fix of a template that keeps an unpatchable finding).
 */
function breachVariable(rule: SpecRule, policy: ResolvedPolicy, now: Date): { name: string; expression: string } {
  const brokeBefore = `variables.oldContainers.exists(o, o.name == c.name && !(${compliesCel(rule, OLD)}))`;
  const judged = rule.windowsSkip === undefined ? 'true' : '!variables.windows';
  const condition = `${judged} && !(${compliesCel(rule, NEW)}) && !${exemptCel(policy, rule.name, now)} && !${brokeBefore}`;
  let describe = `'container "' + c.name + '" ' + ${celString(rule.requirement)}`;
  if (rule.items !== undefined) {
    const { items } = rule;
    const itemScope = { ...NEW.scope, [items.as]: items.as };
    const offending = `${celListOrEmpty(items.list, NEW.scope)}.filter(${items.as}, ${celPredicate(items.offends, itemScope)})`;
    describe += ` + ' (' + ${offending}.map(${items.as}, string(${celAccess(items.subject, itemScope)})).join(', ') + ')'`;
  }
  return { name: `breaks_${rule.name}`, expression: `variables.containers.filter(c, ${condition}).map(c, ${describe})` };
}

export const POD_SPEC = (object: string): string =>
  `${object}.kind == 'Pod' ? ${object}.spec : (${object}.kind == 'CronJob' ? ${object}.spec.jobTemplate.spec.template.spec : ${object}.spec.template.spec)`;
const POD_LABELS = (object: string): string =>
  `${object}.kind == 'Pod' ? ${object}.metadata : (${object}.kind == 'CronJob' ? ${object}.spec.jobTemplate.spec.template.metadata : ${object}.spec.template.metadata)`;
export const CONTAINERS = (spec: string): string =>
  ['containers', 'initContainers', 'ephemeralContainers'].map((list) => `(has(${spec}.${list}) ? ${spec}.${list} : [])`).join(' + ');

export const WORKLOAD_RULES = [
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] },
];

function resourceRules(policy: ResolvedPolicy): Obj[] {
  const rules: Obj[] = [
    { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
    ...WORKLOAD_RULES.map((r) => ({ ...r, apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'] })),
  ];
  if (policy.rules.ephemeralContainers || RULE_TABLE.some((r) => policy.rules[r.name])) {
    // A rule on `pods` does not match the subresource kubectl debug writes through.
    rules.push({ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] });
  }
  if (connectCovered(policy)) {
    rules.push({ apiGroups: [''], apiVersions: ['v1'], operations: ['CONNECT'], resources: ['pods/exec', 'pods/attach'] });
  }
  return rules;
}

/**
 * exec/attach are refused at admission only when the policy can tell which pods it governs from the request
 * alone: a CONNECT request carries PodExecOptions, not the pod, so a podSelector cannot be evaluated there.
 * Such policies still detect exec as runtime drift from audit events.
 */
export function connectCovered(policy: ResolvedPolicy): boolean {
  return policy.rules.exec && policy.match.podSelector === undefined;
}

/** The label the API server sets on every namespace to the namespace's name (immutable; Kubernetes ≥ 1.22). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A namespace pattern without glob characters that is also a valid label value: a selector can match it. */
const literalNamespace = (glob: string): boolean => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(glob);

export interface AdmissionMatch {
  /** For matchConstraints.namespaceSelector: the policy's own selector and the literal namespace names. */
  namespaceSelector?: LabelSelector;
  /** What only CEL can tell: namespace globs and the podSelector (on a pod template's labels). */
  conditions: Obj[];
}

/**
 * Which requests a generated admission policy sees. Namespace names go into the namespaceSelector (on the
 * name label every namespace carries) and only globs into CEL match conditions, because the API server
 * builds a new CEL activation — converting the whole object to unstructured — for each set of expressions
 * it evaluates: a kube-apiserver CPU profile of dry-run Deployment creates showed that conversion at 57 % of
 * the policy's cost, and match conditions paid it once more on every request (docs/benchmarks.md).
 */
export function admissionMatch(policy: ResolvedPolicy): AdmissionMatch {
  const conditions: Obj[] = [];
  const { namespaces, excludedNamespaces, podSelector, namespaceSelector } = policy.match;
  const expressions = [...(namespaceSelector?.matchExpressions ?? [])];
  const excludedLiterals = excludedNamespaces.filter(literalNamespace);
  const excludedGlobs = excludedNamespaces.filter((g) => !literalNamespace(g));
  if (excludedLiterals.length > 0) expressions.push({ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: excludedLiterals });
  if (excludedGlobs.length > 0) {
    conditions.push({ name: 'not-excluded-namespace', expression: `!${anyGlob(excludedGlobs, 'request.namespace')}` });
  }
  // `namespaces` is one alternative: all names go into the selector, or (with any glob) all into CEL.
  if (namespaces.length > 0 && namespaces.every(literalNamespace)) {
    expressions.push({ key: NAMESPACE_NAME_LABEL, operator: 'In', values: [...namespaces] });
  } else if (namespaces.length > 0) {
    conditions.push({ name: 'governed-namespace', expression: anyGlob(namespaces, 'request.namespace') });
  }
  if (podSelector !== undefined) {
    const metadata = `(${POD_LABELS('object')})`;
    const labels = `(has(${metadata}.labels) ? ${metadata}.labels : {})`;
    // CONNECT is not matched at all with a podSelector (see connectCovered); DELETE is never matched.
    conditions.push({ name: 'governed-pods', expression: celBind('labels', labels, celLabelSelector(podSelector, 'labels')) });
  }
  const selector: LabelSelector = {
    ...(namespaceSelector?.matchLabels !== undefined ? { matchLabels: namespaceSelector.matchLabels } : {}),
    ...(expressions.length > 0 ? { matchExpressions: expressions } : {}),
  };
  return { ...(Object.keys(selector).length > 0 || namespaceSelector !== undefined ? { namespaceSelector: selector } : {}), conditions };
}

/**
 * The match condition that lets most requests skip the policy: a request can be refused only if some container
 * breaks an enabled rule (then exemptions and the old object decide), or it is exec/attach or adds ephemeral
 * containers. A compliant object is not matched, so the API server spends one activation and one pass over
 * its containers on it. Without this, it built three activations (validations, messageExpressions, audit
 * annotations — each converting the whole object to unstructured) and evaluated every messageExpression, even
 * for a request every validation admits (docs/benchmarks.md).
 */
function mayBreachCondition(policy: ResolvedPolicy, enabled: readonly SpecRule[]): Obj {
  const always = ["request.operation == 'CONNECT'"];
  if (policy.rules.ephemeralContainers) always.push("(has(request.subResource) && request.subResource == 'ephemeralcontainers')");
  // Match conditions see no variables: `s` binds the pod spec (a one-item list), with the scope rules use.
  const scope: CelScope = { [CONTAINER]: 'c', [POD]: 's' };
  const complies = enabled.map((rule) => `(${compliesCel(rule, { scope })})`).join(' && ');
  const someBreaks = enabled.length === 0 ? 'false' : `![${POD_SPEC('object')}].all(s, (${CONTAINERS('s')}).all(c, ${complies}))`;
  return { name: 'may-refuse', expression: [...always, someBreaks].join(' || ') };
}

function validationActions(policy: ResolvedPolicy): string[] {
  // Audit mode never refuses anything: the binding warns and records audit annotations.
  if (policy.mode === 'Audit' || policy.admission?.action === 'Warn') return ['Warn', 'Audit'];
  return ['Deny'];
}

export function nextExpiry(policy: ResolvedPolicy, now: Date): Date | undefined {
  const future = policy.exemptions
    .map((e) => (e.expires === undefined ? undefined : parseRfc3339(e.expires)))
    .filter((t): t is number => t !== undefined && t > now.getTime());
  return future.length === 0 ? undefined : new Date(Math.min(...future));
}

export function ownerReference(policyName: string, uid: string): Obj {
  return { apiVersion: API_VERSION, kind: KIND, name: policyName, uid, controller: true, blockOwnerDeletion: false };
}

export function generatedMetadata(policyName: string, uid: string): Obj {
  return {
    name: admissionObjectName(policyName),
    labels: { [LABEL_POLICY]: policyName, [LABEL_MANAGED_BY]: FIELD_MANAGER },
    ownerReferences: [ownerReference(policyName, uid)],
  };
}

export function generateValidation(policy: ResolvedPolicy, uid: string, now: Date): GeneratedValidation {
  const enabled = RULE_TABLE.filter((rule) => policy.rules[rule.name]);
  const prefix = messagePrefix(policy.name);
  const variables: Obj[] = [
    { name: 'connect', expression: "request.operation == 'CONNECT'" },
    { name: 'podSpec', expression: POD_SPEC('object') },
    { name: 'oldPodSpec', expression: `oldObject == null ? {} : (${POD_SPEC('oldObject')})` },
    { name: 'windows', expression: "has(variables.podSpec.os) && has(variables.podSpec.os.name) && variables.podSpec.os.name == 'windows'" },
    { name: 'containers', expression: CONTAINERS('variables.podSpec') },
    { name: 'oldContainers', expression: `oldObject == null ? [] : ${CONTAINERS('variables.oldPodSpec')}` },
    ...imageExemptionVariables(policy, now),
  ];
  const validations: Obj[] = [];
  for (const rule of enabled) {
    const breach = breachVariable(rule, policy, now);
    variables.push(breach);
    validations.push({
      expression: `variables.connect || size(variables.${breach.name}) == 0`,
      // The API server evaluates every messageExpression whatever the verdict (in an activation of its own):
      // a validation that holds gets '' at once, not an index error.
      messageExpression: `variables.connect || size(variables.${breach.name}) == 0 ? '' : ${celString(prefix)} + variables.${breach.name}[0]`,
      message: `${prefix}a container breaks rule ${rule.name}`,
      reason: 'Forbidden',
    });
  }
  if (policy.rules.ephemeralContainers) {
    const exempt = exemptCel(policy, 'ephemeralContainers', now);
    // Ephemeral containers that were not in the pod before: the ones kubectl debug adds.
    variables.push({
      name: 'addedEphemeralContainers',
      expression: `variables.connect || !(has(request.subResource) && request.subResource == 'ephemeralcontainers') ? [] : ` +
        `(has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : []).filter(c, ` +
        `!(has(variables.oldPodSpec.ephemeralContainers) && variables.oldPodSpec.ephemeralContainers.exists(o, o.name == c.name)) && !${exempt})`,
    });
    validations.push({
      expression: 'size(variables.addedEphemeralContainers) == 0',
      messageExpression: `${celString(prefix)} + 'ephemeral container "' + variables.addedEphemeralContainers[0].name + '" must not be added to a running pod (kubectl debug changes it in place)'`,
      message: `${prefix}ephemeral containers must not be added to a running pod`,
      reason: 'Forbidden',
    });
  }
  if (connectCovered(policy)) {
    const exempt = exemptCel(policy, 'exec', now);
    // PodExecOptions/PodAttachOptions name the container; `c` binds it so exemptions read as for spec rules.
    variables.push({
      name: 'connectContainer',
      expression: "variables.connect && has(object.container) ? {'name': object.container} : {'name': ''}",
    });
    validations.push({
      expression: `!variables.connect || ${celBind('c', 'variables.connectContainer', exempt)}`,
      messageExpression: `${celString(prefix)} + 'pods/' + request.subResource + ' into pod "' + request.name + '" is refused: a running container must not be changed in place (kubectl exec, attach and cp)'`,
      message: `${prefix}exec and attach into governed pods are refused`,
      reason: 'Forbidden',
    });
  }
  const { namespaceSelector, conditions } = admissionMatch(policy);
  conditions.push(mayBreachCondition(policy, enabled));
  const matchConstraints: Obj = { resourceRules: resourceRules(policy), ...(namespaceSelector !== undefined ? { namespaceSelector } : {}) };
  const name = admissionObjectName(policy.name);
  const metadata = generatedMetadata(policy.name, uid);
  const generated: GeneratedValidation = {
    policy: {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints,
        ...(conditions.length > 0 ? { matchConditions: conditions } : {}),
        variables,
        validations,
      },
    },
    binding: {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: generatedMetadata(policy.name, uid),
      spec: { policyName: name, validationActions: validationActions(policy) },
    },
  };
  const regenerateAt = nextExpiry(policy, now);
  if (regenerateAt !== undefined) generated.regenerateAt = regenerateAt;
  return generated;
}
