"""Parallel jobs (--nj/--cmd): split and merge of data dirs, launchers, idempotent recipe steps."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
from conftest import REPO

from asr.cli import build_parser, main
from asr.commands import decode as decode_command
from asr.commands import features as features_command
from asr.data.datadir import read_table, validate_data_dir
from asr.data.extract import extract_features
from asr.data.kaldi_fbank import FbankConfig
from asr.data.split import assign_parts, split_data_dir
from asr.launch import JobError, check_logs, parse_launcher, run_jobs
from asr.parallel import command_actions, job_argv

MODEL = REPO / "asr" / "models" / "an4.pt"

# Stand-ins for Slurm's commands: they record their arguments in $FAKE_SLURM_ARGS.
FAKE_SBATCH = """#!/usr/bin/env bash
# Runs the array's tasks here, at once, each with its --output (%a: the task), as sbatch --wait would.
printf '%s\\n' "$@" >"$FAKE_SLURM_ARGS"
for arg in "$@"; do
  case $arg in
    --array=*) range=${arg#--array=}; range=${range%\\%*} ;;
    --output=*) output=${arg#--output=} ;;
  esac
done
script=${!#}
pids=()
for task in $(seq "${range%-*}" "${range#*-}"); do
  SLURM_ARRAY_TASK_ID=$task bash "$script" >"${output//%a/$task}" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
echo "Submitted batch job 7"
exit $status
"""
FAKE_SRUN = """#!/usr/bin/env bash
echo "$*" >>"$FAKE_SLURM_ARGS"
echo "srun: error: no allocation"
exit 7
"""


def copy_tables(src: Path, dst: Path) -> Path:
    """A copy of a data dir's files (feats.scp still points to the original arks)."""
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.is_file() and not path.name.endswith(".ark"):
            shutil.copy(path, dst / path.name)
    return dst


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Puts fake sbatch and srun first on PATH; returns the file where they record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_ARGS", str(tmp_path / "slurm_args"))
    return tmp_path / "slurm_args"


def test_assign_parts_by_speaker_else_by_utterance():
    utt2spk = {f"{spk}-{i}": spk for spk, n in (("a", 5), ("b", 3), ("c", 2), ("d", 1)) for i in range(n)}
    parts = assign_parts(utt2spk, 2)
    assert [len(p) for p in parts] == [6, 5]  # a, d | b, c: whole speakers, as even as they allow
    assert sorted(u for p in parts for u in p) == sorted(utt2spk)
    first, second = parts
    assert {utt2spk[u] for u in first}.isdisjoint(utt2spk[u] for u in second)
    by_utt = assign_parts(utt2spk, 5)  # fewer speakers than jobs: contiguous runs of utterances
    assert [len(p) for p in by_utt] == [2, 2, 2, 2, 3] and sum(by_utt, []) == sorted(utt2spk)
    assert len(assign_parts({"u1": "a", "u2": "a"}, 4)) == 2  # no empty job


def test_split_data_dir_kaldi_layout(mini_data, tmp_path):
    src = copy_tables(mini_data / "train", tmp_path / "train")
    parts = split_data_dir(src, 3)
    assert parts == [src / "split3" / str(job) for job in (1, 2, 3)]
    utt2spk = read_table(src / "utt2spk")
    seen: dict[str, str] = {}
    for part in parts:
        data = validate_data_dir(part, need_feats=True)
        assert (part / "fbank.yaml").read_text() == (src / "fbank.yaml").read_text()
        for utt in data.utts:
            assert seen.setdefault(utt2spk[utt], part.name) == part.name  # a speaker stays in one part
        assert data.feats == {u: v for u, v in read_table(src / "feats.scp").items() if u in data.utts}
    assert sorted(u for part in parts for u in read_table(part / "utt2spk")) == sorted(utt2spk)
    (parts[0] / "feats.scp").rename(parts[0] / "stale")
    assert split_data_dir(src, 3) == parts and not (parts[0] / "stale").exists()
    assert (parts[0] / "feats.scp").exists()


def test_segments_split_with_their_recordings_and_merge_back(an4_wavs, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "wav.scp").write_text(f"r1 {an4_wavs[0]}\nr2 {an4_wavs[1]}\n")
    (src / "segments").write_text("r1-a r1 0 0.8\nr1-b r1 0.8 -1\nr2-a r2 0 -1\n")
    (src / "text").write_text("r1-a A\nr1-b B\nr2-a C\n")
    (src / "utt2spk").write_text("r1-a s1\nr1-b s2\nr2-a s2\n")  # r1 is in both speakers' jobs
    parts = split_data_dir(src, 2)
    assert [list(read_table(p / "segments")) for p in parts] == [["r1-b", "r2-a"], ["r1-a"]]
    assert [list(read_table(p / "wav.scp")) for p in parts] == [["r1", "r2"], ["r1"]]
    one, two = tmp_path / "one", tmp_path / "two"
    extract_features(src, one, FbankConfig())
    assert main(["features", str(src), str(two), "--nj", "2"]) == 0
    for name in ("wav.scp", "segments", "text", "utt2spk", "utt2num_frames"):
        assert (two / name).read_text() == (one / name).read_text(), name
    feats_one, feats_two = read_table(one / "feats.scp"), read_table(two / "feats.scp")
    for utt in feats_one:
        assert np.array_equal(kaldiio.load_mat(feats_two[utt]), kaldiio.load_mat(feats_one[utt])), utt


def test_job_argv_rebuilds_the_command_line(tmp_path):
    parser = argparse.ArgumentParser()
    features_command.add_arguments(parser)
    src = tmp_path / "a dir"  # a path with a space stays one word
    args = parser.parse_args([str(src), "b", "--speed-perturb", "0.9", "1.0", "--config=f.yaml", "--nj", "3",
                              "--cmd=local --max-parallel 2"])
    argv = job_argv(features_command.add_arguments, args, {"src": src / "split3" / "1", "dst": "b1"})
    assert argv == [str(src / "split3" / "1"), "b1", "--config=f.yaml", "--speed-perturb", "0.9", "1.0"]
    again = parser.parse_args(argv)
    assert again.speed_perturb == args.speed_perturb and again.nj == 1 and again.cmd == "local"


def test_job_argv_keeps_the_options_of_argument_groups():
    """--mode and --lm-weight (the decoding group), --threads (the device group), given with '=' or as two words."""
    parser = build_parser()
    args = parser.parse_args(["decode", "--model", "exp/a model.pt", "--data=data/test", "--out", "exp/de code",
                              "--mode=beam", "--lm-weight", "0.5", "--nbest=3", "--ctm", "--threads", "2",
                              "--nj=4", "--cmd", "local"])
    job = {"data": "data/test/split4/1", "out": "exp/de code/jobs/1"}
    argv = job_argv(decode_command.add_arguments, args, job)
    assert argv == ["--model=exp/a model.pt", "--data=data/test/split4/1", "--out=exp/de code/jobs/1", "--mode=beam",
                    "--lm-weight=0.5", "--nbest=3", "--ctm", "--threads=2"]
    assert vars(parser.parse_args(["decode", *argv])) == {**vars(args), **job, "nj": 1, "cmd": "local"}


def test_an_option_added_to_a_command_later_reaches_the_jobs():
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        decode_command.add_arguments(parser)
        group = parser.add_argument_group("new").add_mutually_exclusive_group()
        group.add_argument("--new-option", type=int, default=0)
        parser.add_argument("--new-list", nargs="+", default=[])

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--model", "m", "--data", "d", "--out", "o", "--new-option", "5", "--new-list=x y"])
    assert job_argv(add_arguments, args, {}) == ["--model=m", "--data=d", "--out=o", "--new-option=5",
                                                 "--new-list", "x y"]


@pytest.mark.parametrize("command, required", [(decode_command, ["--model", "m", "--data", "d", "--out", "o"]),
                                               (features_command, ["src", "dst"])])
def test_command_actions_are_every_option_of_the_command(command, required):
    parser = argparse.ArgumentParser(add_help=False)
    command.add_arguments(parser)
    assert [action.dest for action in command_actions(command.add_arguments)] == list(vars(parser.parse_args(required)))


def test_features_two_slurm_jobs_equal_one_job(mini_data, tmp_path, fake_slurm):
    src = copy_tables(mini_data / "dev", tmp_path / "dev")
    for name in ("feats.scp", "utt2num_frames"):
        (src / name).unlink()
    one, two = tmp_path / "one", tmp_path / "two"
    extract_features(src, one, FbankConfig(), (0.9, 1.0))
    assert main(["features", str(src), str(two), "--speed-perturb", "0.9", "1.0", "--nj", "2",
                 "--cmd", "slurm --partition=cpu --time=1:00:00"]) == 0

    sbatch_args = fake_slurm.read_text().splitlines()
    assert sbatch_args[:4] == ["--job-name=features", "--partition=cpu", "--time=1:00:00", "--array=1-2"]
    assert sbatch_args[4:6] == [f"--output={two.absolute()}/log/features.%a.log", "--wait"]
    for job in (1, 2):
        log = (two / "log" / f"features.{job}.log").read_text()
        assert f"split2/{job} " in log.splitlines()[0] and "# exit status 0" in log
    for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2num_frames", "fbank.yaml"):
        assert (two / name).read_text() == (one / name).read_text(), name
    feats_one, feats_two = read_table(one / "feats.scp"), read_table(two / "feats.scp")
    assert list(feats_two) == list(feats_one) and any(k.startswith("sp0.9-") for k in feats_two)
    for utt in feats_one:
        assert np.array_equal(kaldiio.load_mat(feats_two[utt]), kaldiio.load_mat(feats_one[utt])), utt
    np.testing.assert_allclose(kaldiio.load_mat(str(two / "cmvn.ark")), kaldiio.load_mat(str(one / "cmvn.ark")),
                               rtol=1e-9)
    assert sorted(p.name for p in two.glob("*.ark")) == ["cmvn.ark", "feats.1.ark", "feats.2.ark"]
    assert not (two / "jobs").exists() and (src / "split2" / "2" / "wav.scp").exists()


def test_decode_two_local_jobs_equal_one_job(mini_data, tmp_path):
    data = copy_tables(mini_data / "test", tmp_path / "test set")  # a path with a space reaches the jobs whole
    flags = ["--model", str(MODEL), "--data", str(data), "--mode", "beam", "--nbest=2", "--ctm"]
    one, two = tmp_path / "one", tmp_path / "two jobs"
    assert main(["decode", *flags, "--out", str(one)]) == 0
    assert main(["decode", *flags, "--out", str(two), "--nj", "2", "--cmd", "local --max-parallel 2"]) == 0
    assert (two / "text").read_text() == (one / "text").read_text()
    for name, numeric in (("nbest.txt", [1]), ("ctm", [2, 3, 5])):  # scores, times, confidences
        rows_one = [line.split() for line in (one / name).read_text().splitlines()]
        rows_two = [line.split() for line in (two / name).read_text().splitlines()]
        assert [[w for i, w in enumerate(r) if i not in numeric] for r in rows_two] == \
               [[w for i, w in enumerate(r) if i not in numeric] for r in rows_one]
        np.testing.assert_allclose([[float(r[i]) for i in numeric] for r in rows_two],
                                   [[float(r[i]) for i in numeric] for r in rows_one], atol=0.011)
    log_one, log_two = read_table(one / "decode.log"), read_table(two / "decode.log")
    assert [log_two[k] for k in ("model", "mode", "utterances", "audio_seconds")] == \
           [log_one[k] for k in ("model", "mode", "utterances", "audio_seconds")] and log_two["data"] == str(data)
    assert [p.name for p in sorted((two / "log").iterdir())] == ["decode.1.log", "decode.2.log"]


def test_failed_job_fails_the_command_naming_its_log(mini_data, tmp_path, fake_slurm, capsys):
    src = copy_tables(mini_data / "dev", tmp_path / "dev")
    out = tmp_path / "out"
    status = main(["features", str(src), str(out), "--nj", "2", "--cmd", "srun --partition=cpu --max-parallel=1"])
    error = capsys.readouterr().err.strip()
    assert status == 1 and "\n" not in error
    assert error == f"asr features: error: job 1 of 2 failed (exit status 7), see {out.absolute()}/log/features.1.log; 1 more failed"
    assert "srun: error: no allocation" in (out / "log" / "features.1.log").read_text()
    assert fake_slurm.read_text().startswith("--partition=cpu ")
    assert not (out / "feats.scp").exists()  # nothing merged
    assert (out / "jobs").is_dir()  # kept for a look, and replaced by the next run
    assert main(["features", str(src), str(out), "--nj", "2"]) == 0
    assert (out / "feats.scp").exists() and not (out / "jobs").exists()


def test_a_jobs_folder_of_the_user_is_left_alone(mini_data, tmp_path, capsys):
    src = copy_tables(mini_data / "dev", tmp_path / "dev")
    out = tmp_path / "out"
    (out / "jobs").mkdir(parents=True)
    (out / "jobs" / "submit.sh").write_text("mine")
    assert main(["features", str(src), str(out), "--nj", "2"]) == 1
    assert capsys.readouterr().err.strip().endswith(f"{out}/jobs: exists and holds files that are not asr's job "
                                                    "outputs; move it, or choose another output dir")
    assert (out / "jobs" / "submit.sh").read_text() == "mine" and not (src / "split2").exists()


def test_launchers_report_each_failure(tmp_path, fake_slurm):
    logs = run_jobs("local --max-parallel 1", "ok", [["bash", "-c", "echo hi"]] * 2, tmp_path)
    assert [log.read_text().splitlines()[1] for log in logs] == ["hi", "hi"]
    with pytest.raises(JobError, match=r"job 2 of 3 failed \(exit status 3\), see .*/bad\.2\.log$"):
        run_jobs("local", "bad", [["true"], ["bash", "-c", "exit 3"], ["true"]], tmp_path)
    with pytest.raises(JobError, match=r"job 1 of 1 failed \(exit status 127\)"):
        run_jobs("local", "missing", [["no-such-program-here"]], tmp_path)
    (tmp_path / "killed.1.log").write_text("# cmd\nworking...")
    with pytest.raises(JobError, match="ended without an exit status"):
        check_logs([tmp_path / "killed.1.log"])
    (fake_slurm.parent / "bin" / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n")
    with pytest.raises(JobError, match="sbatch failed \\(exit status 1\\): sbatch: error: invalid partition"):
        run_jobs("slurm --partition=nope", "sub", [["true"]], tmp_path)
    for spec, fault in (("lokal", "expected one of"), ("local -p x", "only --max-parallel"),
                        ("slurm --max-parallel 0", "positive integer")):
        with pytest.raises(ValueError, match=fault):
            parse_launcher(spec)


STEPS = """
set -euo pipefail
force=${1:-false}; change=${2:-}
source "$TOOLS/step.sh"
count() { echo "$1" >>runs; }
step out/.done.first count first $change
step out/.done.second count second
"""


def test_steps_skip_finished_work_unless_forced(tmp_path):
    def run(*args: str) -> list[str]:
        (tmp_path / "runs").unlink(missing_ok=True)
        result = subprocess.run(["bash", "-c", STEPS, "steps", *args], cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "TOOLS": str(REPO / "tools")})
        assert result.returncode == 0, result.stderr
        return (tmp_path / "runs").read_text().split() if (tmp_path / "runs").exists() else []

    assert run() == ["first", "second"]
    assert run() == []  # done: skipped
    assert run("true") == ["first", "second"]  # --force true
    assert run("false", "x") == ["first", "second"]  # a changed command runs, and so does every later step
    assert run("false", "x") == []
    (tmp_path / "out" / ".done.second").unlink()
    assert run("false", "x") == ["second"]

    failing = "source \"$TOOLS/step.sh\"; step out/.done.fail bash -c 'exit 4'; echo after"
    result = subprocess.run(["bash", "-c", f"set -e; {failing}"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "TOOLS": str(REPO / "tools")})
    assert result.returncode == 4 and "after" not in result.stdout
    assert not (tmp_path / "out" / ".done.fail").exists()  # a failed step is never taken as done
