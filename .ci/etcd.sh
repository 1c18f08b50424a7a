#!/usr/bin/env bash
# Debian's real etcd and etcdctl for the etcd adapter's tests (tests/etcd.rs), which run one
# etcdctl script against Forest and against a real etcd and compare what it prints.
#
# Installs the packages etcd-server and etcd-client with apt-get if missing and prints
#   export FOREST_TEST_ETCD=...
#   export FOREST_TEST_ETCDCTL=...
# on stdout, so `.ci/run` can `eval "$(.ci/etcd.sh)"`. Everything else goes to stderr. Starts
# nothing: each test starts its own etcd on free ports. When the packages cannot be had it
# prints nothing, and those tests say SKIPPED instead of failing the build.
set -u

log() { echo "etcd.sh: $*" >&2; }

if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    log "installing etcd-server etcd-client"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq etcd-server etcd-client; } >&2 ||
        log "etcd-server / etcd-client not installable"
fi
if command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; then
    log "$(etcd --version | head -n 1)"
    echo "export FOREST_TEST_ETCD=$(command -v etcd)"
    echo "export FOREST_TEST_ETCDCTL=$(command -v etcdctl)"
else
    log "etcd unavailable: the etcdctl comparison tests will be skipped"
fi
exit 0
