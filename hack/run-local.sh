#!/usr/bin/env bash
# `make run`: the operator in the foreground with readable logs. Without KUBECONFIG it brings up (or reuses)
# the local control plane, whose API server sends audit events to the operator's loopback webhook.
# Then it installs the CRD, applies the Audit-mode example policy and the nginx examples, and runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

args=(--log-format text --metrics-auth none --health-probe-bind-address 127.0.0.1:8081 --metrics-bind-address 127.0.0.1:8443)
local_kubeconfig="$PWD/.cluster/kubeconfig"
# KUBECONFIG pointing at the local control plane (as the README suggests for other terminals) is still local.
if [ -z "${KUBECONFIG:-}" ] || [ "$(realpath -m "$KUBECONFIG")" = "$local_kubeconfig" ]; then
  node dist/test/support/controlplane/cli.js up
  export KUBECONFIG="$local_kubeconfig"
  kubectl="$PWD/.cluster/bin/kubectl"
  audit="$PWD/.cluster/audit"
  args+=(--audit-webhook-bind-address 127.0.0.1:9444
    --audit-tls-cert-file "$audit/server.crt" --audit-tls-key-file "$audit/server.key"
    --audit-client-ca-file "$audit/ca.crt")
  # Falco alerts (docs/falco.md): HTTPS on loopback, bearer token in .cluster/falco-token or a client certificate.
  node dist/test/support/controlplane/cli.js falco
  falco="$PWD/.cluster/falco"
  args+=(--falco-bind-address 127.0.0.1:9445
    --falco-cert-file "$falco/server.crt" --falco-key-file "$falco/server.key"
    --falco-client-ca-file "$falco/ca.crt" --falco-token-file "$PWD/.cluster/falco-token")
else
  kubectl="$(command -v kubectl || true)"
  [ -n "$kubectl" ] || { echo "make run: kubectl is needed on PATH when KUBECONFIG is set" >&2; exit 1; }
fi

"$kubectl" apply --server-side -k config/crd >/dev/null
until [ "$("$kubectl" get crd immutabilitypolicies.immutability.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ]; do sleep 0.5; done
"$kubectl" apply -f config/samples/policy-audit.yaml
"$kubectl" apply -f config/samples/namespace-demo.yaml
"$kubectl" apply -f config/samples/nginx-writable-root.yaml -f config/samples/nginx-readonly.yaml -f config/samples/nginx-privileged.yaml

cat <<MSG

  The operator runs below (Ctrl-C stops it). In another terminal:
    export KUBECONFIG=$KUBECONFIG
    $kubectl get imp                       # compliance at a glance
    $kubectl get imp audit -o yaml         # findings and planned patches per workload
    $kubectl apply -f config/samples/policy-enforce.yaml   # label, patch and evict in the demo namespace
MSG
if [ -n "${falco:-}" ]; then
  cat <<MSG
    # a Falco alert ("Terminal shell in container") about a demo pod, as Falco's http_output posts it:
    pod=\$($kubectl -n demo get pods -l app=nginx-readonly -o jsonpath='{.items[0].metadata.name}')
    sed "s/POD_NAME/\$pod/g" $falco/alert.json | curl -sS --cacert $falco/ca.crt -H "Authorization: Bearer \$(cat $PWD/.cluster/falco-token)" -H 'Content-Type: application/json' --data-binary @- https://127.0.0.1:9445/falco
    $kubectl -n demo get pods -L immutability.dev/drift     # DRIFT=falco; replaced under policy-enforce.yaml
MSG
fi
echo

exec node dist/src/cli/main.js run --kubeconfig "$KUBECONFIG" "${args[@]}" "$@"
