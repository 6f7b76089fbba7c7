// Command kyverno is the Kyverno CLI (kubectl-kyverno) v1.19.1, built from its Go module for the `check`
// benchmark (bench/check-peers.ts). Go cannot import another module's main package, so this wrapper repeats
// what kubectl-kyverno's main does — build the root command, configure logging, map apply's warning exit
// code — using the CLI's own exported packages. Nothing else of Kyverno is copied here.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/commands"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/commands/apply"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/experimental"
	"github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno/log"
)

func main() {
	cmd := commands.RootCommand(experimental.IsEnabled())
	if err := log.Configure(); err != nil {
		fmt.Println("Error: Failed to setup logging:", err)
		os.Exit(1)
	}
	cmd.PersistentFlags().AddGoFlagSet(flag.CommandLine)
	if err := cmd.Execute(); err != nil {
		if warn, ok := err.(apply.WarnExitCodeError); ok {
			os.Exit(warn.ExitCode)
		}
		os.Exit(1)
	}
}
