//go:build tools

// The binary is upstream's own multi-call main, built straight from the
// dependency: `go build github.com/argoproj/argo-cd/v3/cmd` (see
// ../../real-argocd.sh). A main package cannot be imported, so this file
// imports what that main imports; it keeps `go mod tidy` from dropping the
// requirements. It is never compiled (build tag "tools").
package argocd

import (
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-applicationset-controller/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-cmp-server/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-commit-server/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-dex/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-git-ask-pass/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-k8s-auth/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-notification/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd-server/commands"
	_ "github.com/argoproj/argo-cd/v3/cmd/argocd/commands"
	_ "github.com/argoproj/argo-cd/v3/common"
	_ "github.com/argoproj/argo-cd/v3/util/grpc"
	_ "github.com/argoproj/argo-cd/v3/util/log"
	_ "github.com/spf13/cobra"
	_ "k8s.io/klog/v2"
)
