package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"
)

// Schemas of the built-in kinds, from the OpenAPI v2 document of the Kubernetes release the
// argocd module is built with (k8s.io/kubernetes api/openapi-spec/swagger.json, copied next to
// the binary by testenv/argocd-oracle.sh). The controller gets the same from the cluster's
// /openapi/v2: Argo CD's GVK parser (server-side apply diff, managedFieldsManagers) and the
// field manager that materializes scenario writes both need it.
type Schemas struct {
	// For Argo CD's diff (WithGVKParser), as the controller builds it from discovery.
	GVKParser *managedfields.GvkParser
	// For Kubernetes' field manager (managedFields of materialized writes).
	Types managedfields.TypeConverter
	// A field manager for kinds the document does not know (custom resources): every list atomic.
	Deduced managedfields.TypeConverter
}

// loadSchemas reads the built-in kinds' OpenAPI v2 document (what the controller's GVK parser
// is built from: kubectl's discovery reads /openapi/v2) and v3 documents (what kube-apiserver's
// own field manager uses: only v3 carries the defaults of list-map keys, such as a container
// port's protocol TCP, without which an applied port would not match the live one), and adds the
// CustomResourceDefinitions of crdDir (*.yaml, one CRD each) to both, so custom resources of
// server-side apply apps get their schema too.
func loadSchemas(path, v3Dir, crdDir string) (*Schemas, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI document: %w", err)
	}
	if crdDir != "" {
		if raw, err = withCRDs(raw, crdDir); err != nil {
			return nil, err
		}
	}
	doc, err := openapi_v2.ParseDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		return nil, fmt.Errorf("models of %s: %w", path, err)
	}
	parser, err := managedfields.NewGVKParser(models, false)
	if err != nil {
		return nil, fmt.Errorf("GVK parser of %s: %w", path, err)
	}
	defs, err := v3Schemas(v3Dir)
	if err != nil {
		return nil, err
	}
	// The CRDs' definitions (v2-shaped; valid v3 too for what the field manager reads).
	var swagger spec.Swagger
	if err := json.Unmarshal(raw, &swagger); err != nil {
		return nil, fmt.Errorf("definitions of %s: %w", path, err)
	}
	for name := range swagger.Definitions {
		if _, ok := defs[name]; !ok {
			s := swagger.Definitions[name]
			defs[name] = &s
		}
	}
	types, err := managedfields.NewTypeConverter(defs, false)
	if err != nil {
		return nil, fmt.Errorf("type converter of %s: %w", v3Dir, err)
	}
	return &Schemas{GVKParser: parser, Types: types, Deduced: managedfields.NewDeducedTypeConverter()}, nil
}

// v3Schemas: components.schemas of every *.json in dir (kube-apiserver's /openapi/v3/*).
func v3Schemas(dir string) (map[string]*spec.Schema, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no OpenAPI v3 document in %s", dir)
	}
	defs := map[string]*spec.Schema{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Components struct {
				Schemas map[string]*spec.Schema `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for k, v := range doc.Components.Schemas {
			defs[k] = v
		}
	}
	return defs, nil
}

// Known: the OpenAPI document has the kind (built-in); otherwise it is a custom resource.
func (s *Schemas) Known(gvk schema.GroupVersionKind) bool {
	return s.GVKParser.Type(gvk) != nil
}

func (s *Schemas) converter(gvk schema.GroupVersionKind) managedfields.TypeConverter {
	if s.Known(gvk) {
		return s.Types
	}
	return s.Deduced
}

// withCRDs adds a definition per served version of every CRD in dir, shaped as kube-apiserver
// publishes a structural schema in /openapi/v2: the version's openAPIV3Schema with apiVersion,
// kind and metadata (ObjectMeta), the x-kubernetes-group-version-kind extension, and the keys
// OpenAPI v2 lacks (default, nullable, ...) left out.
func withCRDs(doc []byte, dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var top map[string]any
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	defs, _ := top["definitions"].(map[string]any)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(text, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			def := v2Schema(v.Schema.OpenAPIV3Schema).(map[string]any)
			props, _ := def["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			props["apiVersion"] = map[string]any{"type": "string"}
			props["kind"] = map[string]any{"type": "string"}
			props["metadata"] = map[string]any{"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
			def["properties"] = props
			def["x-kubernetes-group-version-kind"] = []any{map[string]any{
				"group": crd.Spec.Group, "version": v.Name, "kind": crd.Spec.Names.Kind,
			}}
			defs[fmt.Sprintf("%s.%s.%s", crd.Spec.Group, v.Name, crd.Spec.Names.Kind)] = def
		}
	}
	return json.Marshal(top)
}

// v2Schema keeps what OpenAPI v2 and structured-merge-diff read from a structural schema.
func v2Schema(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range m {
		switch k {
		case "type", "format", "description", "required", "enum",
			"x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
			"x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
			"x-kubernetes-map-type":
			out[k] = x
		case "items", "additionalProperties":
			out[k] = v2Schema(x)
		case "properties":
			props := map[string]any{}
			pm, _ := x.(map[string]any)
			for name, p := range pm {
				props[name] = v2Schema(p)
			}
			out[k] = props
		}
	}
	return out
}
