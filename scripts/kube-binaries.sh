#!/usr/bin/env bash
# Builds, once, the Kubernetes v1.20.2 binaries the Kubernetes tests run (kube-apiserver, kubelet) from
# Debian's own `kubernetes` source package, plus the static `pause` binary for the pod sandbox image,
# and caches them OUTSIDE the repo in ${WARDEN_KUBE_CACHE:-/var/cache/warden/kube-v1.20.2}/bin.
# Idempotent: when the binaries are there it exits 0 at once. Why from source: Debian ships no
# kube-apiserver/kubelet package and this machine pulls no images or release tarballs (see
# ../shared/SCALE-OUT.md §1, where every step below was measured). Needs root (apt-get) and ~4 GB of
# scratch space under $TMPDIR, deleted at the end; the build takes 13 min on 2 idle cores (26 min measured
# on a busy machine, load ≈9).
# Nothing here is untrusted input except Debian's archive, which apt verifies.
set -euo pipefail

CACHE="${WARDEN_KUBE_CACHE:-/var/cache/warden/kube-v1.20.2}"
BIN="$CACHE/bin"
VERSION="v1.20.2"
say() { echo "kube: $*" >&2; }
have_all() { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubelet" ] && [ -x "$BIN/pause" ]; }

have_all && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
mkdir -p "$CACHE" 2>/dev/null || { $SUDO mkdir -p "$CACHE" && $SUDO chown "$(id -u):$(id -g)" "$CACHE"; }

# One builder at a time (CI and a developer's test run may both get here); the loser waits, then
# finds the cache filled and exits.
exec 9>"$CACHE/.lock"
flock 9
have_all && exit 0

started=$(date +%s)
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "enabling Debian deb-src (for apt-get source)…"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/warden-debian-src.sources >/dev/null
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $SUDO tee /etc/apt/sources.list.d/warden-debian-src.list >/dev/null
  fi
fi
say "installing the Go toolchain, etcd and build tools (apt-get, ≈20 s)…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go etcd-server etcd-client dpkg-dev \
  rsync golang-github-modern-go-reflect2-dev containernetworking-plugins jq openssl gcc libc6-dev >/dev/null
# Debian's kubectl 1.20 is handy for debugging only, and its package clashes with any other kubectl
# (google-cloud-cli's) over /usr/bin/kubectl: install it only where none exists.
if ! command -v kubectl >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kubernetes-client >/dev/null
fi

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/warden-kube-build.XXXXXX")"
# The Go build cache under _output is ~3 GB: never leave it behind, also on failure.
trap 'chmod -R u+w "$SCRATCH" 2>/dev/null; rm -rf "$SCRATCH"' EXIT
# apt downloads as its `_apt` user when that user may write here (else it warns and downloads as root).
chmod 755 "$SCRATCH" && { $SUDO chown _apt "$SCRATCH" 2>/dev/null || true; }
cd "$SCRATCH"
say "fetching Debian's kubernetes source package…"
apt-get source -qq --download-only kubernetes >/dev/null
tar xzf kubernetes_*.orig.tar.gz
SRC="$SCRATCH/kubernetes-${VERSION#v}"
[ -d "$SRC" ] || { say "expected $SRC in the source package; found: $(ls)"; exit 1; }
cd "$SRC"

# The vendored reflect2 1.0.1 breaks at run time on Go >= 1.18; take Debian's 1.0.2.
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/
rm -f vendor/github.com/modern-go/reflect2/go.mod vendor/github.com/modern-go/reflect2/*_test.go

# Built exactly as Debian's rules do: GOPATH mode with vendor/ (a plain `go build -mod=vendor` fails).
export HOME="$SCRATCH/home" GOCACHE="$SCRATCH/gocache" KUBE_GIT_VERSION="$VERSION" KUBE_GIT_TREE_STATE=clean
mkdir -p "$HOME"
mkdir -p "$BIN"
if [ ! -x "$BIN/kube-apiserver" ]; then
  say "building kube-apiserver (≈8 min)…"
  t=$(date +%s)
  make WHAT=cmd/kube-apiserver GOFLAGS= >"$SCRATCH/make-apiserver.log" 2>&1 ||
    { tail -40 "$SCRATCH/make-apiserver.log" >&2; exit 1; }
  install -m 0755 _output/bin/kube-apiserver "$BIN/kube-apiserver.tmp" && mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  say "kube-apiserver built in $(($(date +%s) - t)) s"
fi
if [ ! -x "$BIN/kubelet" ]; then
  say "building kubelet (≈5 min)…"
  t=$(date +%s)
  make WHAT=cmd/kubelet GOFLAGS= >"$SCRATCH/make-kubelet.log" 2>&1 ||
    { tail -40 "$SCRATCH/make-kubelet.log" >&2; exit 1; }
  install -m 0755 _output/bin/kubelet "$BIN/kubelet.tmp" && mv "$BIN/kubelet.tmp" "$BIN/kubelet"
  say "kubelet built in $(($(date +%s) - t)) s"
fi
# The pod sandbox ("pause") image is built FROM scratch by the test fixture around this binary, since
# no registry is reachable; kept here so the source tree need not be fetched again.
if [ ! -x "$BIN/pause" ]; then
  say "building the static pause binary…"
  gcc -Os -static -o "$BIN/pause.tmp" build/pause/linux/pause.c && mv "$BIN/pause.tmp" "$BIN/pause"
fi
echo "kubernetes $VERSION from Debian source $(ls "$SCRATCH"/kubernetes_*.dsc | xargs -n1 basename)" >"$CACHE/VERSION"
say "done in $(($(date +%s) - started)) s: $BIN"
