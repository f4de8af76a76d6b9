#!/usr/bin/env bash
# AN4 BiLSTM-CTC recipe: data preparation -> fbank -> training -> averaging ->
# decoding -> scoring.  Each stage is one `asr` command; run a range of them
# with --stage N --stop-stage M.  Outputs go to data/ and exp/ beside this file.
#
#   bash run.sh --an4-root /path/to/an4      # a local copy (or set AN4_ROOT)
#   bash run.sh                              # downloads AN4 from CMU (internet)
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")"
source ../../tools/env.sh

stage=0
stop_stage=100
an4_root=${AN4_ROOT:-}     # local AN4 copy; empty: download into $download_dir
download_dir=../../data/downloads  # where a download goes (ignored by git)
dev_speakers=5             # training speakers held out for model choice
config=conf/train.yaml
speed_perturb="0.9 1.0 1.1"
average=5                  # epochs averaged, chosen by dev CER
data=data
exp=exp/train
epochs=                    # override the config's epoch count (smoke tests)
source ../../tools/parse_options.sh
# The corpus path is relative to where run.sh was called from; the others to this folder.
if [ -n "$an4_root" ] && [[ "$an4_root" != /* ]]; then an4_root=$caller_dir/$an4_root; fi

log() { echo "$(date '+%F %T') $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: data preparation"
  asr prepare an4 ${an4_root:+--root "$an4_root"} --download-dir "$download_dir" --out "$data" --dev-speakers "$dev_speakers"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: fbank features (speed perturbation $speed_perturb on train)"
  asr features "$data/train" "$data/train_sp" --speed-perturb $speed_perturb
  for part in dev test; do
    asr features "$data/$part" "$data/$part"
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: training (log: $exp/train.log)"
  asr train --config "$config" --train "$data/train_sp" --dev "$data/dev" --exp "$exp" --resume \
    ${epochs:+--epochs "$epochs"}
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: averaging the $average best epochs by dev CER"
  asr average --exp "$exp" --best "$average" --out "$exp/model.pt"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: greedy decoding"
  for part in dev test; do
    asr decode --model "$exp/model.pt" --data "$data/$part" --out "$exp/decode_greedy_$part"
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: scoring"
  for part in dev test; do
    asr score --ref "$data/$part/text" --hyp "$exp/decode_greedy_$part/text" \
      --out-dir "$exp/decode_greedy_$part/scoring" --spk-pattern '^[^-]+-([^-]+)-'
  done
  tail -n +1 "$exp"/decode_greedy_*/scoring/wer "$exp"/decode_greedy_*/scoring/cer 2>/dev/null || true
fi
