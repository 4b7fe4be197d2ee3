#!/usr/bin/env bash
# bench/cold-start.sh: a fresh gateway process against itself warmed (issue 14). For each load it
# starts wsgate (CHECKOUT/dist), waits for its first answer, then runs the same 3 s window four
# times: cold (the process's first traffic), warm, warm again, and after a config reload (POST
# /api/reload: a new runtime in the same process); each with the gateway's CPU time
# (/proc/<pid>/stat) per operation, which noise on a shared machine moves less than throughput.
# `up_ms` is the time from spawning the process to its first answer (50 ms polls), warm-up included.
#
#   PEERS=<harness dir with bin/backend and bin/loadgen built> bench/cold-start.sh CHECKOUT
#   GWARGS=--no-warmup ... bench/cold-start.sh CHECKOUT     # the same build without its warm-up
#
#   GWARGS='--warmup 300ms' ... bench/cold-start.sh CHECKOUT  # another warm-up budget
#
# Loads: ws = 200 WebSockets × 64 B, 1 in flight, 3 s; hs = batches of 500 handshakes (256 at a time,
# each connection closed as soon as it is open) for 3 s; http = wrk -t1 -c50 GET /, 3 s. After each
# window the script waits until the gateway lists no connection, so a window pays for its own closes.
# Gateway on CPU 1, the rest on CPU 0.
set -u
DIR=$1
# shellcheck source=bench/peers-gateway.sh
source "$(dirname "$0")/peers-gateway.sh"
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s.trim().split("\n").pop());process.stdout.write(String(j[process.argv[1]]))})' "$1"; }
# Each prints "operations result": messages and msg/s, handshakes and seconds, requests and req/s.
ws() { local j; j=$(taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns 200 -size 64 -duration 3s); echo "$(echo "$j" | json msgs) $(echo "$j" | json msgs_per_s)"; }
idle() { for _ in $(seq 100); do [ "$(curl -s "http://127.0.0.1:$((GPORT + 5))/api/connections?limit=1" | json total)" = 0 ] && return; sleep 0.05; done; }
hs() {
  local n=0 end=$(( $(date +%s%N) + 3000000000 )) t0=$(date +%s%N)
  while [ "$(date +%s%N)" -lt "$end" ]; do
    taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns 500 -connect-only -hold 0 >/dev/null
    n=$((n + 500))
  done
  idle
  echo "$n $(( n * 1000000000 / ($(date +%s%N) - t0) ))/s"
}
http() { local r; r=$(taskset -c 0 wrk -t1 -c50 -d3s "http://127.0.0.1:$GPORT/" | awk '/requests in/{print $1} /Requests\/sec/{print $2}' | tr '\n' ' '); echo "$r"; }
for load in ws hs http; do
  t_start=$(date +%s%N)
  # shellcheck disable=SC2086 # GWARGS is a list of flags
  start_gateway "$DIR" ${GWARGS:-}
  line="$load up_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))"
  for phase in cold warm warm2 reload; do
    [ "$phase" = reload ] && curl -s -o /dev/null -X POST "http://127.0.0.1:$((GPORT + 5))/api/reload"
    read -r t0 f0 < <(awk '{print $14 + $15, $10}' "/proc/$GW/stat")
    read -r ops result < <($load)
    read -r t1 f1 < <(awk '{print $14 + $15, $10}' "/proc/$GW/stat")
    # minor page faults per 100 operations: memory the process maps afresh (a cold heap grows)
    line="$line $phase=$result cpu_us_per_op=$(( ops > 0 ? (t1 - t0) * 10000 / ops : 0 )) faults_per_100=$(( ops > 0 ? (f1 - f0) * 100 / ops : 0 ))"
  done
  kill "$GW"; wait "$GW" 2>/dev/null
  echo "$line"
done
[ -n "$BACKEND" ] && kill "$BACKEND"
