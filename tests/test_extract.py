import kaldiio
import numpy as np

from asr.datadir import read_table, validate_data_dir, write_data_dir
from asr.extract import extract_features
from asr.features import FbankConfig


def test_features_of_real_audio_with_a_corrupt_file_skipped(an4_wavs, tmp_path, caplog):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    source = {f"u{i}": str(p) for i, p in enumerate(an4_wavs[:3])}
    source["u9"] = str(tmp_path / "corrupt.wav")
    write_data_dir(tmp_path / "src", source, {k: "A B" for k in source}, {k: "spk" for k in source})
    skipped = extract_features(tmp_path / "src", tmp_path / "dst", FbankConfig(), speeds=(0.9, 1.0))
    assert skipped == 2  # the corrupt file at both speeds
    assert "u9" in caplog.text and "corrupt.wav" in caplog.text
    data = validate_data_dir(tmp_path / "dst", need_feats=True)
    assert data.utts == ["sp0.9-u0", "sp0.9-u1", "sp0.9-u2", "u0", "u1", "u2"]
    assert data.utt2spk["sp0.9-u1"] == "sp0.9-spk"
    for key in data.utts:
        feats = kaldiio.load_mat(data.feats[key])
        assert feats.shape == (data.num_frames[key], 80)
    # slower speech has about 1/0.9 as many frames
    assert abs(data.num_frames["sp0.9-u0"] * 0.9 - data.num_frames["u0"]) <= 2
    stats = kaldiio.load_mat(str(tmp_path / "dst" / "cmvn.ark"))
    assert stats[0, -1] == sum(data.num_frames.values())
    assert read_table(tmp_path / "dst" / "text")["u2"] == "A B"
    assert (tmp_path / "dst" / "fbank.yaml").exists()
    np.testing.assert_array_equal(kaldiio.load_mat(data.feats["u0"]),
                                  kaldiio.load_mat(validate_data_dir(tmp_path / "dst").feats["u0"]))
