# Idempotent recipe steps: re-running a recipe skips the work it finished
# before, unless --force true.  Source this file after tools/parse_options.sh,
# with `force=false` among the recipe's options:
#
#   force=false   # true: re-run the steps already done
#   source ../../tools/parse_options.sh
#   source ../../tools/step.sh
#   step "$data/train/.done.features" asr features "$data/train" "$data/train" --nj "$nj" --cmd "$cmd"
#
# `step MARKER COMMAND [ARGS...]` runs COMMAND unless the file MARKER exists
# and holds this same command line (the step finished before, with the same
# options).  MARKER is removed before COMMAND starts and written only after it
# succeeds, so a step that failed or was killed half way is never taken as
# done.  YAML files among the arguments count by their contents, so editing
# conf/train.yaml re-runs training (which then refuses to resume a run made
# with another config: --force true starts it afresh).  Once a step runs,
# every later step of this run of the recipe runs too,
# since its inputs may have changed.  force=true runs every step.
#
# Conventions: MARKER is OUTPUT_DIR/.done.NAME, beside what the step writes,
# so deleting the outputs forgets the step too; call `step` as a plain command
# under `set -e` (a failure inside a shell function given as COMMAND then stops
# the recipe).  Redoing an earlier stage alone (--stage 2 --stop-stage 2) does
# not reach the later stages' markers: run those with --force true.
_step_ran=false

step() {
  local marker=$1 line
  shift
  printf -v line '%q ' "$@"
  line=${line% }
  local arg
  for arg in "$@"; do  # a config file's contents are options too: an edited one re-runs the step
    if [[ "$arg" == *.yaml && -f "$arg" ]]; then line+=" #$(sha1sum <"$arg" | cut -c1-12)"; fi
  done
  if [ "${force:-false}" != true ] && [ "$_step_ran" = false ] && [ -f "$marker" ] \
     && [ "$(cat "$marker")" = "$line" ]; then
    echo "  done before, skipped (--force true re-runs it): $marker"
    return 0
  fi
  _step_ran=true
  rm -f "$marker"
  "$@"
  local status=$?
  [ "$status" -eq 0 ] || return "$status"
  mkdir -p "$(dirname "$marker")"
  printf '%s\n' "$line" >"$marker.tmp" && mv "$marker.tmp" "$marker"
}
