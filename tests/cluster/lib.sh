# shellcheck shell=bash disable=SC2034 # variables are for the scripts that source this
# Shared settings and helpers for the local control-plane harness (tests/cluster/*).
# Sourced, never run. Everything version-related lives here so one edit re-pins the harness.

# Pinned versions. kube-apiserver and kube-controller-manager come from k8s.io/kubernetes at
# K8S_VERSION, with every k8s.io/* staging module replaced by its published v0.MINOR.PATCH twin.
K8S_VERSION="${SSRS_K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${SSRS_ETCD_VERSION:-v3.6.16}"
K8S_STAGING_VERSION="v0.${K8S_VERSION#v1.}"

# The host-side address of every harness veth (tests/cluster/netns-up): the API server listens on
# all addresses, names this one in its certificate, and `up` writes DIR/kubeconfig-netns for it.
NETNS_GATEWAY=10.200.0.1

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SSRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sealed-secrets-rs}"
K8S_BIN="$CACHE/kubernetes-$K8S_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"

# Never let `go` fetch another toolchain: the module proxy is for modules, and the harness must
# build with the Go that is installed.
export GOTOOLCHAIN=local

die() {
  echo "${0##*/}: error: $*" >&2
  exit 1
}

log() {
  echo "${0##*/}: $*" >&2
}

# need_cmd COMMAND [DEBIAN_PACKAGE]: installs the Debian package that provides COMMAND when it is
# missing, so the scripts work on a fresh machine.
need_cmd() {
  local cmd="$1" pkg="${2:-$1}"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available to install $pkg"
  log "installing $pkg (provides $cmd)"
  if [ "$(id -u)" -ne 0 ]; then
    die "$cmd is missing; install the Debian package $pkg (needs root)"
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg") >&2 \
    || die "could not install $pkg"
  command -v "$cmd" >/dev/null 2>&1 || die "$pkg installed but $cmd is still missing"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root ($1)"
}

# kubectl is used by every script after `up`; the pinned one lives on the machine image.
kubectl_bin() {
  if command -v kubectl >/dev/null 2>&1; then
    command -v kubectl
  else
    die "kubectl is not on PATH"
  fi
}

# require_cluster DIR: DIR must hold a running harness (written by `up`).
require_cluster() {
  local dir="$1"
  [ -f "$dir/cluster.env" ] || die "$dir holds no cluster (run tests/cluster/up $dir first)"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
}

# running PID: true while PID exists and is not a zombie. A stopped component stays a zombie
# until its parent reaps it: `up` itself when it cleans up after a failure, otherwise init,
# which here may take a moment.
running() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
  [ "$state" != Z ]
}

# admin_kubeconfig: the cluster-admin kubeconfig of the cluster loaded by require_cluster, in the
# variant that reaches the API server from where this runs (inside a harness network namespace,
# 127.0.0.1 is the namespace's own loopback).
admin_kubeconfig() {
  if [ -n "${SSRS_NETNS:-}" ]; then
    echo "$CLUSTER_DIR/kubeconfig-netns"
  else
    echo "$CLUSTER_DIR/kubeconfig"
  fi
}

# wait_for TIMEOUT_SECONDS NAME PIDFILE COMMAND...: polls COMMAND every 0.1 s until it succeeds;
# fails at once if the process in PIDFILE has exited, and after TIMEOUT_SECONDS otherwise.
wait_for() {
  local timeout="$1" name="$2" pidfile="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$pidfile")" 2>/dev/null \
      || die "$name exited during start-up (log: ${pidfile%/pids/*}/logs/$name.log)"
    [ "$SECONDS" -lt "$deadline" ] \
      || die "$name not ready after $timeout s (log: ${pidfile%/pids/*}/logs/$name.log)"
    sleep 0.1
  done
}
