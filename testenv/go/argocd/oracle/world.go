package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"time"

	gescheme "github.com/argoproj/argo-cd/gitops-engine/pkg/utils/kube/scheme"
	jsonpatch "github.com/evanphx/json-patch"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kubectlutil "k8s.io/kubectl/pkg/util"
)

// The clock of materialized writes: one minute per write from here.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// world plays a scenario's writes the way a kube-apiserver handles them: the request object is
// decoded into its Go type and defaulted (built-in kinds), Kubernetes' field manager records who
// owns what, and kubectl's client-side apply is a three-way patch with the last-applied
// annotation. No admission webhooks, no validation, no controllers.
type world struct {
	schemas *Schemas
	live    *unstructured.Unstructured
	n       int
}

// objectDefaulter defaults an unstructured built-in object through its Go type with the
// Kubernetes scheme Argo CD uses (gitops-engine's legacyscheme: every apis/*/install).
type objectDefaulter struct{}

func (objectDefaulter) Default(in runtime.Object) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		gescheme.Scheme.Default(in)
		return
	}
	if d, err := defaulted(u); err == nil {
		u.Object = d.Object
	}
}

// defaulted: the object as the API server stores it (typed round trip + scheme defaults); an
// error for kinds the scheme does not know (custom resources are stored as sent).
func defaulted(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	if !gescheme.Scheme.Recognizes(gvk) {
		return nil, fmt.Errorf("%s is not a built-in kind", gvk)
	}
	typed, err := gescheme.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return nil, err
	}
	gescheme.Scheme.Default(typed)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	out := &unstructured.Unstructured{Object: m}
	out.SetGroupVersionKind(gvk)
	// An unset time marshals as null; the API server sets it on create (below).
	unstructured.RemoveNestedField(out.Object, "metadata", "creationTimestamp")
	return out, nil
}

type identityConvertor struct{}

func (identityConvertor) Convert(in, out, context any) error {
	return errors.New("not implemented")
}

func (identityConvertor) ConvertToVersion(in runtime.Object, _ runtime.GroupVersioner) (runtime.Object, error) {
	return in, nil
}

func (identityConvertor) ConvertFieldLabel(schema.GroupVersionKind, string, string) (string, string, error) {
	return "", "", errors.New("not implemented")
}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

func (w *world) fieldManager(gvk schema.GroupVersionKind, subresource string) (*managedfields.FieldManager, error) {
	if gescheme.Scheme.Recognizes(gvk) {
		return managedfields.NewDefaultFieldManager(w.schemas.Types, identityConvertor{}, objectDefaulter{},
			unstructuredCreater{}, gvk, gvk.GroupVersion(), subresource, nil)
	}
	// A custom resource: its CRD's schema when one was given, else every list atomic (what
	// kube-apiserver does for a CRD without one).
	return managedfields.NewDefaultCRDFieldManager(w.schemas.converter(gvk), identityConvertor{}, objectDefaulter{},
		unstructuredCreater{}, gvk, gvk.GroupVersion(), subresource, nil)
}

// emptyLike: the object an API server starts a create from: the kind's Go zero value (so
// `spec: {}` and the like already exist and are nobody's), or an empty custom resource.
func emptyLike(u *unstructured.Unstructured) *unstructured.Unstructured {
	e := &unstructured.Unstructured{Object: map[string]any{}}
	if typed, err := gescheme.Scheme.New(u.GroupVersionKind()); err == nil {
		if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed); err == nil {
			e.Object = m
			unstructured.RemoveNestedField(e.Object, "metadata", "creationTimestamp")
		}
	}
	e.SetGroupVersionKind(u.GroupVersionKind())
	e.SetName(u.GetName())
	e.SetNamespace(u.GetNamespace())
	return e
}

// store: what the API server does to every object it writes.
func (w *world) store(u *unstructured.Unstructured, manager, operation, subresource string) {
	at := metav1.NewTime(epoch.Add(time.Duration(w.n) * time.Minute))
	if w.live == nil {
		u.SetCreationTimestamp(at)
		u.SetUID("00000000-0000-4000-8000-000000000001")
		u.SetGeneration(1)
	} else {
		u.SetCreationTimestamp(w.live.GetCreationTimestamp())
		u.SetUID(w.live.GetUID())
		g := w.live.GetGeneration()
		if subresource == "" && !equalJSON(w.live.Object["spec"], u.Object["spec"]) {
			g++
		}
		u.SetGeneration(g)
	}
	u.SetResourceVersion(fmt.Sprint(1000 + w.n))
	// The field manager stamps the writer's entry with the wall clock: use the scenario's clock.
	entries := u.GetManagedFields()
	for i := range entries {
		e := &entries[i]
		if e.Manager == manager && string(e.Operation) == operation && e.Subresource == subresource {
			e.Time = &at
		}
	}
	u.SetManagedFields(entries)
	w.live = u
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a) // JSON documents: cannot fail
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// secretData: the API server turns stringData into data.
func secretData(u *unstructured.Unstructured) {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return
	}
	sd, ok := u.Object["stringData"].(map[string]any)
	if !ok {
		delete(u.Object, "stringData")
		return
	}
	data, _ := u.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		s, _ := v.(string)
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	u.Object["data"] = data
	delete(u.Object, "stringData")
}

// asStored: the request object decoded and defaulted as the API server would.
func (w *world) asStored(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	secretData(u)
	if d, err := defaulted(u); err == nil {
		return d
	}
	return u
}

// update: a PUT or PATCH by `manager` that results in `next`.
func (w *world) update(next *unstructured.Unstructured, manager, subresource string) error {
	next = w.asStored(next)
	fm, err := w.fieldManager(next.GroupVersionKind(), subresource)
	if err != nil {
		return err
	}
	old := w.live
	if old == nil {
		old = emptyLike(next)
	}
	obj, err := fm.Update(old, next, manager)
	if err != nil {
		return fmt.Errorf("update by %s: %w", manager, err)
	}
	w.store(obj.(*unstructured.Unstructured), manager, "Update", subresource)
	return nil
}

// serverSideApply: kubectl apply --server-side --force-conflicts --field-manager=<manager>.
func (w *world) serverSideApply(obj *unstructured.Unstructured, manager, subresource string) error {
	fm, err := w.fieldManager(obj.GroupVersionKind(), subresource)
	if err != nil {
		return err
	}
	old := w.live
	if old == nil {
		// A create by apply starts from nothing (no field to hand to "before-first-apply").
		old = &unstructured.Unstructured{Object: map[string]any{}}
		old.SetGroupVersionKind(obj.GroupVersionKind())
		old.SetName(obj.GetName())
		old.SetNamespace(obj.GetNamespace())
	}
	applied := obj.DeepCopy()
	secretData(applied)
	out, err := fm.Apply(old, applied, manager, true)
	if err != nil {
		return fmt.Errorf("server-side apply by %s: %w", manager, err)
	}
	u := out.(*unstructured.Unstructured)
	objectDefaulter{}.Default(u)
	w.store(u, manager, "Apply", subresource)
	return nil
}

// clientSideApply: kubectl apply (client-side) of obj as <manager>: create with the
// last-applied annotation, or a three-way patch of (last-applied, obj, live), sent only if
// not empty.
func (w *world) clientSideApply(obj *unstructured.Unstructured, manager string) error {
	obj = obj.DeepCopy()
	modified, err := kubectlutil.GetModifiedConfiguration(obj, true, unstructured.UnstructuredJSONScheme)
	if err != nil {
		return err
	}
	if w.live == nil {
		var created unstructured.Unstructured
		if err := utiljson.Unmarshal(modified, &created.Object); err != nil {
			return err
		}
		return w.update(&created, manager, "")
	}
	original, err := kubectlutil.GetOriginalConfiguration(w.live)
	if err != nil {
		return err
	}
	current, err := json.Marshal(w.live.Object)
	if err != nil {
		return err
	}
	var patched []byte
	gvk := obj.GroupVersionKind()
	if typed, err := gescheme.Scheme.New(gvk); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return err
		}
		patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true)
		if err != nil {
			return fmt.Errorf("kubectl apply patch: %w", err)
		}
		if string(patch) == "{}" {
			return nil
		}
		if patched, err = strategicpatch.StrategicMergePatch(current, patch, typed); err != nil {
			return err
		}
	} else {
		patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current)
		if err != nil {
			return fmt.Errorf("kubectl apply patch: %w", err)
		}
		if string(patch) == "{}" {
			return nil
		}
		if patched, err = jsonpatch.MergePatch(current, patch); err != nil {
			return err
		}
	}
	var next unstructured.Unstructured
	if err := utiljson.Unmarshal(patched, &next.Object); err != nil {
		return err
	}
	return w.update(&next, manager, "")
}

// play runs every write; sync is how Argo CD syncs (the object with its tracking, server-side or not).
func (w *world) play(writes []Write, sync func(*SyncWrite) (*unstructured.Unstructured, bool, error)) error {
	for i, wr := range writes {
		w.n = i
		var err error
		switch {
		case wr.Sync != nil:
			obj, serverSide, e := sync(wr.Sync)
			if e != nil {
				err = e
			} else if serverSide {
				err = w.serverSideApply(obj, argocdManager, "")
			} else {
				err = w.clientSideApply(obj, argocdManager)
			}
		case wr.Delete != nil:
			w.live = nil
		case wr.Manager == "":
			err = errors.New("a write other than sync or delete needs a manager")
		case wr.Merge != nil:
			if w.live == nil {
				return fmt.Errorf("write %d: merge on an object that does not exist", i)
			}
			cur, _ := json.Marshal(w.live.Object) // a JSON document: cannot fail
			p, _ := json.Marshal(wr.Merge)
			out, e := jsonpatch.MergePatch(cur, p)
			if e != nil {
				err = e
				break
			}
			var next unstructured.Unstructured
			if e := utiljson.Unmarshal(out, &next.Object); e != nil {
				err = e
				break
			}
			err = w.update(&next, wr.Manager, wr.Subresource)
		case wr.Update != nil:
			next := &unstructured.Unstructured{Object: clone(wr.Update)}
			if w.live != nil {
				next.SetManagedFields(w.live.GetManagedFields())
			}
			err = w.update(next, wr.Manager, wr.Subresource)
		case wr.Apply != nil:
			err = w.clientSideApply(&unstructured.Unstructured{Object: clone(wr.Apply)}, wr.Manager)
		case wr.ServerSideApply != nil:
			err = w.serverSideApply(&unstructured.Unstructured{Object: clone(wr.ServerSideApply)}, wr.Manager, wr.Subresource)
		default:
			err = errors.New("a write needs one of sync, merge, update, apply, serverSideApply, delete")
		}
		if err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
	}
	return nil
}

// dryRun: what `kubectl apply --server-side --dry-run=server --force-conflicts` answers for obj
// on the current live object (Argo CD's server-side diff asks exactly this).
func (w *world) dryRun(obj *unstructured.Unstructured, manager string) (string, error) {
	saved, n := w.live, w.n
	defer func() { w.live, w.n = saved, n }()
	if w.live != nil {
		w.live = w.live.DeepCopy()
	}
	w.n = 1000
	if err := w.serverSideApply(obj, manager, ""); err != nil {
		return "", err
	}
	out, err := json.Marshal(w.live.Object)
	return string(out), err
}
