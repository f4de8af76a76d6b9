import pytest

from asr.data.corpora.an4 import prepare_an4, read_transcription, speaker_of
from asr.data.datadir import validate_data_dir


def test_prepare_real_an4(an4_root, tmp_path):
    counts = prepare_an4(an4_root, tmp_path, dev_speakers=5)
    assert counts == {"test": 130, "train": counts["train"], "dev": counts["dev"]}
    assert counts["train"] + counts["dev"] == 948
    dirs = {name: validate_data_dir(tmp_path / name) for name in counts}
    speakers = {name: set(d.utt2spk.values()) for name, d in dirs.items()}
    assert len(speakers["dev"]) == 5
    assert not speakers["dev"] & speakers["train"] and not speakers["dev"] & speakers["test"]
    assert dirs["test"].text["an406-fcaw-b"] == "RUBOUT G M E F THREE NINE"
    assert "<s>" not in " ".join(dirs["train"].text.values())


def test_malformed_transcription_line_is_reported(tmp_path):
    path = tmp_path / "an4_train.transcription"
    path.write_text("<s> YES </s> (an251-fash-b)\n<s> NO </s>\n")
    with pytest.raises(ValueError, match=r"an4_train.transcription:2: expected 'WORDS \(utterance-id\)'"):
        read_transcription(path)


def test_speaker_of():
    assert speaker_of("an251-fash-b") == "fash"
    with pytest.raises(ValueError, match="not of the form"):
        speaker_of("an251")


def test_download_unpacks_cmu_sphere_tarball_once(an4_root, tmp_path, monkeypatch):
    """CMU's tarball layout (an4/etc, an4/wav/*.sph in NIST SPHERE), served from a file:// URL."""
    import tarfile

    import soundfile
    from conftest import make_mini_an4

    from asr.data.corpora import an4
    from asr.data.extract import extract_features
    from asr.data.kaldi_fbank import FbankConfig

    mini = make_mini_an4(an4_root, tmp_path / "mini", speakers=2, per_speaker=2, test=2)
    served = tmp_path / "cmu"
    served.mkdir()
    with tarfile.open(served / "an4_sphere.tar.gz", "w:gz") as tar:
        tar.add(mini / "etc", arcname="an4/etc")
        for wav in sorted(mini.glob("wav/**/*.wav")):
            sph = tmp_path / "sph" / wav.relative_to(mini).with_suffix(".sph")
            sph.parent.mkdir(parents=True, exist_ok=True)
            samples, rate = soundfile.read(wav, dtype="int16")
            soundfile.write(sph, samples, rate, format="NIST", subtype="PCM_16")
            tar.add(sph, arcname=f"an4/{sph.relative_to(tmp_path / 'sph')}")
    monkeypatch.setattr(an4, "URL", f"file://{served}/an4_sphere.tar.gz")
    dest = tmp_path / "downloads"
    root = an4.download_an4(dest)
    assert root == dest / "an4" and (dest / "an4_sphere.unpacked").exists() and not list(dest.glob("*.tar.gz"))
    assert prepare_an4(root, tmp_path / "data", dev_speakers=1) == {"train": 2, "dev": 2, "test": 2}
    assert extract_features(tmp_path / "data" / "test", tmp_path / "feats", FbankConfig()) == 0  # SPHERE is read
    (served / "an4_sphere.tar.gz").unlink()  # a second call must not fetch again
    assert an4.download_an4(dest) == root
