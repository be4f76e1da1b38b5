package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Scenario is one file of fixtures/diff-scenarios (see its README for every key).
type Scenario struct {
	Description     string            `json:"description"`
	Item            json.RawMessage   `json:"item"`
	ArgocdCm        map[string]string `json:"argocdCm"`
	ArgocdCmdParams map[string]string `json:"argocdCmdParams"`
	Application     map[string]any    `json:"application"`
	Desired         json.RawMessage   `json:"desired"`
	Synced          json.RawMessage   `json:"synced"`
	Live            json.RawMessage   `json:"live"`
	Writes          []Write           `json:"writes"`
	DryRun          map[string]any    `json:"dryRun"`
	// Read by the Rust test only.
	Deliberate json.RawMessage `json:"deliberate"`
}

// Write is one write to the API server that made the live object.
type Write struct {
	Sync            *SyncWrite     `json:"sync"`
	Manager         string         `json:"manager"`
	Subresource     string         `json:"subresource"`
	Merge           map[string]any `json:"merge"`
	Update          map[string]any `json:"update"`
	Apply           map[string]any `json:"apply"`
	ServerSideApply map[string]any `json:"serverSideApply"`
	Delete          *struct{}      `json:"delete"`
}

// SyncWrite is an Argo CD sync of the object (default: the scenario's `synced`).
type SyncWrite struct {
	Object     map[string]any `json:"object"`
	ServerSide *bool          `json:"serverSide"`
}

const (
	controllerNamespace = "argocd"
	defaultAppName      = "shop"
	lastAppliedKey      = "kubectl.kubernetes.io/last-applied-configuration"
)

// object: nil for a JSON null; an error when the key is absent or not an object.
func object(raw json.RawMessage, key string, required bool) (*unstructured.Unstructured, bool, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		if required {
			return nil, false, fmt.Errorf("%s is required", key)
		}
		return nil, false, nil
	}
	var v any
	if err := utiljson.Unmarshal(raw, &v); err != nil {
		return nil, true, fmt.Errorf("%s: %w", key, err)
	}
	if v == nil {
		return nil, true, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, true, fmt.Errorf("%s is not an object", key)
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
		return nil, true, fmt.Errorf("%s needs apiVersion, kind and metadata.name", key)
	}
	return u, true, nil
}

// merge: maps merge key by key, everything else replaces.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// The default Application (README: "The default Application"), with the scenario's keys over it.
func application(s *Scenario, ref *unstructured.Unstructured, gitMoved bool) (map[string]any, *v1alpha1.Application, error) {
	ns := ""
	if ref != nil {
		ns = ref.GetNamespace()
	}
	if ns == "" {
		ns = "default"
	}
	revision := "rev-1"
	if gitMoved {
		revision = "rev-2"
	}
	base := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": defaultAppName, "namespace": controllerNamespace},
		"spec": map[string]any{
			"project": "default",
			"source": map[string]any{
				"repoURL": "https://git.example.com/shop.git", "path": "deploy", "targetRevision": "main",
			},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
		},
		"status": map[string]any{
			"sync": map[string]any{"revision": revision},
			"operationState": map[string]any{
				"phase":      "Succeeded",
				"startedAt":  "2026-01-01T00:00:00Z",
				"finishedAt": "2026-01-01T00:00:05Z",
				"operation": map[string]any{
					"sync":        map[string]any{"revision": "rev-1"},
					"initiatedBy": map[string]any{"automated": true},
				},
				"syncResult": map[string]any{"revision": "rev-1"},
			},
			"history": []any{map[string]any{
				"id": 0, "revision": "rev-1", "deployedAt": "2026-01-01T00:00:05Z",
				"deployStartedAt": "2026-01-01T00:00:00Z",
			}},
		},
	}
	m := merge(base, s.Application)
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	var app v1alpha1.Application
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, nil, fmt.Errorf("application: %w", err)
	}
	if app.Name == "" {
		return nil, nil, errors.New("application: metadata.name is empty")
	}
	return m, &app, nil
}

func clone(m map[string]any) map[string]any {
	raw, _ := json.Marshal(m) // a JSON document: cannot fail
	var out map[string]any
	_ = utiljson.Unmarshal(raw, &out)
	return out
}
