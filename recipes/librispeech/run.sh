#!/usr/bin/env bash
# LibriSpeech BiLSTM-CTC recipe: data preparation -> fbank -> training (one GPU,
# or several under torchrun) -> averaging -> greedy decoding -> scoring ->
# lexicon and word LM -> LM weights tuned on dev -> beam-search decoding ->
# scoring -> results table.  Each stage is one or a few `asr` commands; run a
# range with --stage N --stop-stage M.  Feature extraction and decoding run
# $nj jobs through the launcher of cmd.sh (local processes, or Slurm).  Outputs
# go to data/ and exp/ beside this file.
#
#   bash run.sh --librispeech-root /path/to/LibriSpeech  # a local copy (or set LIBRISPEECH_ROOT)
#   bash run.sh                                          # downloads from OpenSLR (internet, ~60 GB)
#   bash run.sh --ngpu 8                                 # training on 8 GPUs, conf/train_8gpu.yaml
#   bash run.sh --nj 32 --cmd "slurm --partition=cpu"    # parallel jobs (default launcher: cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")"
source ../../tools/env.sh
source ./cmd.sh             # $cmd: the launcher of the parallel jobs

stage=0
stop_stage=100
librispeech_root=${LIBRISPEECH_ROOT:-}  # local copy (LibriSpeech/ or its parent); empty: download
download_dir=../../data/downloads      # where a download goes (ignored by git)
train_subsets="train-clean-100 train-clean-360 train-other-500"
train_set=train_960                    # the data dir joining $train_subsets
eval_subsets="dev-clean dev-other test-clean test-other"  # decoded and scored
dev_set=dev_clean                      # epoch choice and LM tuning; one of $eval_subsets
nj=8                                   # parallel jobs for features and decoding (see cmd.sh)
force=false                            # true: re-run the steps already done
ngpu=1                                 # training processes; more than 1: torchrun, one a GPU
torchrun_opts=--standalone             # multi-node: "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint HOST:29400 --rdzv-id ID"
config=                                # training YAML; empty: conf/train_${ngpu}gpu.yaml
# Speed perturbation triples the training features (float32 fbank of 960 h is about
# 110 GB on disk already), so it is off by default; "0.9 1.0 1.1" turns it on.
speed_perturb=1.0
average=5                              # epochs averaged, chosen by dev CER
data=data
exp=exp/train
epochs=                                # override the config's epoch count
# Word LM text: empty trains on the training transcripts; a local copy of the official
# LM corpus (librispeech-lm-norm.txt.gz, OpenSLR 11: 800 M words) needs KenLM's lmplz.
lm_text=
word_lm_order=3
lm_weights=0.25,0.5,0.75,1,1.5  # grids searched on $dev_set, never on a test set
word_scores=-1,0,1,2
source ../../tools/parse_options.sh
source ../../tools/step.sh
if [ "$force" = true ]; then resume=--overwrite; else resume=--resume; fi  # --force true retrains from scratch
# The corpus and LM text paths are relative to where run.sh was called from; the others to this folder.
if [ -n "$librispeech_root" ] && [[ "$librispeech_root" != /* ]]; then librispeech_root=$caller_dir/$librispeech_root; fi
if [ -n "$lm_text" ] && [[ "$lm_text" != /* ]]; then lm_text=$caller_dir/$lm_text; fi
: "${config:=conf/train_${ngpu}gpu.yaml}"
eval_sets=${eval_subsets//-/_}
case " $eval_sets " in
  *" $dev_set "*) ;;
  *) echo "$0: --dev-set $dev_set is not among --eval-subsets ($eval_subsets)" >&2; exit 1 ;;
esac
if [ "$speed_perturb" = 1.0 ]; then train_feats=$data/$train_set; else train_feats=$data/${train_set}_sp; fi

log() { echo "$(date '+%F %T') $*"; }
unzip_to() { gunzip -c "$1" >"$2"; }  # unzip_to FILE.gz FILE: a command for step

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: data preparation (${librispeech_root:-download into $download_dir})"
  # shellcheck disable=SC2086  # the subset lists split into words
  step "$data/.done.prepare" asr prepare librispeech ${librispeech_root:+--root "$librispeech_root"} --download-dir "$download_dir" \
    --out "$data" --subsets $train_subsets $eval_subsets --combine "$train_set=${train_subsets// /,}"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: fbank features, $nj jobs (speed perturbation $speed_perturb on $train_set)"
  # shellcheck disable=SC2086
  step "$train_feats/.done.features" asr features "$data/$train_set" "$train_feats" --speed-perturb $speed_perturb --nj "$nj" --cmd "$cmd"
  for part in $eval_sets; do
    step "$data/$part/.done.features" asr features "$data/$part" "$data/$part" --nj "$nj" --cmd "$cmd"
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: training, $ngpu process(es), $config (log: $exp/train.log)"
  if [ "$ngpu" -gt 1 ]; then
    # shellcheck disable=SC2086  # $torchrun_opts holds several options
    launcher=(torchrun $torchrun_opts --nproc-per-node "$ngpu" -m asr)
  else
    launcher=(asr)
  fi
  step "$exp/.done.train" "${launcher[@]}" train --config "$config" --train "$train_feats" --dev "$data/$dev_set" --exp "$exp" $resume \
    ${epochs:+--epochs "$epochs"}
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: averaging the $average best epochs by dev CER"
  step "$exp/.done.average" asr average --exp "$exp" --best "$average" --out "$exp/model.pt"
fi

# Decoding dirs are named decode_<system>_<subset> with the subset's official (hyphenated)
# name, so that tools/results_table.py labels them "dev-clean, greedy".
decode_dir() { echo "$exp/decode_$1_${2//_/-}"; }  # decode_dir SYSTEM PART

decode() {  # decode SYSTEM PART ARGS...: data/PART into decode_dir SYSTEM PART, $nj jobs
  local dir
  dir=$(decode_dir "$1" "$2")
  step "$dir/.done.decode" asr decode --model "$exp/model.pt" --data "$data/$2" --out "$dir" --nj "$nj" --cmd "$cmd" "${@:3}"
}

score() {  # score SYSTEM PART
  local dir
  dir=$(decode_dir "$1" "$2")
  asr score --mode all --ref "$data/$2/text" --hyp "$dir/text" --out-dir "$dir/scoring" --utt2spk "$data/$2/utt2spk" >/dev/null
  echo "$dir: $(head -n 1 "$dir/scoring/wer") | $(head -n 1 "$dir/scoring/cer")"
}

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: greedy decoding, $nj jobs"
  for part in $eval_sets; do
    decode greedy "$part"
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: scoring greedy decoding"
  for part in $eval_sets; do
    score greedy "$part"
  done
fi

lm=$exp/lm
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  if [ -n "$lm_text" ]; then
    command -v lmplz >/dev/null || { echo "$0: --lm-text needs KenLM's lmplz on PATH (800 M words)" >&2; exit 1; }
    log "stage 6: lexicon and word ${word_lm_order}-gram LM from $lm_text"
    mkdir -p "$lm"
    if [[ "$lm_text" == *.gz ]]; then
      step "$lm/.done.lm_text" unzip_to "$lm_text" "$lm/lm_text.txt"
      lm_text=$lm/lm_text.txt
    fi
    lm_source=(--plain --text "$lm_text")
  else
    log "stage 6: lexicon and word ${word_lm_order}-gram LM from the $train_set transcripts"
    lm_source=(--text "$data/$train_set/text")
  fi
  step "$lm/.done.lexicon" asr lm lexicon "${lm_source[@]}" --model "$exp/model.pt" --out "$lm/lexicon.txt"
  step "$lm/.done.word_lm" asr lm train "${lm_source[@]}" --unit word --order "$word_lm_order" --out "$lm/word.arpa"
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  log "stage 7: tuning LM weight and word insertion score on $dev_set"
  step "$exp/tune_word_lm/.done.tune" asr tune --model "$exp/model.pt" --data "$data/$dev_set" --out "$exp/tune_word_lm" \
    --lexicon "$lm/lexicon.txt" --lm "$lm/word.arpa" --grid "lm_weight=$lm_weights" "word_score=$word_scores"
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "stage 8: beam-search decoding with the tuned word LM, $nj jobs, and scoring"
  for part in $eval_sets; do
    decode word_lm "$part" --config "$exp/tune_word_lm/decode.yaml" --ctm
    score word_lm "$part"
  done
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  log "stage 9: results table ($exp/results.md)"
  python ../../tools/results_table.py "$exp"/decode_* | tee "$exp/results.md"
fi
