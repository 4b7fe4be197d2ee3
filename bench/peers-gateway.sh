# bench/peers-gateway.sh: what bench/relay-ab.sh and bench/cold-start.sh share, sourced by both: a
# work folder, the one-route gateway config, the peers harness's Go backend (started unless one already
# answers on BPORT), and start_gateway, which starts CHECKOUT's gateway on CPU 1 and waits for it.
# Needs PEERS (the harness directory, with bin/backend and bin/loadgen built); sets WORK, BPORT,
# GPORT and BACKEND, and GW once start_gateway ran.
: "${PEERS:?set PEERS to the peers harness directory (with bin/backend and bin/loadgen)}"
BPORT=${BPORT:-21001}; GPORT=${GPORT:-21110}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/gw.yaml" <<CONF
listen:
  - { port: $GPORT, host: 127.0.0.1 }
admin:
  listen: 127.0.0.1:$((GPORT + 5))
workers: 1
log: { level: warn }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:$BPORT
routes:
  - name: all
    match: { path: "/*" }
    upstream: app
    websocket: { maxMessageBytes: 2mb }
CONF
BACKEND=
if ! curl -s -o /dev/null "http://127.0.0.1:$BPORT/"; then
  taskset -c 0 "$PEERS/bin/backend" -addr "127.0.0.1:$BPORT" >/dev/null 2>&1 &
  BACKEND=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$BPORT/" && break; sleep 0.1; done
fi

# start_gateway CHECKOUT [wsgate start flags...]: NODEFLAGS adds node options (--trace-gc, --cpu-prof, ...).
start_gateway() {
  local dir=$1; shift
  # shellcheck disable=SC2086 # NODEFLAGS is a list of flags
  taskset -c 1 node ${NODEFLAGS:-} "$dir/dist/cli/main.js" start -c "$WORK/gw.yaml" "$@" >"$WORK/gw.log" 2>&1 &
  GW=$!
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$GPORT/" 2>/dev/null && break; sleep 0.05; done
}
