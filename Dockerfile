# syntax=docker/dockerfile:1
# argocd-drift: one static binary on a minimal runtime, run as a non-root user.
#
#   docker build -t registry.example.com/argocd-drift:0.1.0 .
#
# The build stage links the C runtime statically (crt-static), so the binary needs no shared
# library; the runtime image only adds CA certificates and a non-root user. Without a Docker
# engine, scripts/build-image.sh builds the same image with buildah (see README: Image).
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p argocd-drift --bin argocd-drift \
 && install -D -m 0555 target/x86_64-unknown-linux-gnu/release/argocd-drift /out/argocd-drift

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/argocd-drift /argocd-drift
# distroless' nonroot user; the chart also sets runAsUser 65532 and a read-only root filesystem.
USER 65532:65532
# API (Argo CD's proxy), probes and metrics, reports.
EXPOSE 8080 8081 8082
ENTRYPOINT ["/argocd-drift"]
CMD ["serve"]
