#!/usr/bin/env bash
# GPU check (at most a few minutes): trains a few AN4 epochs with the AN4 recipe's
# model and `amp: bf16` on a CUDA GPU, decodes the test set on it (greedy), and
# prints the GPU, training throughput (input frames/s per epoch) and decoding speed.
#
#   bash tools/gpu_check.sh [--an4-root DIR] [--epochs 3] [--device cuda] [--work DIR] [--nj 8]
#
# --device cpu runs the same steps on the CPU (a smoke test of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
an4_root=${AN4_ROOT:-../shared/corpora/an4}
epochs=3
device=cuda
work=exp/gpu_check
nj=$(( $(nproc) < 8 ? $(nproc) : 8 ))
while [ $# -gt 0 ]; do
  case "$1" in
    --an4-root|--epochs|--device|--work|--nj) declare "$(echo "${1#--}" | tr - _)=$2"; shift 2 ;;
    *) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
source tools/env.sh

python - "$device" <<'EOF'
import sys, torch
device = sys.argv[1]
if device.startswith("cuda"):
    if not torch.cuda.is_available():
        sys.exit("gpu_check.sh: torch sees no CUDA device")
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"bf16 supported: {torch.cuda.is_bf16_supported()}")
else:
    print(f"device {device}, torch {torch.__version__}")
EOF

data=$work/data
if [ ! -f "$data/.done" ]; then
  asr prepare an4 --root "$an4_root" --out "$data" >/dev/null
  for part in train dev test; do
    asr features "$data/$part" "$data/$part" --nj "$nj" >/dev/null
  done
  touch "$data/.done"
fi

# The recipe's model and schedule, on the device in bfloat16, all cores' threads.
python - "$device" "$work/train.yaml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open("recipes/an4/conf/train.yaml"))
config.update(device=sys.argv[1].split(":")[0], amp="bf16", threads=0)
yaml.safe_dump(config, open(sys.argv[2], "w"), sort_keys=False)
EOF
asr train --config "$work/train.yaml" --train "$data/train" --dev "$data/dev" --exp "$work/exp" \
  --epochs "$epochs" --overwrite 2> "$work/train.err" >/dev/null || { tail -5 "$work/train.err"; exit 1; }
frames=$(awk '{n += $2} END {print n}' "$data/train/utt2num_frames")
grep -E "INFO (amp |model:)" "$work/exp/train.log" | sed 's/^[0-9-]* [0-9:,]* INFO //'
grep -o "epoch [0-9]*:.*" "$work/exp/train.log" | awk -v f="$frames" \
  '{printf "%s  %.0f input frames/s (train + dev pass)\n", $0, f / $(NF-1)}'

asr average --exp "$work/exp" --best 1 --out "$work/model.pt" >/dev/null
asr decode --model "$work/model.pt" --data "$data/test" --out "$work/decode_test" --device "$device" >/dev/null
asr score --mode all --ref "$data/test/text" --hyp "$work/decode_test/text" | grep -E "^%WER"
sed -n 's/^\(audio_seconds\|decode_seconds\|rtf\) /decode \1 /p' "$work/decode_test/decode.log"
