#!/usr/bin/env bash
# AN4 BiLSTM-CTC recipe: data preparation -> fbank -> training -> averaging ->
# greedy decoding -> scoring -> LMs from the training text -> weights tuned on
# dev -> beam-search decoding -> scoring -> results table.  Stages 1-9 are the
# shared ones of ../TEMPLATE/ctc.sh (its options are documented there; `run.sh
# --help` lists them all); run a range with --stage N --stop-stage M.  Outputs
# go to data/ and exp/ beside this file.
#
#   bash run.sh --an4-root /path/to/an4      # a local copy (or set AN4_ROOT)
#   bash run.sh                              # downloads AN4 from CMU (internet)
#   bash run.sh --nj 8 --cmd "slurm --partition=cpu"   # parallel jobs (default launcher: ../TEMPLATE/cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD            # the corpus path is relative to where run.sh was called from
cd "$(dirname "$0")"       # conf/, data/, exp/ are relative to this folder
source ../TEMPLATE/ctc.sh  # the shared stages and their defaults: AN4's settings come after

an4_root=${AN4_ROOT:-}     # local AN4 copy; empty: download into $download_dir
download_dir=../../data/downloads  # where a download goes (ignored by git)
dev_speakers=5             # training speakers held out for model choice
config=conf/train.yaml
speed_perturb=1.0          # e.g. "0.9 1.0 1.1" (3x the data an epoch); on AN4 more epochs did better (RESULTS.md)
train_feats_set=train_sp   # the training features, perturbed or not (where every AN4 run put them)
nj=1                       # AN4 is small: on 2 cores one job is fastest
beam_systems="lexicon word_lm char_lm"
word_lm_order=3
char_lm_order=6
lm_weights=0.05,0.1,0.25,0.5,1,1.5,2  # grids searched on dev, never on test
word_scores=-2,-1,0,1,2,3,4,5
sil_scores=-4,-3,-2,-1,0,1
metric=wer

prepare_data() {  # stage 0: data/{train,dev,test} from a local copy or a download
  if [ -n "$an4_root" ] && [[ "$an4_root" != /* ]]; then an4_root=$caller_dir/$an4_root; fi
  step "$data/.done.prepare" asr prepare an4 ${an4_root:+--root "$an4_root"} --download-dir "$download_dir" --out "$data" \
    --dev-speakers "$dev_speakers"
}

ctc_run "$@"
