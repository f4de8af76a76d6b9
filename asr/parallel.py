"""``--nj N --cmd CMD`` for the commands that work through a data dir.

The data dir is split into N parts (:mod:`asr.data.split`), the same ``asr``
command runs on each part as one job through the launcher CMD
(:mod:`asr.launch`) into ``OUT/jobs/JOB`` with its log ``OUT/log/NAME.JOB.log``,
and the jobs' outputs are merged into OUT as one job would have written them.
A job is an ordinary ``asr`` command line, so what runs on a cluster node is
what a user can run by hand, and a command gains parallel jobs without
changing its library code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from asr.launch import parse_launcher, run_jobs


JOBS_MARK = ".asr-jobs"  # in OUT/jobs: the folder holds our job outputs, so a later run may replace it


def fresh_jobs_dir(out_dir: Path) -> Path:
    """An empty ``OUT/jobs`` for the job outputs.

    One that a failed run left (marked with :data:`JOBS_MARK`) is replaced;
    a ``jobs`` folder of the user's own, which an output dir may well hold,
    is refused and left as it is.
    """
    jobs = out_dir / "jobs"
    if jobs.exists():
        if not (jobs / JOBS_MARK).exists() and any(jobs.iterdir()):
            raise ValueError(f"{jobs}: exists and holds files that are not asr's job outputs; "
                             "move it, or choose another output dir")
        shutil.rmtree(jobs)
    jobs.mkdir(parents=True)
    (jobs / JOBS_MARK).write_text("outputs of asr's parallel jobs: removed after they are merged\n")
    return jobs


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got '{value}'")
    return int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nj", type=positive_int, default=1,
                        help="parallel jobs: the data dir is split into NJ parts (DATA/splitNJ/1..NJ, by speaker "
                             "when it has NJ speakers), one job each, then merged; 1: one process, here")
    parser.add_argument("--cmd", default="local",
                        help="launcher of the jobs, as a recipe's cmd.sh sets it: 'local [--max-parallel N]', "
                             "'slurm [sbatch options]' or 'srun [srun options]'")


class _Recorder:
    """Stands in for a parser while a command adds its arguments, and keeps every action that ``add_argument`` returns.

    argparse has no public list of a parser's actions; the ones the command
    adds (to the parser or to its argument groups) are what its jobs need.
    """

    def __init__(self, container: Any, actions: list[argparse.Action]) -> None:
        self._container = container
        self._actions = actions

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = self._container.add_argument(*args, **kwargs)
        self._actions.append(action)
        return action

    def add_argument_group(self, *args, **kwargs) -> "_Recorder":
        return _Recorder(self._container.add_argument_group(*args, **kwargs), self._actions)

    def add_mutually_exclusive_group(self, *args, **kwargs) -> "_Recorder":
        return _Recorder(self._container.add_mutually_exclusive_group(*args, **kwargs), self._actions)

    def __getattr__(self, name: str):  # set_defaults and the rest: the real parser's
        return getattr(self._container, name)


def command_actions(add_command_arguments: Callable[[argparse.ArgumentParser], None]) -> list[argparse.Action]:
    """The actions (options and positionals) that a command's ``add_arguments`` adds, in the order it adds them."""
    actions: list[argparse.Action] = []
    add_command_arguments(_Recorder(argparse.ArgumentParser(add_help=False), actions))
    return actions


def job_argv(add_command_arguments: Callable[[argparse.ArgumentParser], None], args: argparse.Namespace,
             values: dict[str, object]) -> list[str]:
    """The command line (after the command name) that gives ``args`` with ``values`` replaced, and no --nj/--cmd.

    Built from the options that the command's ``add_arguments`` adds, so an
    option added to the command later reaches the jobs too; options at
    their default are left out.
    """
    positional: list[str] = []
    options: list[str] = []
    for action in command_actions(add_command_arguments):
        if action.dest in ("nj", "cmd"):
            continue
        value = values.get(action.dest, getattr(args, action.dest))
        many = isinstance(value, (list, tuple))
        words = [str(v) for v in value] if many else [str(value)]
        flag = max(action.option_strings, key=len, default=None)
        if flag is None:
            positional += words
        elif value is None or value == action.default:
            continue
        elif action.nargs == 0:  # a switch such as --ctm
            options.append(flag)
        else:
            options += [flag, *words] if many else [f"{flag}={words[0]}"]
    return positional + options


def run_parallel(
    name: str, add_command_arguments: Callable[[argparse.ArgumentParser], None], args: argparse.Namespace,
    data: str, out: str, merge: Callable[[list[Path], Path], int],
) -> int:
    """Run ``asr NAME`` on the parts of the data dir ``args.<data>`` and merge into ``args.<out>``.

    ``merge(job_dirs, out)`` returns the count it reports.  Job outputs are
    removed after a successful merge and kept (with the logs) after a failure.
    """
    from asr.data import split_data_dir

    parse_launcher(args.cmd)  # a typo in --cmd fails before any work
    out_dir = Path(getattr(args, out))
    jobs = fresh_jobs_dir(out_dir)
    parts = split_data_dir(getattr(args, data), args.nj)
    job_dirs = [jobs / str(job) for job in range(1, len(parts) + 1)]
    commands = [[sys.executable, "-m", "asr.cli", name, *job_argv(add_command_arguments, args, {data: part, out: job_dir})]
                for part, job_dir in zip(parts, job_dirs)]
    run_jobs(args.cmd, name, commands, out_dir / "log")
    count = merge(job_dirs, out_dir)
    shutil.rmtree(jobs)
    return count
