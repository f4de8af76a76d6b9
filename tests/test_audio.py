import numpy as np
import pytest
import soundfile

from asr.audio import AudioError, read_audio, speed_perturb


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
    piped = read_audio(f"cat {an4_wavs[0]} |")
    np.testing.assert_array_equal(direct, piped)


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
