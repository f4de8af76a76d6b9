# Kaldi-style option parsing for recipe scripts: source it after setting
# defaults; `--some-name value` sets the existing variable some_name, and
# `--help` prints the variables that can be set.  Unknown options are errors.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "Options (current values):" >&2
      # Recipes cd to their own folder first, so a relative $0 may only resolve as its base name.
      _script=$0; [ -f "$_script" ] || _script=$(basename "$0")
      grep -E '^[a-z_][a-z0-9_]*=' "$_script" | while IFS= read -r _line; do
        _name=${_line%%=*}; echo "  --${_name//_/-} ${_line#*=}"
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
  printf -v "$_opt_var" '%s' "$_opt_value"
done
unset _opt_name _opt_value _opt_var
