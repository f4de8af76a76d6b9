"""Run N jobs through a launcher: local processes, or Slurm on a cluster.

The launcher is one string, like Kaldi's ``$cmd`` that a recipe's ``cmd.sh``
sets, so a recipe moves to a cluster by editing one line:

    local                                  every job at once, as processes on this machine
    local --max-parallel 4                 at most 4 at a time
    slurm --partition=cpu --time=4:00:00   one ``sbatch --array --wait`` job array;
                                           the other words are sbatch options
    srun --partition=cpu --cpus-per-task=2 one ``srun`` per job (e.g. inside an salloc)

``--max-parallel`` works with each (for Slurm it is the array's ``%`` limit).
Every job writes its own log: its command line, its output, then
``# exit status N after S s``.  That last line, not the launcher's own exit
code, tells which job failed, so every launcher reports failures alike: the
first failed job and its log, in one line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

LAUNCHERS = ("local", "slurm", "srun")
STATUS_LINE = re.compile(r"# exit status (-?\d+) after \S+ s\s*\Z")  # the log's end, even after a partial line


class JobError(Exception):
    """A job of a parallel run failed; the message names the job and its log."""


@dataclass(frozen=True)
class Launcher:
    """A parsed ``--cmd`` string: the launcher, its parallel limit and its own options."""

    kind: str
    max_parallel: int | None = None
    options: tuple[str, ...] = field(default_factory=tuple)


def parse_launcher(spec: str) -> Launcher:
    """Parse ``KIND [--max-parallel N] [OPTIONS...]`` (OPTIONS: sbatch's or srun's)."""
    words = shlex.split(spec)
    if not words or words[0] not in LAUNCHERS:
        raise ValueError(f"--cmd '{spec}': expected one of {', '.join(LAUNCHERS)}, then its options")
    kind, rest, options, max_parallel = words[0], words[1:], [], None
    while rest:
        word = rest.pop(0)
        if word == "--max-parallel" or word.startswith("--max-parallel="):
            value = word.partition("=")[2] or (rest.pop(0) if rest else "")
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"--cmd '{spec}': --max-parallel needs a positive integer, got '{value}'")
            max_parallel = int(value)
        else:
            options.append(word)
    if kind == "local" and options:
        raise ValueError(f"--cmd '{spec}': the local launcher takes only --max-parallel, got '{options[0]}'")
    return Launcher(kind, max_parallel, tuple(options))


def run_jobs(spec: str, name: str, commands: list[list[str]], log_dir: str | Path) -> list[Path]:
    """Run ``commands[i]`` as job ``i + 1`` with its log ``log_dir/name.<i + 1>.log``.

    Waits for every job, then raises :class:`JobError` if any failed.
    Returns the log paths.
    """
    launcher = parse_launcher(spec)
    log_dir = Path(log_dir).absolute()
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [log_dir / f"{name}.{job}.log" for job in range(1, len(commands) + 1)]
    for log in logs:  # a status line left by an earlier run must not pass for this one's
        log.unlink(missing_ok=True)
    if launcher.kind == "slurm":
        _run_sbatch(launcher, name, commands, logs)
    else:
        prefix = ["srun", *launcher.options] if launcher.kind == "srun" else []
        _run_here(commands, logs, launcher.max_parallel, prefix)
    check_logs(logs)
    return logs


def check_logs(logs: list[Path]) -> None:
    """Raise :class:`JobError` naming the first job whose log does not end with exit status 0."""
    failed = [(job, log, exit_status(log)) for job, log in enumerate(logs, 1)]
    failed = [item for item in failed if item[2] != 0]
    if not failed:
        return
    job, log, status = failed[0]
    how = "ended without an exit status (killed, or never started)" if status is None else f"failed (exit status {status})"
    more = f"; {len(failed) - 1} more failed" if len(failed) > 1 else ""
    raise JobError(f"job {job} of {len(logs)} {how}, see {log}{more}")


def exit_status(log: Path) -> int | None:
    """The status that a job's log ends with; None when it has none (killed, never started)."""
    try:
        match = STATUS_LINE.search(log.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return None
    return int(match[1]) if match else None


def _run_here(commands: list[list[str]], logs: list[Path], max_parallel: int | None, prefix: list[str]) -> None:
    """Processes on this machine (through ``prefix``, e.g. srun), at most ``max_parallel`` at once."""
    parallel = min(len(commands), max_parallel or len(commands))
    env = dict(os.environ)
    if not prefix:  # jobs sharing this machine share its cores, instead of each taking them all
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // parallel)))

    def run(command: list[str], log: Path) -> None:
        started = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            out.write(f"# {shlex.join(command)}\n")
            out.flush()
            try:
                status = subprocess.run([*prefix, *command], stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, env=env).returncode
            except OSError as error:
                out.write(f"cannot start {[*prefix, *command][0]}: {error}\n")
                status = 127
            out.write(f"# exit status {status} after {time.monotonic() - started:.1f} s\n")

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(run, commands, logs))


def _run_sbatch(launcher: Launcher, name: str, commands: list[list[str]], logs: list[Path]) -> None:
    """One Slurm job array: task N runs ``commands[N - 1]``; ``sbatch --wait`` returns when all end.

    The script and sbatch's own output go to ``log_dir/q/``; each task's output
    goes to its log through ``--output`` (``%a`` is the task number).
    """
    log_dir = logs[0].parent
    queue = log_dir / "q"
    queue.mkdir(exist_ok=True)
    cases = "".join(
        f"  {job}) echo {shlex.quote('# ' + shlex.join(command))}; set -- {shlex.join(command)} ;;\n"
        for job, command in enumerate(commands, 1)
    )
    script = queue / f"{name}.sh"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f"# Job array of {len(commands)} tasks written by asr/launch.py: task N runs the N-th command.\n"
        f"cd {shlex.quote(os.getcwd())}\n"
        f'case "$SLURM_ARRAY_TASK_ID" in\n{cases}'
        '  *) echo "no task $SLURM_ARRAY_TASK_ID in this array" >&2; exit 1 ;;\n'
        "esac\n"
        '"$@"\nstatus=$?\necho "# exit status $status after $SECONDS s"\nexit $status\n',
        encoding="utf-8",
    )
    limit = f"%{launcher.max_parallel}" if launcher.max_parallel else ""
    argv = ["sbatch", f"--job-name={name}", *launcher.options, f"--array=1-{len(commands)}{limit}",
            f"--output={log_dir}/{name}.%a.log", "--wait", str(script)]
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except OSError as error:
        raise JobError(f"cannot run sbatch: {error}") from None
    (queue / f"{name}.sbatch.log").write_text(f"# {shlex.join(argv)}\n{result.stdout}{result.stderr}", encoding="utf-8")
    if result.returncode and all(exit_status(log) is None for log in logs):  # no task ran: the submission failed
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise JobError(f"sbatch failed (exit status {result.returncode}): {last}; see {queue / f'{name}.sbatch.log'}")
