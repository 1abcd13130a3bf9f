#!/usr/bin/env bash
# gpu-check.sh [MUSIC_DIR] — the real-GPU check, for a machine with a GPU.
#
# CI has no GPU (lavapipe stands in for the wgpu paths there), so this script
# is what proves the model on real hardware. It builds a release binary, then:
#   1. imports MUSIC_DIR (default: the bundled demo, assets/demo) twice into
#      fresh libraries, once with --device gpu and once with --device cpu, and
#      prints tracks/min and clips/s of each;
#   2. exports both libraries' vectors and prints the largest GPU-vs-CPU
#      difference of any vector component (the model is the same; only
#      floating-point order differs, so this should be ~1e-5 or less);
#   3. runs a short fine-tuning benchmark on the GPU and on the CPU and prints
#      triplets/s of each;
#   4. prints `bench model` for flex (CPU) and wgpu side by side.
# Everything is written under $OUT (or a temporary folder). Exit status is
# non-zero when any step fails, and the log says which.
set -euo pipefail
cd "$(dirname "$0")/.."
MUSIC="${1:-assets/demo}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export CARGO_TERM_COLOR=never
echo "== build (release)"
cargo build --release --locked 2>&1 | tail -n 2
BIN=target/release/tuneatlas
[ -x "$BIN" ] || BIN="${CARGO_TARGET_DIR:-target}/release/tuneatlas"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

for device in gpu cpu; do
    echo "== import $MUSIC with --device $device"
    db="$OUT/$device.db"
    rm -f "$db"*
    t0=$(date +%s.%N)
    "$BIN" --db "$db" import "$MUSIC" --device "$device" --json >"$OUT/import-$device.json"
    t1=$(date +%s.%N)
    tracks=$("$BIN" --db "$db" tracks --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    python3 - "$t0" "$t1" "$tracks" <<'EOF'
import sys
t0, t1, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
s = t1 - t0
print(f"   {n} tracks in {s:.1f} s: {60 * n / s:.0f} tracks/min, ~{12 * n / s:.0f} clips/s (12-clip grid upper bound)")
EOF
    "$BIN" --db "$db" export projector "$OUT/projector-$device" >/dev/null
done

echo "== GPU vs CPU vectors"
python3 - "$OUT/projector-gpu" "$OUT/projector-cpu" <<'EOF'
import sys
def load(d):
    vecs = [list(map(float, l.split("\t"))) for l in open(f"{d}/vectors.tsv")]
    meta = open(f"{d}/metadata.tsv").read().splitlines()[1:]
    return dict(zip(meta, vecs))
g, c = load(sys.argv[1]), load(sys.argv[2])
common = sorted(set(g) & set(c))
worst = max((abs(a - b) for k in common for a, b in zip(g[k], c[k])), default=float("nan"))
print(f"   {len(common)} tracks in both; max |GPU - CPU| over vector components: {worst:.2e}")
sys.exit(0 if common and worst < 1e-3 else 1)
EOF

for device in gpu cpu; do
    echo "== bench finetune --device $device"
    "$BIN" bench finetune --device "$device" --layers top --epochs 2
done

echo "== bench model (flex vs wgpu)"
"$BIN" bench model --backends flex,wgpu --batch-sizes 16,64,256 --min-seconds 2
echo "== done; outputs in $OUT"
