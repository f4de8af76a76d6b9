# Source this file: it makes the project's virtual environment (once, or again
# when pyproject.toml changes) and puts its `asr`, `python` and `pytest` first
# on PATH.  Set ASR_VENV to use another location, or ASR_NO_SETUP=1 to use the
# `asr` already on PATH (an environment of your own, or the test suite's).
[ "${ASR_NO_SETUP:-}" = 1 ] && return 0
_asr_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_asr_venv=${ASR_VENV:-$_asr_root/.venv}
_asr_stamp=$_asr_venv/.installed-$(sha1sum "$_asr_root/pyproject.toml" | cut -c1-12)
if [ ! -f "$_asr_stamp" ]; then
  echo "Setting up $_asr_venv (first run: a few minutes)..." >&2
  python3 -m venv "$_asr_venv" || return 1
  "$_asr_venv/bin/pip" install --quiet --upgrade pip || return 1
  "$_asr_venv/bin/pip" install --quiet -e "$_asr_root[test]" || return 1
  rm -f "$_asr_venv"/.installed-*
  touch "$_asr_stamp"
fi
export PATH="$_asr_venv/bin:$PATH"
unset _asr_root _asr_venv _asr_stamp
