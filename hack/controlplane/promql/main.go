// Command promql parses PromQL expressions with Prometheus' own parser (github.com/prometheus/prometheus/
// promql/parser, what Prometheus and the Prometheus Operator's admission webhook run on rules). It reads a JSON
// array of expressions on stdin and writes, per expression, the parse error or what it selects: each series
// selector (metric name and label matchers) and every label it groups or matches on. Tests use it to check the
// alerts and the Grafana dashboard in config/monitoring/ against the metrics the operator exports.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/prometheus/promql/parser"
)

type matcher struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

type selector struct {
	Metric   string    `json:"metric"`
	Matchers []matcher `json:"matchers"`
}

type result struct {
	Error     string     `json:"error,omitempty"`
	Selectors []selector `json:"selectors"`
	// Labels named by by/without clauses and by on/ignoring/group_left/group_right.
	Grouping []string `json:"grouping"`
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var exprs []string
	if err := json.Unmarshal(raw, &exprs); err != nil {
		fail("stdin is not a JSON array of strings: %v", err)
	}
	p := parser.NewParser(parser.Options{})
	results := make([]result, len(exprs))
	for i, input := range exprs {
		results[i] = inspect(p, input)
	}
	out, _ := json.Marshal(results)
	fmt.Println(string(out))
}

func inspect(p parser.Parser, input string) result {
	r := result{Selectors: []selector{}, Grouping: []string{}}
	expr, err := p.ParseExpr(input)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			s := selector{Metric: n.Name, Matchers: []matcher{}}
			for _, m := range n.LabelMatchers {
				if m.Name == "__name__" {
					continue
				}
				s.Matchers = append(s.Matchers, matcher{Label: m.Name, Op: m.Type.String(), Value: m.Value})
			}
			r.Selectors = append(r.Selectors, s)
		case *parser.AggregateExpr:
			r.Grouping = append(r.Grouping, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				r.Grouping = append(r.Grouping, n.VectorMatching.MatchingLabels...)
				r.Grouping = append(r.Grouping, n.VectorMatching.Include...)
			}
		}
		return nil
	})
	return r
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "promql: "+format+"\n", args...)
	os.Exit(2)
}
