import re

import kaldiio
import numpy as np
import pytest

from asr.cli import main
from asr.data.datadir import read_lines, read_table, validate_data_dir, write_data_dir, write_table


def _write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / name.replace("_scp", ".scp")).write_text(text, encoding="utf-8")
    return tmp_path


GOOD = dict(wav_scp="a /x/a.wav\nb /x/b.wav\n", text="a HELLO\nb \n", utt2spk="a s1\nb s2\n")
SEGMENTED = dict(wav_scp="r1 /x/r1.wav\nr2 /x/r2.wav\n", segments="a r1 0 1.5\nb r1 1.5 -1\nc r2 0.2 3\n",
                 text="a HI\nb THERE\nc YOU\n", utt2spk="a s1\nb s1\nc s2\n", spk2utt="s1 a b\ns2 c\n")


def test_write_and_validate_round_trip(tmp_path):
    write_data_dir(tmp_path, {"b": "/x/b.wav", "a": "/x/a.wav"}, {"a": "HI THERE", "b": ""}, {"a": "s", "b": "s"})
    data = validate_data_dir(tmp_path)
    assert data.utts == ["a", "b"]
    assert data.text == {"a": "HI THERE", "b": ""}
    assert (tmp_path / "spk2utt").read_text() == "s a b\n"
    assert (tmp_path / "wav.scp").read_text().splitlines()[0].startswith("a ")


@pytest.mark.parametrize(
    "base, change, message",
    [
        (GOOD, dict(wav_scp="b /x/b.wav\na /x/a.wav\n"), r"wav.scp:2: not sorted by id \('a' after 'b'\)"),
        (GOOD, dict(wav_scp="a /x/a.wav\na /x/b.wav\n"), r"wav.scp:2: duplicated id 'a'"),
        (GOOD, dict(wav_scp="a /x/a.wav\nb\n"), r"wav.scp:2: 'b' has no value"),
        (GOOD, dict(utt2spk="a s1\n"), r"utt2spk: no entry for 'b'"),
        (GOOD, dict(utt2spk="a s1\nb s2 extra\n"), r"utt2spk:2: expected 'utterance speaker', got 'b s2 extra'"),
        (GOOD, dict(text="a HI\nb X\nc Y\n"), r"text: 'c' is not in wav.scp"),
        (GOOD, dict(text="a HI\n\nb X\n"), r"text:2: empty line"),
        (SEGMENTED, dict(segments="a r1 0 1.5\nb r1 1.5 -1\nc r3 0 3\n"),
         r"segments:3: recording 'r3' of 'c' is not in wav.scp"),
        (SEGMENTED, dict(segments="a r1 2 1.5\nb r1 1.5 -1\nc r2 0 3\n"), r"segments:1: 'a' has bad times"),
        (SEGMENTED, dict(segments="a r1 0 x\nb r1 1.5 -1\nc r2 0 3\n"),
         r"segments:1: expected 'utterance recording start end'"),
        (SEGMENTED, dict(segments="a r1 0 1 2\nb r1 1.5 -1\nc r2 0 3\n"),
         r"segments:1: expected 'utterance recording start"),
        (SEGMENTED, dict(text="a HI\nb THERE\nc YOU\nd ME\n"), r"text: 'd' is not in segments"),
        (SEGMENTED, dict(spk2utt="s1 a\ns2 b c\n"), r"spk2utt:1: speaker 's1' does not match utt2spk"),
        (SEGMENTED, dict(spk2utt="s1 a b\n"), r"spk2utt: no line for speaker 's2'"),
    ],
)
def test_validation_errors_name_file_line_and_fault(tmp_path, base, change, message):
    _write(tmp_path, **{**base, **change})
    with pytest.raises(ValueError, match=message):
        validate_data_dir(tmp_path)


def test_not_utf8_is_reported(tmp_path):
    _write(tmp_path, **GOOD)
    (tmp_path / "text").write_bytes(b"a x\nb caf\xe9\n")
    with pytest.raises(ValueError, match="text:2: not UTF-8: byte 0xE9 at byte 6 of the line"):
        validate_data_dir(tmp_path)
    (tmp_path / "text").write_text("a x\nb y\n", encoding="utf-16")
    with pytest.raises(ValueError, match="text:1: file is UTF-16"):
        validate_data_dir(tmp_path)


def test_ids_with_whitespace_are_refused_when_written(tmp_path):
    for key in ("a b", "a\u2028b", ""):
        with pytest.raises(ValueError, match=f"text: id {re.escape(repr(key))} is empty or holds whitespace"):
            write_table(tmp_path / "text", {"ok": "HI", key: "HO"})
    assert not (tmp_path / "text").exists()


def test_tables_split_lines_on_newline_only(tmp_path):
    """As Kaldi reads tables: U+2028, U+0085, form feeds stay inside a value; a CR before LF is white space."""
    path = tmp_path / "text"
    path.write_bytes("\ufeffa one\u2028two\r\nb x\x85y\x0cz\n".encode("utf-8"))
    assert read_lines(path) == ["a one\u2028two\r", "b x\x85y\x0cz"]
    assert read_table(path) == {"a": "one\u2028two", "b": "x\x85y\x0cz"}
    path.write_text("")
    assert read_lines(path) == []
    path.write_text("\n\n")
    assert read_lines(path) == ["", ""]  # two empty lines, as str.splitlines counts them


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate_data_dir(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no wav.scp or images.scp"):
        validate_data_dir(tmp_path)


def test_segments_key_utterances_and_wav_scp_recordings(tmp_path):
    data = validate_data_dir(_write(tmp_path, **SEGMENTED))
    assert data.utts == ["a", "b", "c"]
    assert data.source_of("b") == ("/x/r1.wav", data.segments["b"])
    assert (data.segments["b"].recording, data.segments["b"].start, data.segments["b"].end) == ("r1", 1.5, -1)
    assert str(data.segments["c"]) == "r2 0.200 3.000"


def test_segments_need_audio(tmp_path):
    files = {**SEGMENTED, "images_scp": SEGMENTED["wav_scp"]}
    del files["wav_scp"]
    _write(tmp_path, **files)
    with pytest.raises(ValueError, match="segments cut recordings of wav.scp, not images.scp"):
        validate_data_dir(tmp_path)


def test_need_feats_checks_that_each_entry_points_inside_an_ark(tmp_path, capsys):
    """A feature run cut short leaves an empty ark behind the old feats.scp: validation must say so."""
    _write(tmp_path, **GOOD)
    ark, scp = tmp_path / "feats.ark", tmp_path / "feats.scp"
    kaldiio.save_ark(str(ark), {u: np.zeros((3, 2), np.float32) for u in "ab"}, scp=str(scp))
    assert list(validate_data_dir(tmp_path, need_feats=True).feats) == ["a", "b"]
    size = ark.stat().st_size
    scp.write_text(f"a {ark}:2\nb {ark}:{size}\n")
    past_end = rf"feats.scp:2: 'b' points to byte {size} of .*feats.ark, which has {size} bytes"
    with pytest.raises(ValueError, match=past_end):
        validate_data_dir(tmp_path, need_feats=True)
    validate_data_dir(tmp_path)  # not needed: not checked, e.g. before features are made anew
    scp.write_text(f"a {tmp_path / 'gone.ark'}:2\n")
    with pytest.raises(ValueError, match=r"feats.scp:1: 'a' points into .*gone.ark, which does not exist"):
        validate_data_dir(tmp_path, need_feats=True)
    scp.write_text(f"a {ark}:2\n")
    ark.write_bytes(b"")
    assert main(["validate", "--need-feats", str(tmp_path)]) == 1  # the ark of a run cut short
    error = f"asr validate: error: {scp}:1: 'a' points to byte 2 of {ark}, which has 0 bytes\n"
    assert capsys.readouterr().err == error


def test_missing_features_say_which_command_makes_them(tmp_path, capsys):
    """Decoding a data dir before 'asr features': the error names the step to run, with this dir."""
    data = tmp_path / "my data"
    data.mkdir()
    _write(data, **GOOD)
    with pytest.raises(FileNotFoundError, match=r"feats.scp: missing: no features yet; make them first with: "
                                                r"asr features '.*/my data' '.*/my data'$"):
        validate_data_dir(data, need_feats=True)
    assert main(["decode", "--model", "m.pt", "--data", str(data), "--out", str(tmp_path / "out"),
                 "--mode", "greedy"]) == 1
    error = capsys.readouterr().err
    assert error == f"asr decode: error: {data}/feats.scp: missing: no features yet; make them first with: " \
                    f"asr features '{data}' '{data}'\n"
