#!/usr/bin/env bash
# LibriSpeech BiLSTM-CTC recipe: data preparation -> fbank -> training (one GPU,
# or several under torchrun) -> averaging -> greedy decoding -> scoring ->
# lexicon and word LM -> LM weights tuned on dev -> beam-search decoding ->
# scoring -> results table.  Stages 1-9 are the shared ones of
# ../TEMPLATE/ctc.sh (options documented there; `run.sh --help` lists them
# all); run a range with --stage N --stop-stage M.  Feature extraction and
# decoding run $nj jobs through the launcher of ../TEMPLATE/cmd.sh (local
# processes, or Slurm).  Outputs go to data/ and exp/ beside this file.
#
#   bash run.sh --librispeech-root /path/to/LibriSpeech  # a local copy (or set LIBRISPEECH_ROOT)
#   bash run.sh                                          # downloads from OpenSLR (internet, ~60 GB)
#   bash run.sh --ngpu 8                                 # training on 8 GPUs, conf/train_8gpu.yaml
#   bash run.sh --nj 32 --cmd "slurm --partition=cpu"    # parallel jobs (default launcher: cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD             # the corpus and LM text paths are relative to where run.sh was called from
cd "$(dirname "$0")"        # conf/, data/, exp/ are relative to this folder
source ../TEMPLATE/ctc.sh   # the shared stages and their defaults: LibriSpeech's settings come after

librispeech_root=${LIBRISPEECH_ROOT:-}  # local copy (LibriSpeech/ or its parent); empty: download
download_dir=../../data/downloads      # where a download goes (ignored by git)
train_subsets="train-clean-100 train-clean-360 train-other-500"
train_set=train_960                    # the data dir joining $train_subsets
eval_subsets="dev-clean dev-other test-clean test-other"  # decoded and scored (the data dirs: $eval_sets)
dev_set=dev_clean                      # epoch choice and LM tuning; one of $eval_subsets
nj=8                                   # parallel jobs for features and decoding (see ../TEMPLATE/cmd.sh)
ngpu=1                                 # training processes; more than 1: torchrun, one a GPU
config=                                # training YAML; empty: conf/train_${ngpu}gpu.yaml
# Speed perturbation triples the training features (float32 fbank of 960 h is about
# 110 GB on disk already), so it is off by default; "0.9 1.0 1.1" turns it on.
speed_perturb=1.0
beam_systems=word_lm
# Word LM text: empty trains on the training transcripts; a local copy of the official
# LM corpus (librispeech-lm-norm.txt.gz, OpenSLR 11: 800 M words) needs KenLM's lmplz.
lm_text=
word_lm_order=3
lm_weights=0.25,0.5,0.75,1,1.5         # grids searched on $dev_set, never on a test set
word_scores=-1,0,1,2
metric=wer

check_options() {
  if [ -n "$librispeech_root" ] && [[ "$librispeech_root" != /* ]]; then librispeech_root=$caller_dir/$librispeech_root; fi
  : "${config:=conf/train_${ngpu}gpu.yaml}"
  eval_sets=${eval_subsets//-/_}       # data dir names; decoding dirs keep the hyphens
}

prepare_data() {  # stage 0: data/<subset> for every subset, and $train_set joining the training ones
  log "  from ${librispeech_root:-a download into $download_dir}"
  # shellcheck disable=SC2086  # the subset lists split into words
  step "$data/.done.prepare" asr prepare librispeech ${librispeech_root:+--root "$librispeech_root"} --download-dir "$download_dir" \
    --out "$data" --subsets $train_subsets $eval_subsets --combine "$train_set=${train_subsets// /,}"
}

ctc_run "$@"
