#!/usr/bin/env bash
# The device check of issue 17, on a fresh GPU machine with only this repository (docs/GPU.md):
#   bash benchmarks/gpu_check.sh            # report in $OUT if set, else results/gpu_check/
# (1) set-up: the README's `make install` (.venv); (2) the tests marked `gpu` (skipped, saying so, without a GPU)
# and the recipe / device-transform tests (the slow XLA one included when a GPU is there); (3) the throughput
# benchmark at a few-minute budget (--smoke on CPU, saying so); (4) gpu_check.json + gpu_check.md. Under 8 minutes:
# each step has its own time limit, and a step that fails is reported, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.."
REPORT="${OUT:-results/gpu_check}"
BENCH_BUDGET_S="${BENCH_BUDGET_S:-150}"
mkdir -p "$REPORT"
export TF_CPP_MIN_LOG_LEVEL=2
T0=$(date +%s)
step() {  # step NAME LIMIT_S CMD...: runs CMD with a time limit, logs to $REPORT/NAME.log, records rc and seconds
  local name=$1 limit=$2; shift 2
  local t=$(date +%s)
  echo "== $name (limit ${limit}s)"
  timeout "$limit" "$@" > "$REPORT/$name.log" 2>&1
  local rc=$?
  echo "$name $rc $(( $(date +%s) - t ))" >> "$REPORT/steps.txt"
  tail -n 4 "$REPORT/$name.log"
  echo "   -> rc=$rc, $(( $(date +%s) - t )) s"
}
: > "$REPORT/steps.txt"
VENV="${VENV:-.venv}"
step install 240 make install VENV="$VENV"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then echo "set-up failed: see $REPORT/install.log"; PY=python3; fi
HAS_GPU=$($PY -c "import tensorflow as tf; print(int(bool(tf.config.list_physical_devices('GPU'))))" 2>/dev/null || echo 0)
if [ "$HAS_GPU" = "1" ]; then
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$REPORT/nvidia_smi.txt" 2>&1
  echo "GPU found: the gpu tests, the slow XLA / mixed-precision test and the full benchmark run"
  step tests_gpu 180 env HMTL_RUN_SLOW=1 $PY -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py \
    tests/data/test_device_transforms.py \
    "tests/test_recipe.py::test_xla_and_mixed_precision_steps_give_the_float32_loss" \
    "tests/test_recipe.py::test_auto_recipe_is_the_plain_path_on_cpu"
  step throughput $(( BENCH_BUDGET_S + 150 )) $PY benchmarks/gpu_throughput.py --budget_s="$BENCH_BUDGET_S" --steps=20 \
    --out="$REPORT"
else
  echo "NO GPU visible to TensorFlow: the gpu tests are skipped (saying so) and the benchmark runs --smoke on CPU"
  step tests_gpu 180 $PY -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py tests/data/test_device_transforms.py
  step throughput 240 $PY benchmarks/gpu_throughput.py --smoke --out="$REPORT"
fi
TOTAL=$(( $(date +%s) - T0 ))
$PY - "$REPORT" "$HAS_GPU" "$TOTAL" <<'PYEOF'
import json, os, re, sys, time
report, has_gpu, total = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
steps = {}
for line in open(os.path.join(report, "steps.txt")):
    name, rc, secs = line.split()
    steps[name] = {"rc": int(rc), "seconds": int(secs)}
log = open(os.path.join(report, "tests_gpu.log")).read() if os.path.isfile(os.path.join(report, "tests_gpu.log")) else ""
summary = (re.findall(r"^=*\s*(\d+ (?:passed|failed|skipped).*?)\s*=*$", log, re.M) or [""])[-1]
skips = sorted(set(re.findall(r"SKIPPED \[\d+\] [^:]+: (.*)", log)))
tp_path = os.path.join(report, "throughput.json")
tp = json.load(open(tp_path)) if os.path.isfile(tp_path) else None
gpu = open(os.path.join(report, "nvidia_smi.txt")).read().strip() if os.path.isfile(os.path.join(report, "nvidia_smi.txt")) else ""
out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "gpu": has_gpu, "nvidia_smi": gpu,
       "total_s": total, "steps": steps, "tests": summary, "skipped_because": skips,
       "throughput": None if tp is None else {"device": tp["device"], "mode": tp["mode"], "rows": tp["rows"],
                                               "ratios": tp["ratios"], "skipped": tp["skipped"]}}
tmp = os.path.join(report, ".gpu_check.json.tmp")
json.dump(out, open(tmp, "w"), indent=2)
os.replace(tmp, os.path.join(report, "gpu_check.json"))
md = [f"# gpu_check ({out['date']})", "",
      f"GPU: {'yes' if has_gpu else 'NO (GPU parts skipped: gpu tests skipped, benchmark --smoke on CPU)'}"
      + (f" — {gpu.splitlines()[-1]}" if gpu else ""), f"Total: {total} s (target < 480 s)", "",
      "| step | rc | seconds |", "|---|---|---|"] + [
      f"| {k} | {v['rc']}{' (time limit reached)' if v['rc'] in (124, 137) else ''} | {v['seconds']} |"
      for k, v in steps.items()]
md += ["", f"Tests: {summary or 'no pytest summary (see tests_gpu.log)'}"] + [f"- skipped: {s}" for s in skips]
if tp is not None:
    md += ["", open(os.path.join(report, "throughput.md")).read()]
tmp = os.path.join(report, ".gpu_check.md.tmp")
open(tmp, "w").write("\n".join(md) + "\n")
os.replace(tmp, os.path.join(report, "gpu_check.md"))
print("\n".join(md[:12]))
PYEOF
echo "gpu_check: ${TOTAL} s; report in $REPORT/gpu_check.json and gpu_check.md"
