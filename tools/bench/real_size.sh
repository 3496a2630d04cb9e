#!/usr/bin/env bash
# real_size.sh — one 256×256 image at the real model size, ldm against diffusers.
#
#   tools/bench/real_size.sh [--steps N] [--threads T] [--scratch DIR] [--check-weights]
#                            [--config CFG]   (another configuration, for trying the script)
#
# 1. `ldm init` writes a random-weight copy of CompVis/ldm-text2im-large-256
#    (models/ldm-text2im-large-256-config: UNet 872 M, LDMBert 582 M, VAE 84 M
#    parameters, 6.15 GB of float32 .safetensors) into DIR/model, outside the
#    repository (default DIR: /tmp/ldm-real-size; reused when already there).
# 2. `ldm txt2img` on it: 256×256, --steps (50), guidance 6, eta 0, seed 0,
#    --threads (2), --timings.
# 3. diffusers' LDMTextToImagePipeline.from_pretrained on the same folder with
#    the same settings and torch.set_num_threads(--threads)
#    (tools/bench/diffusers_txt2img.py, run with /opt/ldmref/bin/python);
#    --check-weights also checks that diffusers loaded exactly the file's
#    tensors (every name, every value).
# 4. Compares the two images (DESIGN.md §3: max 3 levels, >= 99% within 1)
#    and prints a table: stage, ldm seconds, diffusers seconds, ratio.
#
# Each program runs under /usr/bin/time for its CPU time (user + system).
# Needs ~6.2 GB of disk in DIR and ~7 GB of memory, ~10 GB with --check-weights
# (the two programs run one after the other); the load average is printed
# before and after each run, since other jobs on a shared machine inflate
# wall times.
# Environment: LDM (the ldm binary, default build/ldm), LDM_PYTHON
# (default /opt/ldmref/bin/python).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
ldm=${LDM:-$repo/build/ldm}
py=${LDM_PYTHON:-/opt/ldmref/bin/python}
scratch=/tmp/ldm-real-size
steps=50
threads=2
check=""
config=$repo/models/ldm-text2im-large-256-config
prompt="a painting of a squirrel eating a burger"
while [ $# -gt 0 ]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --scratch) scratch=$2; shift 2 ;;
    --check-weights) check=--check-weights; shift ;;
    --config) config=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "real_size.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
case $scratch in "$repo"|"$repo"/*) echo "real_size.sh: --scratch must be outside the repository" >&2; exit 1 ;; esac
[ -x "$ldm" ] || { echo "real_size.sh: no ldm binary at $ldm (build first)" >&2; exit 1; }
mkdir -p "$scratch"
model=$scratch/model

echo "== machine"
uname -srm
grep -m1 "model name" /proc/cpuinfo || true
echo "cores: $(nproc)"; free -g | sed -n 2p
df -h "$scratch" | tail -1
echo "git: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ ! -f "$model/model_index.json" ]; then
  echo "== ldm init"
  avail=$(df -Pk "$scratch" | awk 'NR==2 {print $4}')
  if [ "$avail" -lt 6600000 ]; then
    echo "real_size.sh: $scratch has $((avail / 1024 / 1024)) GB free, 6.2 GB needed" >&2; exit 2
  fi
  t0=$(date +%s.%N)
  "$ldm" init --config "$config" -o "$model" --seed 0
  printf 'ldm init: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
else
  echo "== reusing $model"
fi

common=(--height 256 --width 256 --guidance-scale 6 --eta 0 --seed 0)
echo "== ldm txt2img: $steps steps, $threads threads   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s.%N)
/usr/bin/time -f "cpu %U %S" -o "$scratch/ldm.cpu" \
  "$ldm" txt2img --model "$model" --prompt "$prompt" "${common[@]}" --steps "$steps" \
  --threads "$threads" --timings -o "$scratch/ldm.png" 2>"$scratch/ldm.log" >/dev/null
ldm_wall=$(printf '%.3f' "$(echo "$(date +%s.%N) - $t0" | bc)")
grep -E "^(wrote|timings)" "$scratch/ldm.log"
echo "wall $ldm_wall s   (load after: $(cut -d' ' -f1-3 /proc/loadavg))"

echo "== diffusers: $steps steps, torch.set_num_threads($threads)   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s.%N)
/usr/bin/time -f "cpu %U %S" -o "$scratch/diffusers.cpu" \
  "$py" "$repo/tools/bench/diffusers_txt2img.py" --model "$model" --prompt "$prompt" \
  "${common[@]}" --steps "$steps" --threads "$threads" --out "$scratch/diffusers.png" \
  --json "$scratch/diffusers.json" --compare "$scratch/ldm.png" $check 2>"$scratch/diffusers.log"
py_wall=$(printf '%.3f' "$(echo "$(date +%s.%N) - $t0" | bc)")
echo "wall $py_wall s   (load after: $(cut -d' ' -f1-3 /proc/loadavg))"

echo "== table"
"$py" - "$scratch/ldm.log" "$scratch/diffusers.json" "$ldm_wall" "$py_wall" \
  "$scratch/ldm.cpu" "$scratch/diffusers.cpu" <<'EOF'
import json, re, sys
log, js, ldm_wall, py_wall = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
def cpu(path):  # user + system seconds of the whole process (/usr/bin/time)
    u, s = open(path).read().split()[-2:]
    return float(u) + float(s)
ldm_cpu, py_cpu = cpu(sys.argv[5]), cpu(sys.argv[6])
line = [l for l in open(log) if l.startswith("timings:")][-1]
def num(pat):
    return float(re.search(pat + r" ([0-9.]+) s", line).group(1))
c = {"load": num("load"), "text_encoder": num("text encoder"), "unet": num("UNet"),
     "scheduler": num("scheduler"), "decoder": num("decoder"), "total": num("total")}
c["unet_per_step"] = float(re.search(r"\(([0-9.]+) s/step\)", line).group(1))
c["peak"] = float(re.search(r"peak memory ([0-9.]+) MB", line).group(1))
d = json.load(open(js))
rows = [
    ("load (weights, plans)*", c["load"], d["load"]),
    ("text encoder (LDMBert, 2x77 tokens)", c["text_encoder"], d["text_encoder"]),
    ("UNet, all steps", c["unet"], d["unet"]),
    ("UNet, per step (batch 2)", c["unet_per_step"], d["unet_per_step"]),
    ("scheduler + guidance", c["scheduler"], d["scheduler"]),
    ("VAE decode*", c["decoder"], d["decoder"]),
    ("generation (no load)", c["total"] - c["load"], d["total"]),
    ("whole process (wall)", ldm_wall, py_wall),
    ("whole process (CPU: user + system)", ldm_cpu, py_cpu),
]
print("| stage | ldm s | diffusers s | diffusers / ldm |")
print("|---|---:|---:|---:|")
for name, a, b in rows:
    ratio = f"{b / a:.2f}" if a >= 0.0005 else "-"
    print(f"| {name} | {a:.3f} | {b:.3f} | {ratio} |")
print(f"| peak memory (MB) | {c['peak']:.0f} | {d['peak_rss_mb']:.0f} | |")
print()
print(f"steps {d['steps']}, threads: ldm {line.split(',')[-1].strip()}, torch {d['threads']} "
      f"(torch {d['torch']}, CPU capability {d['cpu_capability']})")
print("* ldm's load is LDMBert + UNet (read, convert, pack); its VAE load is inside 'VAE decode'.")
print("  diffusers' load is from_pretrained of the whole pipeline (safetensors are mapped;")
print("  pages are read during the first forwards, so its load looks short).")
print("  CPU time counts both threads, including OpenMP spin-waits; on a shared machine it")
print("  is the less load-dependent figure, wall time the one a user sees.")
ok = d["max_abs_diff"] <= 3 and d["within_1"] >= 0.99
print(f"image: max abs diff {d['max_abs_diff']} levels of 255, {100 * d['within_1']:.3f}% of "
      f"values within 1 level -> {'within' if ok else 'OUTSIDE'} DESIGN.md §3 tolerances")
EOF
