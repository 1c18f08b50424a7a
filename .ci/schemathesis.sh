#!/usr/bin/env bash
# schemathesis against a real node: every answer of the REST API must be documented in
# /api/v1/openapi.json (status, content type, headers, body schema), and none may be a 5xx.
#
# Builds `forest`, starts one node with --auth on free 127.0.0.1 ports in a temporary
# directory, gives it a group and a job to act on, runs schemathesis (installed with pip if
# missing) as the administrator with a bounded number of examples per operation (ST_EXAMPLES,
# 50 by default), stops the node, and exits with schemathesis' result. The node's log is
# printed when the run fails.
#
# The administrator token is the one the node bootstraps into `admin.token` in its data
# directory; FOREST_API_TOKEN (`fst_<id>_<secret>`, as `forest ctl token create` prints) makes
# the node take that one instead (--admin-token-file).
#
# /api/v1/events is left out: it is a server-sent event stream that never ends, which
# schemathesis would wait on until its timeout; tests/http_api.rs reads it.
set -uo pipefail
cd "$(dirname "$0")/.."

EXAMPLES=${ST_EXAMPLES:-50}

log() { echo "schemathesis.sh: $*" >&2; }

if ! command -v st >/dev/null 2>&1; then
    log "installing schemathesis"
    if ! python3 -m pip install -q schemathesis >&2; then
        log "schemathesis not installable: SKIPPED"
        exit 0
    fi
fi

log "building forest"
cargo build --locked --bin forest >&2 || exit 1
forest="${CARGO_TARGET_DIR:-target}/debug/forest"

dir=$(mktemp -d)
node=""
cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

read -r grpc_port http_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
base=http://127.0.0.1:$http_port
token_file=$dir/data/admin.token
given=()
if [ -n "${FOREST_API_TOKEN:-}" ]; then
    token_file=$dir/admin.token
    (umask 077 && echo "$FOREST_API_TOKEN" >"$token_file")
    given=(--admin-token-file "$token_file")
fi
"$forest" serve --data-dir "$dir/data" --grpc-addr "127.0.0.1:$grpc_port" \
    --http-addr "127.0.0.1:$http_port" --auth "${given[@]}" >"$dir/node.log" 2>&1 &
node=$!

# Ready once the administrator token it names is accepted.
auth=()
for _ in $(seq 1 150); do
    if [ -s "$token_file" ]; then
        auth=(-H "Authorization: Bearer $(head -n 1 "$token_file")")
        curl -sf "${auth[@]}" "$base/api/v1/groups" >/dev/null 2>&1 && break
    fi
    auth=()
    sleep 0.2
done
if [ ${#auth[@]} -eq 0 ]; then
    log "the node did not become ready"; cat "$dir/node.log" >&2; exit 1
fi

# Something for the routes under /api/v1/jobs/{id} to find: without it they only answer 404.
post() {
    curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d "$2" "$base$1" >/dev/null ||
        { log "POST $1 failed"; cat "$dir/node.log" >&2; exit 1; }
}
post /api/v1/groups '{"name":"st","remark":"schemathesis"}'
post /api/v1/jobs '{"id":"st-job","name":"probe","group":"st","cron":"0 0 3 * * *","target":"shell","params":"true"}'
post /api/v1/jobs/st-job/run '{}'

# Routes under /api/v1/jobs/{id} act on that job (DELETE excepted, so it stays); elsewhere the
# path parameters are generated.
cat >"$dir/schemathesis.toml" <<'EOF'
[[operations]]
include-path-regex = "^/api/v1/jobs/\\{id\\}"
exclude-method = "DELETE"
parameters = { id = "st-job" }
EOF

log "running, at most $EXAMPLES examples per operation"
# From the temporary directory, where schemathesis keeps its cache (.schemathesis/).
(cd "$dir" && st --config-file schemathesis.toml run "$base/api/v1/openapi.json" --url "$base" \
    "${auth[@]}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --exclude-path /api/v1/events \
    --max-examples "$EXAMPLES" --request-timeout 10 --workers 2 --no-color >&2)
result=$?
if [ $result -ne 0 ]; then
    log "FAILED; the node's log:"; tail -n 50 "$dir/node.log" >&2
fi
exit $result
