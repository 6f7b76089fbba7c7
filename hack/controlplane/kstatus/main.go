// Command kstatus prints how kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), the library Flux and kpt use to
// judge health, reads one Kubernetes object: it reads the object as JSON on stdin (`kubectl get -o json`) and
// writes {"status": "Current"|"InProgress"|"Failed"|..., "message": "..."} to stdout. Tests use it to prove
// that ImmutabilityPolicy status follows the kstatus conventions with the real rules, not a copy of them.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	// UnmarshalJSON keeps integers as int64, as the API machinery (and kstatus' accessors) expect.
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(raw); err != nil {
		fail("stdin is not a Kubernetes object in JSON: %v", err)
	}
	result, err := status.Compute(object)
	if err != nil {
		fail("computing status: %v", err)
	}
	out, _ := json.Marshal(map[string]string{"status": result.Status.String(), "message": result.Message})
	fmt.Println(string(out))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(2)
}
