# Kaldi-style option parsing for recipe scripts: source it after setting
# defaults; `--some-name value` (or `--some-name=value`) sets the existing
# variable some_name, and `--help` prints the variables that can be set.
# Unknown options are errors.  As in Kaldi, an option whose value is true or
# false before parsing is a boolean: it accepts only true or false, so that a
# typo such as `--force yes` stops the recipe instead of meaning false.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "Options (defaults):" >&2
      # The options are the variables set at the start of a line: the recipe's
      # ($0) first, then those of the files on the way here (the shared
      # template a recipe sources), each name once, so a recipe's default hides
      # the template's.  Recipes cd to their own folder first, so a relative
      # path may only resolve as its base name.
      _seen=" "
      for _script in "$0" "${BASH_SOURCE[@]:1}"; do
        [ -f "$_script" ] || _script=$(basename "$_script")
        [ -f "$_script" ] || continue
        while IFS= read -r _line; do
          _name=${_line%%=*}
          case $_seen in *" $_name "*) continue ;; esac
          _seen+="$_name "
          echo "  --${_name//_/-} ${_line#*=}"
        done < <(grep -E '^[a-z_][a-z0-9_]*=' "$_script")
      done >&2
      exit 0 ;;
    --*=*) _opt_name=${1%%=*}; _opt_value=${1#*=}; shift ;;
    --*) [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
         _opt_name=$1; _opt_value=$2; shift 2 ;;
    *) break ;;
  esac
  _opt_var=$(echo "${_opt_name#--}" | tr - _)
  if ! declare -p "$_opt_var" >/dev/null 2>&1; then
    echo "$0: unknown option $_opt_name" >&2; exit 1
  fi
  case "${!_opt_var-}" in
    true|false)
      case "$_opt_value" in
        true|false) ;;
        *) echo "$0: option $_opt_name takes true or false, not '$_opt_value'" >&2; exit 1 ;;
      esac ;;
  esac
  printf -v "$_opt_var" '%s' "$_opt_value"
done
unset _opt_name _opt_value _opt_var _seen _script _line _name
