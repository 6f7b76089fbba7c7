// The parts of core Kubernetes objects the operator reads. Plain data (not client-node's classes) so the
// pure engine, the slim cache and the offline `check` command share one shape.

export interface SecurityContext {
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
}

export interface PodSecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Container {
  name: string;
  image?: string;
  securityContext?: SecurityContext;
  volumeMounts?: VolumeMount[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  [source: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  securityContext?: PodSecurityContext;
  os?: { name: string };
  /** false: the pod runs in a user namespace (runAsNonRoot holds). */
  hostUsers?: boolean;
  nodeName?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface KubeMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
}

export interface Pod {
  apiVersion?: string;
  kind?: 'Pod';
  metadata: KubeMeta;
  spec: PodSpec;
  status?: { phase?: string };
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

/** Any object: a Pod, a workload with a pod template, or something `check` must reject. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Partial<KubeMeta>;
  spec?: unknown;
  [key: string]: unknown;
}
