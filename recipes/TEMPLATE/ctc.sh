# Shared stages of the BiLSTM-CTC recipes, written once (as ESPnet's
# egs2/TEMPLATE/asr1/asr.sh): a recipe's run.sh keeps only its data
# preparation (stage 0) and its options, and calls this file.
#
#   stage 0  data preparation: the recipe's prepare_data function
#   stage 1  features ($features_config; speed perturbation of $train_set)
#   stage 2  training (torchrun when --ngpu is more than 1)
#   stage 3  averaging epochs into one model: as the training config says, or the --average best (or last)
#   stage 4  greedy decoding of $eval_sets;  stage 5  scoring it
#   stage 6  lexicon and LMs for $beam_systems, from the training text
#   stage 7  LM weight and insertion scores tuned on $dev_set (never on a test set)
#   stage 8  beam-search decoding of $eval_sets with each system, and scoring
#   stage 9  results table ($exp/results.md)
#
# How a run.sh uses it (recipes/an4/run.sh is the shortest example):
#
#   set -euo pipefail
#   caller_dir=$PWD             # relative paths the user gives are relative to this
#   cd "$(dirname "$0")"        # conf/, data/, exp/ are relative to the recipe
#   source ../TEMPLATE/ctc.sh   # the options below with their defaults; ctc_run
#   corpus_root=...             # the recipe's own options, and the template's
#   config=conf/train.yaml      #   defaults it changes: AFTER the source line,
#                               #   which would otherwise reset them
#   prepare_data() { step "$data/.done.prepare" asr prepare ...; }   # stage 0
#   check_options() { ...; }    # optional: runs after option parsing
#   ctc_run "$@"
#
# ctc_run parses the command line (tools/parse_options.sh): every variable set
# at the start of a line, here or in run.sh, is an option `--name-with-dashes
# value`, and `run.sh --help` lists them all with run.sh's defaults first.  An
# option whose default is true or false accepts only true or false.  Then it
# runs the stages from --stage to --stop-stage; a re-run skips the steps that
# finished (tools/step.sh) unless --force true.
#
# The launcher of the parallel jobs, $cmd, comes from cmd.sh beside this file
# (one line for every recipe), then from the recipe's own cmd.sh if it has
# one, then from --cmd.

# shellcheck source-path=SCRIPTDIR
source ../../tools/env.sh  # the project's environment: `asr` and its python first on PATH
# shellcheck source=cmd.sh
source "$(dirname "${BASH_SOURCE[0]}")/cmd.sh"
# shellcheck source=/dev/null  # a recipe's own launcher, if any, overrides the shared one
if [ -f cmd.sh ]; then source ./cmd.sh; fi

# The options, with the defaults a recipe gets unless its run.sh changes them.
stage=0                    # first stage to run
stop_stage=100             # last stage to run
data=data                  # the data dirs (features are written beside them)
exp=exp/train              # the model, the LMs, the decodings and the results table
nj=1                       # parallel jobs for features and decoding, through $cmd
force=false                # true: re-run the steps already done (and train from scratch)
cmd=${cmd:-local}          # launcher of the parallel jobs: cmd.sh beside this file, or the recipe's own
train_set=train            # the training data dir under $data; its text also makes the LMs
train_feats_set=           # where the training features go; empty: $train_set, or ${train_set}_sp when speed-perturbed
dev_set=dev                # epoch choice and LM tuning; one of $eval_sets
eval_sets="dev test"       # the data dirs decoded and scored
features_config=           # YAML of `asr features` (e.g. line images); empty: its default, 80-bin fbank
speed_perturb=             # speed factors for the training copies, e.g. "0.9 1.0 1.1"; empty: none
config=conf/train.yaml     # training YAML
epochs=                    # override the config's epoch count (smoke tests)
ngpu=1                     # training processes; more than 1: torchrun, one a GPU
torchrun_opts=--standalone # multi-node: "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint HOST:29400 --rdzv-id ID"
average=                   # epochs averaged; empty: as the training config says (its keep_last latest, else its keep_best best)
average_by=best            # with --average N: best (the N best by dev CER) or last (the N latest: the config's keep_last >= N)
beam_systems="lexicon word_lm char_lm"  # beam-search systems: lexicon without LM, word LM, character LM
lm_text=                   # word LM and lexicon text; empty: $train_set's transcripts; a plain text file (.gz too) needs KenLM's lmplz
word_lm_order=3
char_lm_order=6            # at most 6: flashlight's KenLM
lm_weights=0.05,0.1,0.25,0.5,1,1.5,2  # grids searched on $dev_set, never on a test set
word_scores=-2,-1,0,1,2,3,4,5         # word insertion scores (word LM)
sil_scores=-4,-3,-2,-1,0,1            # word-boundary scores (character LM)
metric=wer                 # wer or cer: what tuning minimizes and what scoring prints
score_nocase=false         # true: also score case-insensitively (scoring_nocase/, a second results table)
ctm=true                   # true: LM decodings also write word times (ctm); meaningless for line images

log() { echo "$(date '+%F %T') $*"; }
unzip_to() { gunzip -c "$1" >"$2"; }  # unzip_to FILE.gz FILE: a command for step

# Decoding dirs are decode_<system>_<set>, the set's underscores as hyphens, so
# that a LibriSpeech subset keeps its official name (decode_greedy_dev-clean)
# and tools/results_table.py labels it "dev-clean, greedy".
ctc_decode_dir() { echo "$exp/decode_$1_${2//_/-}"; }  # ctc_decode_dir SYSTEM SET

ctc_score() {  # ctc_score SET DECODE_DIR: scoring/ (and scoring_nocase/), one line on stdout
  local part=$1 dir=$2 line
  asr score --mode all --ref "$data/$part/text" --hyp "$dir/text" --out-dir "$dir/scoring" --utt2spk "$data/$part/utt2spk" >/dev/null
  if [ "$metric" = wer ]; then
    line="$(head -n 1 "$dir/scoring/wer") | $(head -n 1 "$dir/scoring/cer")"
  else
    line=$(head -n 1 "$dir/scoring/$metric")
  fi
  if [ "$score_nocase" = true ]; then
    asr score --mode all --ref "$data/$part/text" --hyp "$dir/text" --out-dir "$dir/scoring_nocase" --utt2spk "$data/$part/utt2spk" \
      --lowercase >/dev/null
    line+=" | case-insensitive: $(head -n 1 "$dir/scoring_nocase/$metric")"
  fi
  echo "$dir: $line"
}

ctc_has() { [[ " $beam_systems " == *" $1 "* ]]; }  # ctc_has SYSTEM: is it among $beam_systems

ctc_run() {  # ctc_run "$@": options, then the stages
  if ! declare -F prepare_data >/dev/null; then echo "$0: defines no prepare_data function (stage 0)" >&2; exit 1; fi
  source ../../tools/parse_options.sh
  if [ $# -gt 0 ]; then echo "$0: unexpected argument '$1' (options are --name value)" >&2; exit 1; fi
  source ../../tools/step.sh
  if declare -F check_options >/dev/null; then check_options; fi

  # Values the options allow, checked before any stage runs.
  case $metric in wer|cer) ;; *) echo "$0: --metric must be wer or cer, got '$metric'" >&2; exit 1 ;; esac
  case $average_by in best|last) ;; *) echo "$0: --average-by must be best or last, got '$average_by'" >&2; exit 1 ;; esac
  case $average in *[!0-9]*|0*) echo "$0: --average must be a whole number >= 1, got '$average'" >&2; exit 1 ;; esac
  local system part dir
  for system in $beam_systems; do
    case $system in lexicon|word_lm|char_lm) ;;
      *) echo "$0: --beam-systems takes lexicon, word_lm, char_lm, got '$system'" >&2; exit 1 ;;
    esac
  done
  case " $eval_sets " in
    *" $dev_set "*) ;;
    *) echo "$0: --dev-set $dev_set is not among the evaluation sets ($eval_sets)" >&2; exit 1 ;;
  esac
  # The LM text is relative to where run.sh was called from, like the corpus paths.
  if [ -n "$lm_text" ] && [[ "$lm_text" != /* ]]; then lm_text=${caller_dir:-$PWD}/$lm_text; fi
  if [ -z "$train_feats_set" ]; then  # speed factor 1.0 alone copies nothing: keep the features in place
    case $speed_perturb in ""|1.0) train_feats_set=$train_set ;; *) train_feats_set=${train_set}_sp ;; esac
  fi
  local resume=--resume; if [ "$force" = true ]; then resume=--overwrite; fi  # --force true retrains from scratch
  local feature_opts=() speed_opts=() tune_opts=() ctm_opts=() launcher=(asr)
  if [ -n "$features_config" ]; then feature_opts=(--config "$features_config"); fi
  # shellcheck disable=SC2206  # the speed factors are separate arguments
  if [ -n "$speed_perturb" ]; then speed_opts=(--speed-perturb $speed_perturb); fi
  if [ "$metric" != wer ]; then tune_opts=(--metric "$metric"); fi  # asr tune minimizes WER unless told
  if [ "$ctm" = true ]; then ctm_opts=(--ctm); fi
  # shellcheck disable=SC2206  # $torchrun_opts holds several options
  if [ "$ngpu" -gt 1 ]; then launcher=(torchrun $torchrun_opts --nproc-per-node "$ngpu" -m asr); fi
  local lm=$exp/lm model=$exp/model.pt

  if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
    log "stage 0: data preparation"
    prepare_data
  fi

  if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
    log "stage 1: features (${features_config:-fbank}), $nj job(s)${speed_perturb:+ (speed perturbation $speed_perturb on $train_set)}"
    step "$data/$train_feats_set/.done.features" asr features "$data/$train_set" "$data/$train_feats_set" \
      "${speed_opts[@]}" "${feature_opts[@]}" --nj "$nj" --cmd "$cmd"
    for part in $eval_sets; do
      step "$data/$part/.done.features" asr features "$data/$part" "$data/$part" "${feature_opts[@]}" --nj "$nj" --cmd "$cmd"
    done
  fi

  if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    log "stage 2: training, $ngpu process(es), $config (log: $exp/train.log)"
    step "$exp/.done.train" "${launcher[@]}" train --config "$config" --train "$data/$train_feats_set" --dev "$data/$dev_set" \
      --exp "$exp" $resume ${epochs:+--epochs "$epochs"}
  fi

  if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    local average_opts=()  # none: the epochs the config keeps for it
    if [ -n "$average" ]; then average_opts=(--"$average_by" "$average"); fi
    log "stage 3: averaging ${average:+the $average $average_by }epochs (asr average${average:+ --$average_by $average})"
    step "$exp/.done.average" asr average --exp "$exp" "${average_opts[@]}" --out "$model"
  fi

  if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
    log "stage 4: greedy decoding, $nj job(s)"
    for part in $eval_sets; do
      dir=$(ctc_decode_dir greedy "$part")
      # --mode greedy: not the decoding a model file may carry, which asr decode uses by default
      step "$dir/.done.decode" asr decode --model "$model" --data "$data/$part" --mode greedy --out "$dir" --nj "$nj" \
        --cmd "$cmd"
    done
  fi

  if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
    log "stage 5: scoring greedy decoding"
    for part in $eval_sets; do
      ctc_score "$part" "$(ctc_decode_dir greedy "$part")"
    done
  fi

  if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
    local what="" from=${lm_text:-the $train_set transcripts}
    if ctc_has word_lm; then what="lexicon and word ${word_lm_order}-gram LM from $from; "
    elif ctc_has lexicon; then what="lexicon from $from; "; fi
    if ctc_has char_lm; then what+="character ${char_lm_order}-gram LM from the $train_set transcripts; "; fi
    what=${what%; }
    log "stage 6: ${what:-nothing (no beam-search system)}"
    if ctc_has lexicon || ctc_has word_lm; then
      local lm_source=(--text "$data/$train_set/text")
      if [ -n "$lm_text" ]; then  # a large plain text (LibriSpeech's 800 M words): KenLM does the counting
        command -v lmplz >/dev/null || { echo "$0: --lm-text needs KenLM's lmplz on PATH" >&2; exit 1; }
        mkdir -p "$lm"
        if [[ "$lm_text" == *.gz ]]; then
          step "$lm/.done.lm_text" unzip_to "$lm_text" "$lm/lm_text.txt"
          lm_text=$lm/lm_text.txt
        fi
        lm_source=(--plain --text "$lm_text")
      fi
      step "$lm/.done.lexicon" asr lm lexicon "${lm_source[@]}" --model "$model" --out "$lm/lexicon.txt"
      if ctc_has word_lm; then
        step "$lm/.done.word_lm" asr lm train "${lm_source[@]}" --unit word --order "$word_lm_order" --out "$lm/word.arpa"
      fi
    fi
    if ctc_has char_lm; then  # always from the training transcripts: the tokens the model knows
      step "$lm/.done.char_lm" asr lm train --text "$data/$train_set/text" --unit char --order "$char_lm_order" --out "$lm/char.arpa"
    fi
  fi

  if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
    log "stage 7: tuning LM weight and insertion scores on $dev_set (by $metric)"
    if ctc_has word_lm; then
      step "$exp/tune_word_lm/.done.tune" asr tune --model "$model" --data "$data/$dev_set" --out "$exp/tune_word_lm" \
        --lexicon "$lm/lexicon.txt" --lm "$lm/word.arpa" --grid "lm_weight=$lm_weights" "word_score=$word_scores" "${tune_opts[@]}"
    fi
    if ctc_has char_lm; then
      step "$exp/tune_char_lm/.done.tune" asr tune --model "$model" --data "$data/$dev_set" --out "$exp/tune_char_lm" \
        --lm "$lm/char.arpa" --grid "lm_weight=$lm_weights" "sil_score=$sil_scores" "${tune_opts[@]}"
    fi
  fi

  if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
    log "stage 8: beam-search decoding ($beam_systems), $nj job(s), and scoring"
    for system in $beam_systems; do
      for part in $eval_sets; do
        dir=$(ctc_decode_dir "$system" "$part")
        if [ "$system" = lexicon ]; then  # the lexicon alone, without LM: what the LM adds
          step "$dir/.done.decode" asr decode --model "$model" --data "$data/$part" --lexicon "$lm/lexicon.txt" \
            --out "$dir" --nj "$nj" --cmd "$cmd"
        else
          step "$dir/.done.decode" asr decode --model "$model" --data "$data/$part" --config "$exp/tune_$system/decode.yaml" \
            --out "$dir" "${ctm_opts[@]}" --nj "$nj" --cmd "$cmd"
        fi
        ctc_score "$part" "$dir"
      done
    done
  fi

  if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
    log "stage 9: results table ($exp/results.md)"
    if [ "$score_nocase" = true ]; then
      {
        echo "## As written (case-sensitive)"; echo
        python ../../tools/results_table.py "$exp"/decode_*
        echo "## Case-insensitive"; echo
        python ../../tools/results_table.py --scoring scoring_nocase "$exp"/decode_*
      } | tee "$exp/results.md"
    else
      python ../../tools/results_table.py "$exp"/decode_* | tee "$exp/results.md"
    fi
  fi
}
