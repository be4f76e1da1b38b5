package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/settings"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Settings are what the application controller reads from argocd-cm before it diffs
// (controller/state.go getComparisonSettings, GetResourceCompareOptions), read by Argo CD's own
// SettingsManager from a fake clientset that holds the scenario's argocd-cm.
type Settings struct {
	Overrides      map[string]v1alpha1.ResourceOverride
	Compare        settings.ArgoCDDiffOptions
	AppLabelKey    string
	TrackingMethod string
	InstallationID string
}

type settingsCache map[string]*settingsResult

type settingsResult struct {
	s   *Settings
	err error
}

func (c settingsCache) get(ctx context.Context, data map[string]string) (*Settings, error) {
	key, _ := json.Marshal(data) // map[string]string: cannot fail; keys sorted
	if r, ok := c[string(key)]; ok {
		return r.s, r.err
	}
	s, err := readSettings(ctx, data)
	c[string(key)] = &settingsResult{s, err}
	return s, err
}

func readSettings(ctx context.Context, data map[string]string) (*Settings, error) {
	labels := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: controllerNamespace, Labels: labels},
		Data:       data,
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: controllerNamespace, Labels: labels},
		Data:       map[string][]byte{},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the SettingsManager's informers: everything is read below
	mgr := settings.NewSettingsManager(ctx, fake.NewClientset(cm, secret), controllerNamespace)
	var s Settings
	var err error
	if s.Overrides, err = mgr.GetResourceOverrides(); err != nil {
		return nil, fmt.Errorf("argocd-cm resource overrides: %w", err)
	}
	if s.Compare, err = mgr.GetResourceCompareOptions(); err != nil {
		return nil, fmt.Errorf("argocd-cm resource.compareoptions: %w", err)
	}
	if s.AppLabelKey, err = mgr.GetAppInstanceLabelKey(); err != nil {
		return nil, fmt.Errorf("argocd-cm application.instanceLabelKey: %w", err)
	}
	if s.TrackingMethod, err = mgr.GetTrackingMethod(); err != nil {
		return nil, fmt.Errorf("argocd-cm application.resourceTrackingMethod: %w", err)
	}
	if s.InstallationID, err = mgr.GetInstallationID(); err != nil {
		return nil, fmt.Errorf("argocd-cm installationID: %w", err)
	}
	return &s, nil
}

// The controller-wide server-side diff switch (--server-side-diff-enabled; argocd-cmd-params-cm
// controller.diff.server.side, read with strconv.ParseBool as the flag's env var is).
func controllerServerSideDiff(params map[string]string) bool {
	v, ok := params["controller.diff.server.side"]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}
