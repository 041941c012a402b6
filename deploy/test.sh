#!/usr/bin/env bash
# Tests the Kubernetes deployment without a Kubernetes cluster: renders every
# kustomization under deploy/ (the base and each overlay) with
# `kubectl kustomize`, validates every rendered object against the
# Kubernetes API schemas in strict mode (PyPI kubernetes-validate, unknown
# fields fail), then checks the guide's production rules with
# check_manifests.py, whose self-test proves it fails on broken manifests.
# Also checks that the Dockerfile's toolchain matches the project's.
# Runs from anywhere; `make setup` installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

# The oldest Kubernetes minor these manifests must be valid for.
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30}

fail() {
  printf 'deploy/test.sh: %s\n' "$*" >&2
  exit 1
}

command -v kubectl >/dev/null ||
  fail "kubectl is not installed: run \`make setup\` (it installs Debian's kubernetes-client)"
python3 -c 'import kubernetes_validate, yaml' 2>/dev/null ||
  fail "kubernetes-validate or PyYAML is missing: run \`make setup\` (it installs both from PyPI)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every folder with a kustomization: the base, then each overlay.
mapfile -t kustomizations < <(
  find deploy -name kustomization.yaml -printf '%h\n' | sort
)
[ ${#kustomizations[@]} -gt 0 ] || fail "no kustomization.yaml under deploy/"

validate() {
  python3 -m kubernetes_validate --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" "$@"
}

# The validator must refuse what it cannot know, or strict mode means nothing.
cat >"$tmp/unknown-field.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  namspace: typo
EOF
if validate "$tmp/unknown-field.yaml" >"$tmp/unknown-field.out" 2>&1 ||
  ! grep -q "'namspace' was unexpected" "$tmp/unknown-field.out"; then
  cat "$tmp/unknown-field.out" >&2
  fail "kubernetes-validate --strict did not refuse an unknown field; it would not catch typos"
fi

rendered=()
objects=0
for dir in "${kustomizations[@]}"; do
  out="$tmp/$(echo "$dir" | tr / -).yaml"
  if ! kubectl kustomize "$dir" >"$out" 2>"$out.err"; then
    cat "$out.err" >&2
    fail "kubectl kustomize $dir failed"
  fi
  # Newer kustomize warns about the v2-compatible spellings the overlays use
  # on purpose (see deploy/base/kustomization.yaml); show anything else.
  grep -v "is deprecated. Please use" "$out.err" >&2 || true
  if ! validate "$out" >"$out.validate" 2>&1; then
    cat "$out.validate" >&2
    fail "$dir: rendered objects are not valid Kubernetes $KUBERNETES_VERSION objects"
  fi
  objects=$((objects + $(grep -c '^kind:' "$out")))
  rendered+=("$out")
done

python3 deploy/check_manifests.py "${rendered[@]}" ||
  fail "the rendered manifests break the production rules above"
python3 deploy/check_manifests.py --self-test "${rendered[@]}" >"$tmp/self-test.out" || {
  cat "$tmp/self-test.out"
  fail "check_manifests.py does not catch every broken manifest"
}
caught=$(grep -o '[0-9]* broken manifests' "$tmp/self-test.out" | awk '{ n += $1 } END { print n }')

# The image is built with the project's toolchain: the workspace's Rust and
# setup.sh's cargo-leptos, and installs the console's site where the
# manifests say.
rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
grep -q "^FROM rust:$rust-bookworm AS build" Dockerfile ||
  fail "Dockerfile: the build stage is not rust:$rust-bookworm (Cargo.toml's rust-version)"
leptos=$(sed -n 's/^CARGO_LEPTOS_VERSION=\([0-9.]*\).*/\1/p' scripts/setup.sh)
grep -q "^ARG CARGO_LEPTOS_VERSION=$leptos\$" Dockerfile ||
  fail "Dockerfile: cargo-leptos is not $leptos (scripts/setup.sh)"
site=$(grep -A1 'name: LEPTOS_SITE_ROOT' deploy/base/console.yaml | sed -n 's/.*value: //p')
grep -q "^COPY --from=build /out/site $site\$" Dockerfile ||
  fail "Dockerfile: the console's site is not copied to $site (LEPTOS_SITE_ROOT in deploy/base/console.yaml)"

echo "deploy/test.sh: ${#kustomizations[@]} kustomizations rendered, $objects objects valid for Kubernetes $KUBERNETES_VERSION (strict), production rules hold, checker self-test caught $caught of $caught broken manifests, Dockerfile matches the toolchain ($((SECONDS - start))s)"
