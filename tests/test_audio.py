import builtins
import os
import shutil

import numpy as np
import pytest
import soundfile

from asr.data.audio import AudioError, RecordingWarnings, read_audio, read_native, recording_problems, speed_perturb


def test_reads_real_an4_wav(an4_wavs):
    samples = read_audio(an4_wavs[0])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert 8000 < len(samples) < 16000 * 20  # AN4 utterances last 0.5 to 20 s
    assert 0 < np.abs(samples).max() <= 1


def test_flac_stereo_44k_is_mixed_down_and_resampled(an4_wavs, tmp_path):
    original = read_audio(an4_wavs[0])
    rate44 = read_audio(an4_wavs[0], sample_rate=44100)
    stereo = np.stack([rate44, rate44], axis=1)
    soundfile.write(tmp_path / "x.flac", stereo, 44100)
    back = read_audio(tmp_path / "x.flac", sample_rate=16000)
    assert abs(len(back) - len(original)) <= 2
    n = min(len(back), len(original))
    assert np.corrcoef(back[:n], original[:n])[0, 1] > 0.99


def test_kaldi_pipe_source(an4_wavs):
    direct = read_audio(an4_wavs[0])
    piped = read_audio(f"cat {an4_wavs[0]} |", allow_pipe=True)
    np.testing.assert_array_equal(direct, piped)


def test_a_path_ending_in_a_pipe_is_a_file_not_a_command(an4_wavs, tmp_path, monkeypatch):
    """Only wav.scp values may be Kaldi pipes: a file name never reaches a shell."""
    monkeypatch.chdir(tmp_path)
    hostile = "x.wav; touch PWNED |"
    shutil.copy(an4_wavs[0], hostile)
    np.testing.assert_array_equal(read_audio(hostile), read_audio(an4_wavs[0]))
    with pytest.raises(AudioError, match="no such file"):
        read_audio("touch PWNED |")
    assert not (tmp_path / "PWNED").exists()


def float_wav(an4_wav, path, scale=1.0, bad_sample=None):
    """A real AN4 recording as a 32-bit float wav, scaled to peak ``scale``, one sample replaced by ``bad_sample``."""
    samples = read_audio(an4_wav)
    samples = samples / np.abs(samples).max() * scale
    if bad_sample is not None:
        samples[len(samples) // 2] = bad_sample
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("bad_sample", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_an_error(an4_wavs, tmp_path, bad_sample):
    path = float_wav(an4_wavs[0], tmp_path / "bad.wav", 0.5, bad_sample)
    with pytest.raises(AudioError, match=r"non-finite samples \(NaN or inf\)") as error:
        read_audio(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_out_of_range_amplitude_is_read_with_one_warning(an4_wavs, tmp_path, caplog):
    loud = read_audio(float_wav(an4_wavs[0], tmp_path / "loud.wav", 50.0))
    assert np.abs(loud).max() == pytest.approx(50.0, rel=0.01)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(tmp_path / "loud.wav") in warnings[0] and "out-of-range amplitude" in warnings[0]
    assert "peak 50" in warnings[0]
    caplog.clear()
    read_audio(float_wav(an4_wavs[0], tmp_path / "full_scale.wav", 1.0))
    assert not caplog.records


def test_unreadable_file_says_permission_denied(an4_wavs, tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    shutil.copy(an4_wavs[0], path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: have the kernel's refusal simulated
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(AudioError) as error:
        read_audio(path)
    assert str(error.value) == f"{path}: permission denied"


def test_a_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError) as error:
        read_audio(tmp_path)
    assert str(error.value) == f"{tmp_path}: is a directory, not an audio file"


def test_feature_stage_skips_non_finite_audio_and_runs_wav_scp_pipes(an4_wavs, tmp_path):
    """A NaN recording is skipped and counted; a wav.scp pipe is still run."""
    from asr.data.datadir import validate_data_dir, write_data_dir
    from asr.data.extract import extract_features
    from asr.data.kaldi_fbank import FbankConfig

    source = {"a": f"cat {an4_wavs[0]} |", "b": str(float_wav(an4_wavs[1], tmp_path / "nan.wav", 0.5, np.nan))}
    write_data_dir(tmp_path / "src", source, {k: "A" for k in source}, {k: "spk" for k in source})
    assert extract_features(tmp_path / "src", tmp_path / "dst", FbankConfig()) == 1
    assert validate_data_dir(tmp_path / "dst", need_feats=True).utts == ["a"]


@pytest.mark.parametrize(
    "content, message", [(None, "no such file"), (b"", "unreadable audio"), (b"RIFF1234WAVEjunk", "unreadable audio")]
)
def test_bad_files_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as error:
        read_audio(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_zero_sample_wav(tmp_path):
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        read_audio(tmp_path / "empty.wav")


def test_speed_perturb_changes_duration(an4_wavs):
    samples = read_audio(an4_wavs[0])
    assert abs(len(speed_perturb(samples, 0.9)) - len(samples) / 0.9) <= 2
    assert abs(len(speed_perturb(samples, 1.1)) - len(samples) / 1.1) <= 2
    assert speed_perturb(samples, 1.0) is samples


def test_real_an4_recordings_raise_no_recording_problem(an4_wavs):
    for path in an4_wavs[:40]:
        samples, rate = read_native(path)
        assert rate == 16000
        assert recording_problems(samples, rate, 16000) == {}, path


def test_recording_problems_name_narrowband_clipped_quiet_and_silent(an4_wavs):
    samples, rate = read_native(an4_wavs[0])
    scale = 1 / np.abs(samples).max()
    assert set(recording_problems(samples, 8000, 16000)) == {"narrowband"}
    assert "4 kHz" in recording_problems(samples, 8000, 16000)["narrowband"]
    assert set(recording_problems(np.clip(samples * scale * 8, -1, 1), rate, 16000)) == {"clipped"}
    assert set(recording_problems(samples * scale * 10 ** (-60 / 20), rate, 16000)) == {"quiet"}
    padded = np.concatenate([np.zeros(30 * rate, np.float32), samples, np.zeros(30 * rate, np.float32)])
    assert set(recording_problems(padded, rate, 16000)) == {"silent"}
    # A full-scale peak alone (a normalized file) is not clipping.
    assert recording_problems(samples * scale, rate, 16000) == {}


def test_recording_warnings_say_each_kind_once_per_run(an4_wavs, caplog):
    samples, rate = read_native(an4_wavs[0])
    warnings = RecordingWarnings()
    for i in range(3):
        warnings.check(f"take{i}.wav", samples, 8000, 16000)
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and lines[0].startswith("take0.wav: sampled at 8000 Hz")
    assert warnings.seen == {"narrowband": 3}
