#!/usr/bin/env bash
# Handwriting BiLSTM-CTC recipe on Copiste d'un jour text lines: data
# preparation -> line-image features -> training (conv front end, image
# distortions) -> averaging -> greedy decoding -> CER/WER, case-sensitive and
# case-insensitive -> character LM from the training text -> weights tuned on
# dev -> beam-search decoding -> results table.  Stages 1-9 are the shared ones
# of ../TEMPLATE/ctc.sh, as for recipes/an4 (options documented there; `run.sh
# --help` lists them all); run a range with --stage N --stop-stage M.
#
#   bash run.sh --copiste-root /path/to/copiste-lines   # or set COPISTE_ROOT
#   bash run.sh --corpus iam --iam-root /path/to/iam --iam-splits "train=tr.lst dev=va.lst test=te.lst"
#   bash run.sh --nj 8 --cmd "slurm --partition=cpu"   # parallel jobs (default launcher: ../TEMPLATE/cmd.sh)
# A re-run skips the steps that finished (tools/step.sh); --force true redoes them.
set -euo pipefail
caller_dir=$PWD            # corpus paths and split lists are relative to where run.sh was called from
cd "$(dirname "$0")"       # conf/, data/, exp/ are relative to this folder
source ../TEMPLATE/ctc.sh  # the shared stages and their defaults: this corpus's settings come after

corpus=copiste             # or iam: IAM's line layout, with the split lists of your task
copiste_root=${COPISTE_ROOT:-}   # the corpus folder (lines.tsv, lines/); no download exists
iam_root=${IAM_ROOT:-}     # IAM: the folder with ascii/lines.txt and lines/
iam_splits=                # IAM: "train=LIST dev=LIST test=LIST", files of line or form ids
features_config=conf/image.yaml
config=conf/train.yaml
nj=1
beam_systems=char_lm       # no word LM: the lines' vocabulary is open
char_lm_order=6            # at most 6: flashlight's KenLM
lm_weights=0.5,0.75,1.0,1.25  # grids searched on dev (by CER), never on test
sil_scores=-1,0,1
metric=cer
# The labels are the copied text in mixed case, whatever case the writer used
# (see the corpus's SOURCE.md): score both as written and case-folded.
score_nocase=true
ctm=false                  # word times of an image line mean nothing

check_options() {  # the corpus and its root, checked whatever the stages
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
}

prepare_data() {  # stage 0: data/{train,dev,test}
  step "$data/.done.prepare" asr prepare "$corpus" --root "$root" "${prepare_opts[@]}" --out "$data"
}

ctc_run "$@"
