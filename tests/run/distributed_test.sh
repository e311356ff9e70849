#!/usr/bin/env bash
# Several ranks of a real `genius run` over loopback (c10d: TCPStore + Gloo):
#  1. a 2-rank run through `genius launch` and one through the torchrun
#     variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) each equal a
#     1-rank run: records, pairs, audit and base eval identical, trained
#     weights within float tolerance;
#  2. kill -9 of rank 1 mid-run: rank 0 stops within the timeout naming
#     rank 1, the launcher fails, and `--resume` of the whole job ends equal
#     to an uninterrupted 2-rank run (every file, checkpoints byte-equal).
#   distributed_test.sh GENIUS_BINARY
set -euo pipefail
genius=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'pkill -9 -P $$ 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT

"$genius" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1 --out "$work/model" >/dev/null
python3 "$here/make_tiny_task.py" "$work"
cp "$here/resume.toml" "$work/run.toml"
cd "$work"
sets=(--set run.threads=1 --set distributed.timeout_seconds=5)
one=(--set run.iterations=1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
same() {  # same FILE in run dirs $1 and $2
  if ! cmp -s "$1/$3" "$2/$3"; then echo "FAIL: $3 differs between $1 and $2"; exit 1; fi
}

# ---- 1. equal to one process
"$genius" run run.toml "${sets[@]}" "${one[@]}" --out one >/dev/null 2>one.log
"$genius" launch --nproc 2 -- run run.toml "${sets[@]}" "${one[@]}" --out launched >/dev/null 2>launched.log
port=$(free_port)
for rank in 0 1; do
  RANK=$rank WORLD_SIZE=2 LOCAL_RANK=$rank LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$genius" run run.toml "${sets[@]}" "${one[@]}" --out envvars >/dev/null 2>>envvars.log &
done
wait
for two in launched envvars; do
  for f in iter-1/records.jsonl iter-1/pairs.jsonl iter-1/audit/records.jsonl iter-1/audit/items.jsonl \
           iter-0/eval.jsonl; do
    same one "$two" "$f"
  done
  if compgen -G "$two/iter-1/records.rank-*" >/dev/null; then echo "FAIL: $two kept its record shards"; exit 1; fi
  python3 "$here/compare_weights.py" one/iter-1/checkpoint/model.safetensors \
    "$two/iter-1/checkpoint/model.safetensors" --atol 1e-6
  python3 - one "$two" <<'EOF'
import json, sys
a, b = ([json.loads(l) for l in open(f"{d}/iter-1/train_metrics.jsonl")] for d in sys.argv[1:3])
assert len(a) == len(b) > 0, (len(a), len(b))
worst = max(abs(x["loss"] - y["loss"]) for x, y in zip(a, b))
assert worst < 1e-5, f"losses differ by {worst}"
assert all(x["tokens"] == y["tokens"] for x, y in zip(a, b)), "token counts differ"
s = json.load(open(f"{sys.argv[2]}/summary.json"))
assert s["stages"]["train-1"]["ranks"] == 2 and s["stages"]["explore-1"]["ranks"] == 2, s["stages"]
print(f"{sys.argv[2]}: {len(a)} steps, losses within {worst:.2g} of one process")
EOF
done
echo "2 ranks (launch and env vars) equal 1 rank"

# ---- 2. kill -9 of rank 1, then --resume of the whole job
"$genius" launch --nproc 2 -- run run.toml "${sets[@]}" --out whole >/dev/null 2>whole.log
rank_pid() {  # the pid of rank $2 among the children of $1
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "RANK=$2"; then echo "$p"; return; fi
  done
}
kill_at() {  # start the job, kill -9 rank 1 once $1 exists, expect a failure naming rank 1
  local milestone=$1 args=(run run.toml "${sets[@]}" --out killed)
  if [[ -f killed/config.resolved.toml ]]; then args+=(--resume); fi
  "$genius" launch --nproc 2 -- "${args[@]}" >/dev/null 2>killed.log &
  local launcher=$! victim="" started=$SECONDS
  while kill -0 "$launcher" 2>/dev/null; do
    if compgen -G "killed/$milestone" >/dev/null; then victim=$(rank_pid "$launcher" 1); break; fi
    sleep 0.02
  done
  if [[ -z $victim ]]; then wait "$launcher" || true; echo "(the run passed $milestone before rank 1 was found)"; return; fi
  kill -9 "$victim"
  local killed_at=$SECONDS status=0
  wait "$launcher" || status=$?
  if [[ $status -eq 0 ]]; then echo "FAIL: the job succeeded although rank 1 was killed"; exit 1; fi
  if ! grep -q "rank 1 (pid $victim) was killed by signal 9" killed.log; then
    echo "FAIL: the launcher did not name the killed rank"; cat killed.log; exit 1
  fi
  if ! grep -q "\[rank 0\].*rank 1" killed.log; then
    echo "FAIL: rank 0 did not stop with an error naming rank 1"; cat killed.log; exit 1
  fi
  echo "killed rank 1 at $milestone: the job stopped $((SECONDS - killed_at)) s later ($((SECONDS - started)) s in all)"
  if ((SECONDS - killed_at > 30)); then echo "FAIL: stopping took longer than the 5 s liveness window allows"; exit 1; fi
}
kill_at "iter-1/records.rank-1.jsonl"
kill_at "iter-1/train/checkpoint-*"
kill_at "iter-2/records.rank-*.jsonl"

# A rank that hangs (SIGSTOP: alive, silent): rank 0 names it within the
# liveness window, the launcher ends the job (SIGKILL reaches a stopped process).
"$genius" launch --nproc 2 --grace-seconds 1 -- run run.toml "${sets[@]}" --out killed --resume >/dev/null 2>hung.log &
launcher=$!
victim=""
shard=killed/iter-2/records.rank-1.jsonl
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
before=$(size $shard)
# Mid-run: once rank 1 has appended to its shard, or training has begun.
while kill -0 "$launcher" 2>/dev/null; do
  if [[ $(size $shard) != "$before" ]] || compgen -G "killed/iter-2/train/checkpoint-*" >/dev/null; then
    victim=$(rank_pid "$launcher" 1)
    break
  fi
  sleep 0.02
done
if [[ -n $victim ]]; then
  kill -STOP "$victim"
  stopped_at=$SECONDS status=0
  wait "$launcher" || status=$?
  if [[ $status -eq 0 ]]; then
    echo "(the job finished before rank 1 stopped)"
  else
    grep -q "\[rank 0\].*rank 1 stopped responding" hung.log || { echo "FAIL: the hung rank was not named"; cat hung.log; exit 1; }
    echo "stopped rank 1 (SIGSTOP): the job ended $((SECONDS - stopped_at)) s later, naming it"
  fi
fi
"$genius" launch --nproc 2 -- run run.toml "${sets[@]}" --out killed --resume >/dev/null 2>>killed.log
python3 "$here/compare_runs.py" whole killed
echo "the resumed job equals the uninterrupted one"
