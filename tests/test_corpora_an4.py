import pytest

from asr.corpora.an4 import prepare_an4, read_transcription, speaker_of
from asr.datadir import validate_data_dir


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
