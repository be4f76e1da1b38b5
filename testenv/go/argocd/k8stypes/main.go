// Command k8stypes writes the table of Kubernetes API types the drift engine
// diffs built-in kinds with (core/src/drift/k8s-types.txt): for every kind Argo
// CD's diff knows as a Go type, the JSON shape of that type, field by field,
// with what its typed round trip and its strategic merge patch depend on
// (omitempty, pointer or not, map or struct, merge key and strategy, quantity,
// int-or-string) and the values API defaulting fills in.
//
// It reads the same schemes Argo CD v3.5.7's diff uses, from the module
// versions in ../go.mod: k8s.io/client-go's scheme (which kinds are typed:
// remarshal and the strategic merge patch) and gitops-engine's legacyscheme
// (the defaulting functions applied to predicted and live). Run it with
// `make k8s-types`; the output is committed, so a build never needs Go.
//
// Output format (one record per line, sorted, `#` comments):
//
//	kind <group>/<version>/<Kind> <type>
//	type <type>
//	  field <json> <shape> [omitempty] [merge=<key>] [strategy=<s>] [default=<json>|default=*]
//
// A shape is a type name (`core/v1/PodSpec`), a scalar (`string`, `bool`,
// `int`, `float`), one of `quantity`, `intorstring`, `time`, `duration`,
// `bytes`, `raw`, or built from them with `*` (pointer), `[]` (slice) and
// `map[]` (map with string keys): `[]*core/v1/Volume`, `map[quantity]`.
// `default=*` means defaulting fills the field with a value that depends on
// other fields.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	gescheme "github.com/argoproj/argo-cd/gitops-engine/pkg/utils/kube/scheme"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

type field struct {
	json      string
	shape     string
	omitempty bool
	mergeKey  string
	strategy  string
	defaults  map[string]bool // JSON texts of the values defaulting gave
}

type structType struct {
	name   string
	fields map[string]*field
}

var (
	types    = map[string]*structType{}
	goTypes  = map[string]reflect.Type{}
	quantity = reflect.TypeOf(resource.Quantity{})
	intOrStr = reflect.TypeOf(intstr.IntOrString{})
	special  = map[reflect.Type]string{
		quantity:                               "quantity",
		intOrStr:                               "intorstring",
		reflect.TypeOf(metav1.Time{}):          "time",
		reflect.TypeOf(metav1.MicroTime{}):     "time",
		reflect.TypeOf(metav1.Duration{}):      "duration",
		reflect.TypeOf(runtime.RawExtension{}): "raw",
		reflect.TypeOf(metav1.FieldsV1{}):      "raw",
	}
	marshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
)

func typeName(t reflect.Type) string {
	p := t.PkgPath()
	for _, prefix := range []string{"k8s.io/api/", "k8s.io/apimachinery/pkg/apis/", "k8s.io/apimachinery/pkg/"} {
		if strings.HasPrefix(p, prefix) {
			return strings.TrimPrefix(p, prefix) + "/" + t.Name()
		}
	}
	return p + "/" + t.Name()
}

// shape describes t, registering the struct types it reaches.
func shape(t reflect.Type) string {
	if s, ok := special[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Ptr:
		return "*" + shape(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "[]" + shape(t.Elem())
	case reflect.Map:
		return "map[" + shape(t.Elem()) + "]"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Interface:
		return "raw"
	case reflect.Struct:
		if t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler) {
			fmt.Fprintf(os.Stderr, "note: %s has its own JSON form; treated as raw\n", typeName(t))
			return "raw"
		}
		name := typeName(t)
		if _, seen := types[name]; !seen {
			st := &structType{name: name, fields: map[string]*field{}}
			types[name] = st
			goTypes[name] = t
			collect(t, st)
		}
		return name
	}
	panic(fmt.Sprintf("unhandled type %s", t))
}

// collect lists t's JSON fields (inline and embedded structs flattened).
func collect(t reflect.Type, st *structType) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		name := parts[0]
		inline := false
		omitempty := false
		for _, o := range parts[1:] {
			switch o {
			case "inline":
				inline = true
			case "omitempty":
				omitempty = true
			}
		}
		if inline || (f.Anonymous && name == "") {
			ft := f.Type
			if ft.Kind() == reflect.Ptr {
				ft = ft.Elem()
			}
			collect(ft, st)
			continue
		}
		if name == "" {
			name = f.Name
		}
		st.fields[name] = &field{
			json:      name,
			omitempty: omitempty,
			mergeKey:  f.Tag.Get("patchMergeKey"),
			strategy:  f.Tag.Get("patchStrategy"),
			defaults:  map[string]bool{},
		}
		st.fields[name].shape = shape(f.Type)
	}
}

// fill allocates every pointer struct, gives every slice and map of structs
// one element, down the type tree (each struct type once per path), so that
// defaulting functions reach every nested type.
func fill(v reflect.Value, onPath map[reflect.Type]bool) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Ptr:
		if t.Elem().Kind() == reflect.Struct && special[t.Elem()] == "" && !onPath[t.Elem()] {
			v.Set(reflect.New(t.Elem()))
			fill(v.Elem(), onPath)
		}
	case reflect.Struct:
		if special[t] != "" || onPath[t] {
			return
		}
		onPath[t] = true
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				fill(v.Field(i), onPath)
			}
		}
		delete(onPath, t)
	case reflect.Slice:
		e := t.Elem()
		base := e
		if base.Kind() == reflect.Ptr {
			base = base.Elem()
		}
		if base.Kind() == reflect.Struct && special[base] == "" && !onPath[base] {
			s := reflect.MakeSlice(t, 1, 1)
			fill(s.Index(0), onPath)
			v.Set(s)
		}
	case reflect.Map:
		e := t.Elem()
		if e.Kind() == reflect.Struct && special[e] == "" && !onPath[e] && t.Key().Kind() == reflect.String {
			m := reflect.MakeMap(t)
			x := reflect.New(e).Elem()
			fill(x, onPath)
			m.SetMapIndex(reflect.ValueOf("x").Convert(t.Key()), x)
			v.Set(m)
		}
	}
}

// allocating is set during the pass over an empty object: a pointer to a
// struct that defaulting allocated there is recorded as defaulting to `{}`.
var allocating bool

// record walks a defaulted object and notes every set field's value on its
// struct type's field.
func record(v reflect.Value) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Ptr:
		if !v.IsNil() {
			record(v.Elem())
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			record(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			record(v.MapIndex(k))
		}
	case reflect.Struct:
		if special[t] != "" {
			return
		}
		st := types[typeName(t)]
		if st == nil {
			return
		}
		walkFields(v, st)
	}
}

func walkFields(v reflect.Value, st *structType) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		fv := v.Field(i)
		if strings.Contains(tag, ",inline") || (f.Anonymous && parts[0] == "") {
			if fv.Kind() == reflect.Ptr {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			walkFields(fv, st)
			continue
		}
		fd := st.fields[parts[0]]
		if fd == nil {
			continue
		}
		scalar := fv
		if scalar.Kind() == reflect.Ptr && !scalar.IsNil() && scalar.Elem().Kind() != reflect.Struct {
			scalar = scalar.Elem()
		}
		if allocating && fv.Kind() == reflect.Ptr && !fv.IsNil() && fv.Elem().Kind() == reflect.Struct &&
			special[fv.Elem().Type()] == "" {
			fd.defaults["{}"] = true
		}
		switch {
		case scalar.Kind() == reflect.Ptr || scalar.Kind() == reflect.Slice || scalar.Kind() == reflect.Map ||
			(scalar.Kind() == reflect.Struct && special[scalar.Type()] == ""):
			record(fv)
		// Scalars only from the filled pass: on an empty object defaulting also fills whole
		// default list items (an HPA's default CPU metric), whose values are no field's default.
		case !allocating && !scalar.IsZero():
			b, err := json.Marshal(scalar.Interface())
			if err == nil {
				fd.defaults[string(b)] = true
			}
		}
	}
}

func groupVersionKind(parts []string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: parts[0], Version: parts[1], Kind: parts[2]}
}

// conditional lists defaults that depend on other fields' values, which one
// pass over a zero object cannot see (Kubernetes' defaulting code says so).
var conditional = map[string]bool{
	"core/v1/Container.imagePullPolicy":                true, // Always for :latest, else IfNotPresent
	"core/v1/EphemeralContainerCommon.imagePullPolicy": true,
	"core/v1/ServicePort.targetPort":                   true, // the port's own number
	"rbac/v1/Subject.apiGroup":                         true, // by the subject's kind
	"batch/v1/JobSpec.podReplacementPolicy":            true, // Failed with a podFailurePolicy, else TerminatingOrFailed
}

// defaulted runs legacyscheme's defaulting on obj and records what it set.
func defaulted(obj runtime.Object) {
	gescheme.Scheme.Default(obj)
	record(reflect.ValueOf(obj))
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	kinds := map[string]string{}
	for gvk, t := range clientscheme.Scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		switch gvk.Kind {
		case "WatchEvent", "DeleteOptions", "ListOptions", "GetOptions", "CreateOptions",
			"PatchOptions", "UpdateOptions", "Status", "APIVersions", "APIGroup", "APIGroupList",
			"APIResourceList", "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
			continue
		}
		name := shape(t)
		kinds[gvk.Group+"/"+gvk.Version+"/"+gvk.Kind] = name
	}
	// Defaults: once on an empty object (what a bare object gets) and once on a
	// filled one (what nested types get). A field whose values differ is
	// conditional (`default=*`).
	for gvk := range kinds {
		parts := strings.SplitN(gvk, "/", 3)
		t := goTypes[kinds[gvk]]
		for _, filledIn := range []bool{false, true} {
			v := reflect.New(t)
			if filledIn {
				fill(v.Elem(), map[reflect.Type]bool{})
			}
			obj, ok := v.Interface().(runtime.Object)
			if !ok {
				continue
			}
			obj.GetObjectKind().SetGroupVersionKind(groupVersionKind(parts))
			allocating = !filledIn
			defaulted(obj)
		}
	}
	fmt.Fprintln(out, "# Generated by testenv/go/argocd/k8stypes (`make k8s-types`) from the module versions of")
	fmt.Fprintln(out, "# Argo CD v3.5.7 (testenv/go/argocd/go.mod). Do not edit by hand.")
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(out, "kind %s %s\n", k, kinds[k])
	}
	tnames := make([]string, 0, len(types))
	for k := range types {
		tnames = append(tnames, k)
	}
	sort.Strings(tnames)
	for _, tn := range tnames {
		st := types[tn]
		fmt.Fprintf(out, "type %s\n", tn)
		fnames := make([]string, 0, len(st.fields))
		for k := range st.fields {
			fnames = append(fnames, k)
		}
		sort.Strings(fnames)
		for _, fn := range fnames {
			f := st.fields[fn]
			line := fmt.Sprintf("  field %s %s", f.json, f.shape)
			if f.omitempty {
				line += " omitempty"
			}
			if f.mergeKey != "" {
				line += " merge=" + f.mergeKey
			}
			if f.strategy != "" {
				line += " strategy=" + f.strategy
			}
			switch n := len(f.defaults); {
			case conditional[tn+"."+f.json]:
				line += " default=*"
			case n == 0:
			case n == 1:
				for d := range f.defaults {
					line += " default=" + d
				}
			default:
				line += " default=*"
			}
			fmt.Fprintln(out, line)
		}
	}
}
