# shellcheck shell=bash disable=SC2034 # variables are for the scripts that source this
# Shared by netns-up, netns-exec and netns-down. Sourced after lib.sh, never run.

# Small per-namespace records (address, host interface); /run is cleared on reboot, as are the
# namespaces themselves.
NETNS_STATE=/run/sealed-secrets-rs-netns

check_netns_name() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]] || die "invalid network namespace name: $1"
}

# host_if NAME: the host end of NAME's veth. Interface names stop at 15 characters, so it is
# derived from a checksum of NAME rather than NAME itself.
host_if() {
  printf 'ssrs%08x' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"
}
