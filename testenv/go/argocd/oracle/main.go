// Command oracle answers drift scenarios with Argo CD's own diff code: the controller's
// StateDiff (util/argo/diff), configured from argocd-cm through Argo CD's SettingsManager and
// from the Application as controller/state.go CompareAppState configures it. It is built from
// the module of the argocd binary the real tests run (testenv/go/argocd), so every line of Argo
// CD and Kubernetes code it runs is the same version. See fixtures/diff-scenarios/README.md.
//
//	oracle [-openapi swagger.json] [-crds <dir>] answer [-only <prefix>] <dir>   write <dir>/<name>.argocd.json for every <dir>/<name>.yaml
//	oracle [-openapi swagger.json] [-crds <dir>] batch       JSON lines: {"name", "scenario"} in, {"name", "answer"|"invalid"} out
//	oracle version                                                 the Argo CD version it was built from
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	log "github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"
)

const argocdModule = "github.com/argoproj/argo-cd/v3"

func argocdVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == argocdModule {
				return d.Version
			}
		}
	}
	return "unknown"
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "oracle: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("oracle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	openapi := fs.String("openapi", "", "the Kubernetes OpenAPI v2 document (default: swagger.json next to the binary)")
	v3 := fs.String("openapi-v3", "", "the Kubernetes OpenAPI v3 documents (default: openapi-v3/ next to the binary)")
	crds := fs.String("crds", "", "a directory of CustomResourceDefinitions (*.yaml) whose kinds the cluster would serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: oracle [-openapi <file>] answer [-only <prefix>] <dir> | batch | version")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "version" {
		fmt.Fprintln(stdout, argocdVersion())
		return nil
	}
	// Argo CD's and Kubernetes' libraries log what they do; only the answers matter here.
	log.SetOutput(io.Discard)
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	if *openapi == "" || *v3 == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if *openapi == "" {
			*openapi = filepath.Join(filepath.Dir(exe), "swagger.json")
		}
		if *v3 == "" {
			*v3 = filepath.Join(filepath.Dir(exe), "openapi-v3")
		}
	}
	schemas, err := loadSchemas(*openapi, *v3, *crds)
	if err != nil {
		return err
	}
	o := &Oracle{schemas: schemas, settings: settingsCache{}, version: argocdVersion()}
	ctx := context.Background()
	switch cmd {
	case "answer":
		afs := flag.NewFlagSet("answer", flag.ContinueOnError)
		afs.SetOutput(stderr)
		only := afs.String("only", "", "only scenarios whose name starts with this")
		if err := afs.Parse(rest); err != nil {
			return err
		}
		if afs.NArg() != 1 {
			return errors.New("usage: oracle answer [-only <prefix>] <dir>")
		}
		return answerDir(ctx, o, afs.Arg(0), *only, stderr)
	case "batch":
		return batch(ctx, o, stdin, stdout)
	}
	return fmt.Errorf("unknown command %q (answer, batch, version)", cmd)
}

// parse reads a scenario strictly: an unknown key is a mistake worth an error.
func parse(doc []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

func answerDir(ctx context.Context, o *Oracle, dir, only string, stderr io.Writer) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	n := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !strings.HasPrefix(name, only) {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		doc, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		s, err := parse(doc)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		a, err := o.Answer(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		sum := sha256.Sum256(raw)
		a.ScenarioSha256 = hex.EncodeToString(sum[:])
		out, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return err
		}
		out = append(out, '\n')
		if err := os.WriteFile(filepath.Join(dir, name+".argocd.json"), out, 0o644); err != nil {
			return err
		}
		status := "-"
		if a.Status != nil {
			status = *a.Status
		}
		if a.Error != nil {
			status = "error: " + *a.Error
		}
		fmt.Fprintf(stderr, "%-48s %-15s %-10s %s\n", name, a.Mode, status, strings.Join(a.Paths, " "))
		n++
	}
	if n == 0 {
		return fmt.Errorf("no scenario in %s matches %q", dir, only)
	}
	fmt.Fprintf(stderr, "answered %d scenarios with Argo CD %s\n", n, o.version)
	return nil
}

type batchIn struct {
	Name     string          `json:"name"`
	Scenario json.RawMessage `json:"scenario"`
}

type batchOut struct {
	Name    string  `json:"name"`
	Answer  *Answer `json:"answer,omitempty"`
	Invalid string  `json:"invalid,omitempty"`
}

func batch(ctx context.Context, o *Oracle, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		line := bytes.TrimSpace(in.Bytes())
		if len(line) == 0 {
			continue
		}
		var req batchIn
		res := batchOut{}
		if err := json.Unmarshal(line, &req); err != nil {
			res.Invalid = err.Error()
		} else if s, err := parse(req.Scenario); err != nil {
			res.Name, res.Invalid = req.Name, err.Error()
		} else if a, err := o.Answer(ctx, s); err != nil {
			res.Name, res.Invalid = req.Name, err.Error()
		} else {
			res.Name, res.Answer = req.Name, a
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
		// One answer per line as soon as it is known: the caller may stream.
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return in.Err()
}
