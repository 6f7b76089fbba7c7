// API paths of the resources the operator reads and writes.
import { API_VERSION, PLURAL } from '../api/types.js';

export const Paths = {
  pods: '/api/v1/pods',
  namespaces: '/api/v1/namespaces',
  replicaSets: '/apis/apps/v1/replicasets',
  jobs: '/apis/batch/v1/jobs',
  deployments: '/apis/apps/v1/deployments',
  statefulSets: '/apis/apps/v1/statefulsets',
  daemonSets: '/apis/apps/v1/daemonsets',
  cronJobs: '/apis/batch/v1/cronjobs',
  policies: `/apis/${API_VERSION}/${PLURAL}`,
  pod: (ns: string, name: string): string => `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`,
  policy: (name: string): string => `/apis/${API_VERSION}/${PLURAL}/${enc(name)}`,
  policyStatus: (name: string): string => `/apis/${API_VERSION}/${PLURAL}/${enc(name)}/status`,
  tokenReviews: '/apis/authentication.k8s.io/v1/tokenreviews',
  subjectAccessReviews: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
  events: (ns: string): string => `/apis/events.k8s.io/v1/namespaces/${enc(ns)}/events`,
  eviction: (ns: string, name: string): string => `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}/eviction`,
  workload: (apiVersion: string, plural: string, ns: string, name: string): string =>
    `${apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`}/namespaces/${enc(ns)}/${plural}/${enc(name)}`,
} as const;

function enc(s: string): string {
  return encodeURIComponent(s);
}
