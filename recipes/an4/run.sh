#!/usr/bin/env bash
# AN4 BiLSTM-CTC recipe: data preparation -> fbank -> training -> averaging ->
# greedy decoding -> scoring -> LMs from the training text -> weights tuned on
# dev -> beam-search decoding -> scoring -> results table.  Each stage is one or
# a few `asr` commands; run a range with --stage N --stop-stage M.  Outputs go
# to data/ and exp/ beside this file.
#
#   bash run.sh --an4-root /path/to/an4      # a local copy (or set AN4_ROOT)
#   bash run.sh                              # downloads AN4 from CMU (internet)
#   bash run.sh --nj 8 --cmd "slurm --partition=cpu"   # parallel jobs (default launcher: cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")"
source ../../tools/env.sh
. ./cmd.sh                 # $cmd: the launcher of the parallel jobs

stage=0
stop_stage=100
an4_root=${AN4_ROOT:-}     # local AN4 copy; empty: download into $download_dir
download_dir=../../data/downloads  # where a download goes (ignored by git)
dev_speakers=5             # training speakers held out for model choice
config=conf/train.yaml
speed_perturb=1.0          # e.g. "0.9 1.0 1.1" (3x the data an epoch); on AN4 more epochs did better (RESULTS.md)
average=5                  # epochs averaged, chosen by dev CER
data=data
exp=exp/train
nj=1                       # parallel jobs for features and decoding (AN4 is small: on 2 cores one is fastest)
force=false                # true: re-run the steps already done
epochs=                    # override the config's epoch count (smoke tests)
word_lm_order=3
char_lm_order=6
lm_weights=0.05,0.1,0.25,0.5,1,1.5,2  # grids searched on dev, never on test
word_scores=-2,-1,0,1,2,3,4,5
sil_scores=-4,-3,-2,-1,0,1
source ../../tools/parse_options.sh
source ../../tools/step.sh
if [ "$force" = true ]; then resume=--overwrite; else resume=--resume; fi  # --force true retrains from scratch
# The corpus path is relative to where run.sh was called from; the others to this folder.
if [ -n "$an4_root" ] && [[ "$an4_root" != /* ]]; then an4_root=$caller_dir/$an4_root; fi

log() { echo "$(date '+%F %T') $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: data preparation"
  step "$data/.done.prepare" asr prepare an4 ${an4_root:+--root "$an4_root"} --download-dir "$download_dir" --out "$data" --dev-speakers "$dev_speakers"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: fbank features (speed perturbation $speed_perturb on train)"
  step "$data/train_sp/.done.features" asr features "$data/train" "$data/train_sp" --speed-perturb $speed_perturb \
    --nj "$nj" --cmd "$cmd"
  for part in dev test; do
    step "$data/$part/.done.features" asr features "$data/$part" "$data/$part" --nj "$nj" --cmd "$cmd"
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: training (log: $exp/train.log)"
  step "$exp/.done.train" asr train --config "$config" --train "$data/train_sp" --dev "$data/dev" --exp "$exp" $resume \
    ${epochs:+--epochs "$epochs"}
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: averaging the $average best epochs by dev CER"
  step "$exp/.done.average" asr average --exp "$exp" --best "$average" --out "$exp/model.pt"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: greedy decoding"
  for part in dev test; do
    step "$exp/decode_greedy_$part/.done.decode" asr decode --model "$exp/model.pt" --data "$data/$part" \
      --out "$exp/decode_greedy_$part" --nj "$nj" --cmd "$cmd"
  done
fi

score() {  # score PART DECODE_DIR
  asr score --mode all --ref "$data/$1/text" --hyp "$2/text" --out-dir "$2/scoring" --utt2spk "$data/$1/utt2spk" >/dev/null
  echo "$2: $(head -n 1 "$2/scoring/wer") | $(head -n 1 "$2/scoring/cer")"
}

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: scoring greedy decoding"
  for part in dev test; do
    score "$part" "$exp/decode_greedy_$part"
  done
fi

lm=$exp/lm
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  log "stage 6: lexicon, word ${word_lm_order}-gram and character ${char_lm_order}-gram LMs from the training text"
  step "$lm/.done.lexicon" asr lm lexicon --text "$data/train/text" --model "$exp/model.pt" --out "$lm/lexicon.txt"
  step "$lm/.done.word_lm" asr lm train --text "$data/train/text" --unit word --order "$word_lm_order" --out "$lm/word.arpa"
  step "$lm/.done.char_lm" asr lm train --text "$data/train/text" --unit char --order "$char_lm_order" --out "$lm/char.arpa"
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  log "stage 7: tuning LM weight and insertion bonus on dev"
  step "$exp/tune_word_lm/.done.tune" asr tune --model "$exp/model.pt" --data "$data/dev" --out "$exp/tune_word_lm" \
    --lexicon "$lm/lexicon.txt" --lm "$lm/word.arpa" --grid "lm_weight=$lm_weights" "word_score=$word_scores"
  step "$exp/tune_char_lm/.done.tune" asr tune --model "$exp/model.pt" --data "$data/dev" --out "$exp/tune_char_lm" \
    --lm "$lm/char.arpa" --grid "lm_weight=$lm_weights" "sil_score=$sil_scores"
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "stage 8: beam-search decoding (lexicon without LM; with the tuned LM weights), and scoring"
  for part in dev test; do
    step "$exp/decode_lexicon_$part/.done.decode" asr decode --model "$exp/model.pt" --data "$data/$part" \
      --lexicon "$lm/lexicon.txt" --out "$exp/decode_lexicon_$part" --nj "$nj" --cmd "$cmd"
    score "$part" "$exp/decode_lexicon_$part"
  done
  for system in word_lm char_lm; do
    for part in dev test; do
      step "$exp/decode_${system}_$part/.done.decode" asr decode --model "$exp/model.pt" --data "$data/$part" \
        --config "$exp/tune_$system/decode.yaml" --out "$exp/decode_${system}_$part" --ctm --nj "$nj" --cmd "$cmd"
      score "$part" "$exp/decode_${system}_$part"
    done
  done
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  log "stage 9: results table ($exp/results.md)"
  python ../../tools/results_table.py "$exp"/decode_* | tee "$exp/results.md"
fi
