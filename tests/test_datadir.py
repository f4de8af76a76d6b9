import pytest

from asr.datadir import validate_data_dir, write_data_dir


def _write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / name.replace("_scp", ".scp")).write_text(text, encoding="utf-8")
    return tmp_path


GOOD = dict(wav_scp="a /x/a.wav\nb /x/b.wav\n", text="a HELLO\nb \n", utt2spk="a s1\nb s2\n")


def test_write_and_validate_round_trip(tmp_path):
    write_data_dir(tmp_path, {"b": "/x/b.wav", "a": "/x/a.wav"}, {"a": "HI THERE", "b": ""}, {"a": "s", "b": "s"})
    data = validate_data_dir(tmp_path)
    assert data.utts == ["a", "b"]
    assert data.text == {"a": "HI THERE", "b": ""}
    assert (tmp_path / "spk2utt").read_text() == "s a b\n"
    assert (tmp_path / "wav.scp").read_text().splitlines()[0].startswith("a ")


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(wav_scp="b /x/b.wav\na /x/a.wav\n"), r"wav.scp:2: not sorted by id \('a' after 'b'\)"),
        (dict(wav_scp="a /x/a.wav\na /x/b.wav\n"), r"wav.scp:2: duplicated id 'a'"),
        (dict(wav_scp="a /x/a.wav\nb\n"), r"wav.scp:2: 'b' has no value"),
        (dict(utt2spk="a s1\n"), r"utt2spk: no entry for 'b'"),
        (dict(text="a HI\nb X\nc Y\n"), r"text: 'c' is not in wav.scp"),
        (dict(text="a HI\n\nb X\n"), r"text:2: empty line"),
    ],
)
def test_validation_errors_name_file_line_and_fault(tmp_path, change, message):
    _write(tmp_path, **{**GOOD, **change})
    with pytest.raises(ValueError, match=message):
        validate_data_dir(tmp_path)


def test_not_utf8_is_reported(tmp_path):
    _write(tmp_path, **GOOD)
    (tmp_path / "text").write_bytes(b"a caf\xe9\nb x\n")
    with pytest.raises(ValueError, match="text: not UTF-8"):
        validate_data_dir(tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate_data_dir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no wav.scp or images.scp"):
        validate_data_dir(tmp_path)
