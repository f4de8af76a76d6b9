#!/usr/bin/env bash
# Handwriting BiLSTM-CTC recipe on Copiste d'un jour text lines: data
# preparation -> line-image features -> training (conv front end, image
# distortions) -> averaging -> greedy decoding -> CER/WER, case-sensitive and
# case-insensitive -> character LM from the training text -> weights tuned on
# dev -> beam-search decoding -> results table.  The same stages and `asr`
# commands as recipes/an4; run a range with --stage N --stop-stage M.
#
#   bash run.sh --copiste-root /path/to/copiste-lines   # or set COPISTE_ROOT
#   bash run.sh --corpus iam --iam-root /path/to/iam --iam-splits "train=tr.lst dev=va.lst test=te.lst"
#   bash run.sh --nj 8 --cmd "slurm --partition=cpu"   # parallel jobs (default launcher: cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")"
source ../../tools/env.sh
. ./cmd.sh                 # $cmd: the launcher of the parallel jobs

stage=0
stop_stage=100
corpus=copiste             # or iam: IAM's line layout, with the split lists of your task
copiste_root=${COPISTE_ROOT:-}   # the corpus folder (lines.tsv, lines/); no download exists
iam_root=${IAM_ROOT:-}     # IAM: the folder with ascii/lines.txt and lines/
iam_splits=                # IAM: "train=LIST dev=LIST test=LIST", files of line or form ids
features_config=conf/image.yaml
config=conf/train.yaml
average=5                  # epochs averaged, chosen by dev CER
data=data
exp=exp/train
nj=1                       # parallel jobs for features and decoding
force=false                # true: re-run the steps already done
epochs=                    # override the config's epoch count (smoke tests)
char_lm_order=6            # at most 6: flashlight's KenLM
lm_weights=0.5,0.75,1.0,1.25  # grids searched on dev (by CER), never on test
sil_scores=-1,0,1
source ../../tools/parse_options.sh
source ../../tools/step.sh
if [ "$force" = true ]; then resume=--overwrite; else resume=--resume; fi  # --force true retrains from scratch
case $corpus in
  copiste) root=$copiste_root; prepare_opts=() ;;
  iam) root=$iam_root; prepare_opts=()
       for split in $iam_splits; do  # list files are relative to where run.sh was called from
         [[ "${split#*=}" = /* ]] || split=${split%%=*}=$caller_dir/${split#*=}
         prepare_opts+=(--split "$split")
       done ;;
  *) echo "$0: --corpus must be copiste or iam, got '$corpus'" >&2; exit 1 ;;
esac
if [ -z "$root" ]; then echo "$0: give --${corpus}-root (or ${corpus^^}_ROOT)" >&2; exit 1; fi
if [[ "$root" != /* ]]; then root=$caller_dir/$root; fi

log() { echo "$(date '+%F %T') $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: data preparation"
  step "$data/.done.prepare" asr prepare "$corpus" --root "$root" "${prepare_opts[@]}" --out "$data"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: line-image features"
  for part in train dev test; do
    step "$data/$part/.done.features" asr features "$data/$part" "$data/$part" --config "$features_config" \
      --nj "$nj" --cmd "$cmd"
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: training (log: $exp/train.log)"
  step "$exp/.done.train" asr train --config "$config" --train "$data/train" --dev "$data/dev" --exp "$exp" $resume \
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

# The labels are the copied text in mixed case, whatever case the writer used
# (see the corpus's SOURCE.md): score both as written and case-folded.
score() {  # score PART DECODE_DIR
  asr score --mode all --ref "$data/$1/text" --hyp "$2/text" --out-dir "$2/scoring" --utt2spk "$data/$1/utt2spk" >/dev/null
  asr score --mode all --ref "$data/$1/text" --hyp "$2/text" --out-dir "$2/scoring_nocase" --utt2spk "$data/$1/utt2spk" \
    --lowercase >/dev/null
  echo "$2: $(head -n 1 "$2/scoring/cer") | case-insensitive: $(head -n 1 "$2/scoring_nocase/cer")"
}

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: scoring greedy decoding"
  for part in dev test; do
    score "$part" "$exp/decode_greedy_$part"
  done
fi

lm=$exp/lm
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  log "stage 6: character ${char_lm_order}-gram LM from the training text"
  step "$lm/.done.char_lm" asr lm train --text "$data/train/text" --unit char --order "$char_lm_order" --out "$lm/char.arpa"
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  log "stage 7: tuning LM weight and word-boundary score on dev"
  step "$exp/tune_char_lm/.done.tune" asr tune --model "$exp/model.pt" --data "$data/dev" --out "$exp/tune_char_lm" \
    --lm "$lm/char.arpa" --grid "lm_weight=$lm_weights" "sil_score=$sil_scores" --metric cer
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "stage 8: beam-search decoding with the character LM, and scoring"
  for part in dev test; do
    step "$exp/decode_char_lm_$part/.done.decode" asr decode --model "$exp/model.pt" --data "$data/$part" \
      --config "$exp/tune_char_lm/decode.yaml" --out "$exp/decode_char_lm_$part" --nj "$nj" --cmd "$cmd"
    score "$part" "$exp/decode_char_lm_$part"
  done
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  log "stage 9: results tables ($exp/results.md)"
  {
    echo "## As written (case-sensitive)"; echo
    python ../../tools/results_table.py "$exp"/decode_*
    echo "## Case-insensitive"; echo
    python ../../tools/results_table.py --scoring scoring_nocase "$exp"/decode_*
  } | tee "$exp/results.md"
fi
