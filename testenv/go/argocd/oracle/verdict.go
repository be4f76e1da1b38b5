package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/argoproj/argo-cd/gitops-engine/pkg/diff"
	hookutil "github.com/argoproj/argo-cd/gitops-engine/pkg/sync/hook"
	"github.com/argoproj/argo-cd/gitops-engine/pkg/sync/ignore"
	resourceutil "github.com/argoproj/argo-cd/gitops-engine/pkg/sync/resource"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/argo"
	argodiff "github.com/argoproj/argo-cd/v3/util/argo/diff"
	"github.com/argoproj/argo-cd/v3/util/argo/normalizers"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const argocdManager = common.ArgoCDSSAManager // "argocd-controller"

// Answer is Argo CD's verdict on one scenario (fixtures/diff-scenarios/README.md, "An answer").
type Answer struct {
	ScenarioSha256  string            `json:"scenarioSha256,omitempty"`
	Argocd          string            `json:"argocd"`
	Mode            string            `json:"mode"`
	Modified        bool              `json:"modified"`
	Status          *string           `json:"status"`
	AppOutOfSync    bool              `json:"appOutOfSync"`
	RequiresPruning bool              `json:"requiresPruning"`
	Hook            bool              `json:"hook"`
	Paths           []string          `json:"paths"`
	NormalizedLive  any               `json:"normalizedLive"`
	PredictedLive   any               `json:"predictedLive"`
	AtLastSync      *Verdict          `json:"atLastSync"`
	Target          any               `json:"target"`
	Live            any               `json:"live"`
	Application     map[string]any    `json:"application"`
	ArgocdCm        map[string]string `json:"argocdCm"`
	Error           *string           `json:"error"`
}

// Verdict is the short form of a diff: modified, and where.
type Verdict struct {
	Modified bool     `json:"modified"`
	Paths    []string `json:"paths"`
	Error    *string  `json:"error,omitempty"`
}

// Oracle holds what every scenario shares.
type Oracle struct {
	schemas  *Schemas
	settings settingsCache
	version  string
}

type fixedDryRun struct{ out string }

func (f fixedDryRun) Run(context.Context, *unstructured.Unstructured, string) (string, error) {
	return f.out, nil
}

type simulatedDryRun struct{ w *world }

func (s simulatedDryRun) Run(_ context.Context, obj *unstructured.Unstructured, manager string) (string, error) {
	return s.w.dryRun(obj, manager)
}

func errText(err error) *string {
	s := err.Error()
	return &s
}

// Answer computes Argo CD's verdict; a scenario that cannot be read is an error, a comparison
// that Argo CD's code refuses is an answer with `error` set (the controller's ComparisonError).
func (o *Oracle) Answer(ctx context.Context, s *Scenario) (*Answer, error) {
	desired, hasDesired, err := object(s.Desired, "desired", false)
	if err != nil {
		return nil, err
	}
	if !hasDesired {
		return nil, errors.New("desired is required (null: not in Git)")
	}
	synced, hasSynced, err := object(s.Synced, "synced", false)
	if err != nil {
		return nil, err
	}
	if !hasSynced {
		synced = desired
	}
	live, hasLive, err := object(s.Live, "live", false)
	if err != nil {
		return nil, err
	}
	if hasLive == (len(s.Writes) > 0) {
		return nil, fmt.Errorf("give exactly one of live and writes")
	}
	ref := desired
	if ref == nil {
		ref = synced
	}
	if ref == nil {
		ref = live
	}
	gitMoved := !equalJSON(objOrNil(desired), objOrNil(synced))
	appMap, app, err := application(s, ref, gitMoved)
	if err != nil {
		return nil, err
	}
	set, err := o.settings.get(ctx, s.ArgocdCm)
	a := &Answer{Argocd: o.version, Application: appMap, ArgocdCm: s.ArgocdCm, Paths: []string{}}
	if a.ArgocdCm == nil {
		a.ArgocdCm = map[string]string{}
	}
	if err != nil {
		a.Error = errText(err)
		return a, nil
	}
	tracking := argo.NewResourceTracking()
	instance := app.InstanceName(controllerNamespace)
	withTracking := func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		if u == nil {
			return nil, nil
		}
		u = u.DeepCopy()
		if err := tracking.SetAppInstance(u, set.AppLabelKey, instance, app.Spec.Destination.Namespace,
			v1alpha1.TrackingMethod(set.TrackingMethod), set.InstallationID); err != nil {
			return nil, err
		}
		return u, nil
	}
	if desired, err = withTracking(desired); err != nil {
		return nil, err
	}
	if synced, err = withTracking(synced); err != nil {
		return nil, err
	}

	serverSideApply := app.Spec.SyncPolicy != nil && app.Spec.SyncPolicy.SyncOptions.HasOption("ServerSideApply=true")
	w := &world{schemas: o.schemas}
	if hasLive {
		w.live = live
	} else {
		err := w.play(s.Writes, func(sw *SyncWrite) (*unstructured.Unstructured, bool, error) {
			obj := synced
			if sw.Object != nil {
				var err error
				if obj, err = withTracking(&unstructured.Unstructured{Object: clone(sw.Object)}); err != nil {
					return nil, false, err
				}
			}
			if obj == nil {
				return nil, false, fmt.Errorf("sync of nothing: synced/desired is null")
			}
			ss := serverSideApply || resourceutil.HasAnnotationOption(obj, "argocd.argoproj.io/sync-options", "ServerSideApply=true")
			if sw.ServerSide != nil {
				ss = *sw.ServerSide
			}
			return obj, ss, nil
		})
		if err != nil {
			return nil, err
		}
		live = w.live
	}
	if live != nil {
		a.Live = live.Object
	}
	if desired != nil {
		a.Target = desired.Object
	}

	serverSideDiff := controllerServerSideDiff(s.ArgocdCmdParams) ||
		resourceutil.HasAnnotationOption(app, common.AnnotationCompareOptions, "ServerSideDiff=true")
	if resourceutil.HasAnnotationOption(app, common.AnnotationCompareOptions, "ServerSideDiff=false") {
		serverSideDiff = false
	}
	build := func(dry diff.ServerSideDryRunner) (argodiff.DiffConfig, error) {
		b := argodiff.NewDiffConfigBuilder().
			WithDiffSettings(app.Spec.IgnoreDifferences, set.Overrides, set.Compare.IgnoreAggregatedRoles, normalizers.IgnoreNormalizerOpts{}).
			WithTracking(set.AppLabelKey, set.TrackingMethod).
			WithNoCache().
			WithLogger(logr.Discard())
		if resourceutil.HasAnnotationOption(app, common.AnnotationCompareOptions, "IncludeMutationWebhook=true") {
			b.WithIgnoreMutationWebhook(false)
		}
		b.WithGVKParser(o.schemas.GVKParser)
		b.WithManager(argocdManager)
		b.WithServerSideDiff(serverSideDiff)
		if serverSideDiff {
			b.WithServerSideDryRunner(dry)
		}
		if serverSideApply {
			b.WithStructuredMergeDiff(true)
		}
		return b.Build()
	}
	var dry diff.ServerSideDryRunner = simulatedDryRun{w}
	if s.DryRun != nil {
		out, _ := json.Marshal(s.DryRun) // a JSON document: cannot fail
		dry = fixedDryRun{string(out)}
	}
	cfg, err := build(dry)
	if err != nil {
		a.Error = errText(err)
		return a, nil
	}
	a.Mode = mode(desired, live, serverSideDiff, serverSideApply)
	res, err := argodiff.StateDiff(live, desired, cfg)
	if err != nil {
		// The controller records a ComparisonError and no resource status.
		a.Error = errText(err)
		o.status(a, app, set, desired, live)
		a.Status, a.AppOutOfSync = nil, false
		return a, nil
	}
	a.Modified = res.Modified
	if a.NormalizedLive, err = decode(res.NormalizedLive); err != nil {
		return nil, err
	}
	if a.PredictedLive, err = decode(res.PredictedLive); err != nil {
		return nil, err
	}
	a.Paths = paths(a.NormalizedLive, a.PredictedLive, ref)

	// What Argo CD would say had Git not moved.
	if gitMoved {
		cfg, err := build(simulatedDryRun{w})
		if err != nil {
			return nil, err
		}
		v := &Verdict{Paths: []string{}}
		if r, err := argodiff.StateDiff(live, synced, cfg); err != nil {
			v.Error = errText(err)
		} else {
			n, err1 := decode(r.NormalizedLive)
			p, err2 := decode(r.PredictedLive)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("undecodable diff result")
			}
			v.Modified = r.Modified
			v.Paths = paths(n, p, ref)
		}
		a.AtLastSync = v
	} else {
		a.AtLastSync = &Verdict{Modified: a.Modified, Paths: a.Paths}
	}

	o.status(a, app, set, desired, live)
	return a, nil
}

func objOrNil(u *unstructured.Unstructured) any {
	if u == nil {
		return nil
	}
	return u.Object
}

func decode(b []byte) (any, error) {
	var v any
	if len(b) == 0 {
		return nil, nil
	}
	err := json.Unmarshal(b, &v)
	return v, err
}

// mode: which of gitops-engine's diffs Diff() picks (gitops-engine pkg/diff/diff.go Diff).
func mode(config, live *unstructured.Unstructured, ssd, smd bool) string {
	switch {
	case config == nil:
		return "delete"
	case live == nil:
		return "create"
	case ssd:
		return "serverSide"
	case smd || resourceutil.HasAnnotationOption(config, "argocd.argoproj.io/sync-options", "ServerSideApply=true"):
		return "structuredMerge"
	}
	if orig, err := diff.GetLastAppliedConfigAnnotation(live); err == nil && orig != nil {
		return "threeWay"
	}
	return "twoWay"
}

// status: the resource's sync status, as controller/state.go CompareAppState sets it.
func (o *Oracle) status(a *Answer, app *v1alpha1.Application, set *Settings, target, live *unstructured.Unstructured) {
	obj := live
	if obj == nil {
		obj = target
	}
	if obj == nil {
		return
	}
	self := selfReferenced(live, target, app.InstanceName(controllerNamespace), v1alpha1.TrackingMethod(set.TrackingMethod), set.InstallationID)
	a.Hook = isHook(obj)
	a.RequiresPruning = target == nil && live != nil && self
	var status string
	switch {
	case a.Hook || ignore.Ignore(obj) || (target != nil && hookutil.Skip(target)) || !self:
		// not stored, does not count
	case a.Modified || target == nil || live == nil:
		status = string(v1alpha1.SyncStatusCodeOutOfSync)
		needsPruning := target == nil && live != nil
		if !needsPruning || !resourceutil.HasAnnotationOption(obj, common.AnnotationCompareOptions, "IgnoreExtraneous") {
			a.AppOutOfSync = true
		}
	default:
		status = string(v1alpha1.SyncStatusCodeSynced)
	}
	if status != "" {
		a.Status = &status
	}
	// The Application as the controller would leave it: this resource in status.resources.
	gvk := obj.GroupVersionKind()
	res := map[string]any{
		"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind,
		"namespace": obj.GetNamespace(), "name": obj.GetName(),
	}
	if a.Status != nil && a.Error == nil {
		res["status"] = *a.Status
	}
	if a.RequiresPruning {
		res["requiresPruning"] = true
	}
	if a.Hook {
		res["hook"] = true
	}
	st, _ := a.Application["status"].(map[string]any)
	st = clone(st)
	st["resources"] = []any{res}
	sync, _ := st["sync"].(map[string]any)
	if sync == nil {
		sync = map[string]any{}
	}
	if _, given := sync["status"]; !given && a.Error == nil {
		if a.AppOutOfSync {
			sync["status"] = string(v1alpha1.SyncStatusCodeOutOfSync)
		} else {
			sync["status"] = string(v1alpha1.SyncStatusCodeSynced)
		}
	}
	st["sync"] = sync
	a.Application["status"] = st
}

// controller/hook.go isHook: gitops-engine's hooks plus Argo CD's PreDelete/PostDelete.
func isHook(obj *unstructured.Unstructured) bool {
	if hookutil.IsHook(obj) {
		return true
	}
	for _, t := range resourceutil.GetAnnotationCSVs(obj, "argocd.argoproj.io/hook") {
		if t == "PreDelete" || t == "PostDelete" {
			return true
		}
	}
	return false
}

// controller/state.go isSelfReferencedObj.
func selfReferenced(live, config *unstructured.Unstructured, appName string, method v1alpha1.TrackingMethod, installationID string) bool {
	if live == nil || method == v1alpha1.TrackingMethodLabel {
		return true
	}
	var aiv argo.AppInstanceValue
	if config != nil {
		aiv = argo.UnstructuredToAppInstanceValue(config, appName, "")
	} else if p := argo.NewResourceTracking().GetAppInstance(live, method, installationID); p != nil {
		aiv = *p
	} else {
		return true
	}
	return (live.GetNamespace() == aiv.Namespace || live.GetNamespace() == "") &&
		live.GetName() == aiv.Name &&
		live.GroupVersionKind().Group == aiv.Group &&
		live.GroupVersionKind().Kind == aiv.Kind
}
