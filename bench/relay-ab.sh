#!/usr/bin/env bash
# bench/relay-ab.sh: one measurement of a wsgate checkout's WebSocket relay with the peers harness's
# Go backend and load generator, for interleaved A/B runs of two builds (issue 14). Prints one line:
# MB/s, messages, the gateway's user and system CPU over the window (/proc/<pid>/stat), its peak RSS
# and its minor page faults, so CPU and faults per message can be compared when the machine is noisy.
#
#   PEERS=<harness dir with bin/backend and bin/loadgen built> bench/relay-ab.sh CHECKOUT SIZE SECONDS [CONNS]
#   e.g. for i in 1 2 3; do bench/relay-ab.sh ../before 65536 5; bench/relay-ab.sh . 65536 5; done
#   bench/relay-ab.sh direct 1048576 5     # no gateway: the load generator talks to the backend (×direct)
#
# The gateway (CHECKOUT/dist, built) runs on CPU 1, the backend and load generator on CPU 0, after a
# 1 s warm-up. NODEFLAGS adds node options (--trace-gc, --cpu-prof, --import ...).
set -u
DIR=$1; SIZE=$2; SECS=$3; CONNS=${4:-20}
# shellcheck source=bench/peers-gateway.sh
source "$(dirname "$0")/peers-gateway.sh"
if [ "$DIR" = direct ]; then
  # No gateway: the same load straight to the backend; the gateway's columns read 0.
  GPORT=$BPORT
  taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns "$CONNS" -size "$SIZE" -duration 1s >/dev/null 2>&1
  OUT=$(taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns "$CONNS" -size "$SIZE" -duration "${SECS}s" 2>&1)
  f0=0 u0=0 s0=0 f1=0 u1=0 s1=0 HWM=0
else
  start_gateway "$DIR"
  taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns "$CONNS" -size "$SIZE" -duration 1s >/dev/null 2>&1
  read -r f0 u0 s0 < <(awk '{print $10, $14, $15}' "/proc/$GW/stat")
  OUT=$(taskset -c 0 "$PEERS/bin/loadgen" -url "ws://127.0.0.1:$GPORT/ws" -conns "$CONNS" -size "$SIZE" -duration "${SECS}s" 2>&1)
  read -r f1 u1 s1 < <(awk '{print $10, $14, $15}' "/proc/$GW/stat")
  HWM=$(awk '/VmHWM/{print $2}' "/proc/$GW/status")
  kill "$GW"; wait "$GW" 2>/dev/null
fi
[ -n "$BACKEND" ] && kill "$BACKEND"
MSGS=$(echo "$OUT" | tail -1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);process.stdout.write(`${j.mb_per_s.toFixed(1)} ${j.msgs} ${j.errors}`)})')
read -r MBS N ERR <<<"$MSGS"
NAME=direct; [ "$DIR" != direct ] && NAME=$(basename "$(cd "$DIR" && pwd)")
echo "$NAME size=$SIZE MB/s=$MBS msgs=$N errors=$ERR user=$(( (u1-u0)*10 ))ms sys=$(( (s1-s0)*10 ))ms cpu_us_per_msg=$(( N > 0 ? (u1-u0+s1-s0)*10000/N : 0 )) faults_per_msg=$(awk -v f=$((f1-f0)) -v n="$N" 'BEGIN{printf "%.1f", (n > 0 ? f / n : 0)}') hwm_kb=$HWM"
