import kaldiio
import numpy as np

from asr.data.datadir import read_table, validate_data_dir, write_data_dir
from asr.data.extract import extract_features
from asr.data.kaldi_fbank import FbankConfig


def test_features_of_real_audio_with_a_corrupt_file_skipped(an4_wavs, tmp_path, caplog):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    source = {f"u{i}": str(p) for i, p in enumerate(an4_wavs[:3])}
    source["u9"] = str(tmp_path / "corrupt.wav")
    write_data_dir(tmp_path / "src", source, {k: "A B" for k in source}, {k: "spk" for k in source})
    skipped = extract_features(tmp_path / "src", tmp_path / "dst", FbankConfig(), speeds=(0.9, 1.0))
    assert skipped == 2  # the corrupt file at both speeds
    assert "u9" in caplog.text and "corrupt.wav" in caplog.text
    assert {k: "corrupt.wav" in v for k, v in read_table(tmp_path / "dst" / "dropped").items()} == \
           {"sp0.9-u9": True, "u9": True}
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


def test_line_images_with_bad_ones_skipped_and_counted(copiste_root, tmp_path, caplog):
    """Unreadable and blank images are skipped at extraction; a line too narrow for its label at training."""
    from PIL import Image

    from asr.data.batching import load_utterances
    from asr.data.line_images import ImageConfig
    from asr.data.text import Tokenizer

    lines = sorted((copiste_root / "lines").glob("wikitexte_0014_2_00*.png"))[:2]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    Image.new("L", (400, 64), 255).save(tmp_path / "blank.png")
    Image.open(lines[1]).crop((0, 0, 40, 64)).save(tmp_path / "narrow.png")
    source = {"w-a": str(lines[0]), "w-b": str(tmp_path / "broken.png"), "w-c": str(tmp_path / "blank.png"),
              "w-d": str(tmp_path / "narrow.png")}
    text = {"w-a": "Le texte", "w-b": "x", "w-c": "y", "w-d": "une ligne bien trop longue pour 20 pixels"}
    write_data_dir(tmp_path / "src", source, text, dict.fromkeys(source, "w"), source_file="images.scp")
    assert extract_features(tmp_path / "src", tmp_path / "dst", ImageConfig()) == 2
    assert "w-b" in caplog.text and "broken.png: unreadable image" in caplog.text
    assert "w-c" in caplog.text and "blank image" in caplog.text
    data = validate_data_dir(tmp_path / "dst", need_feats=True)
    assert data.utts == ["w-a", "w-d"] and (tmp_path / "dst" / "images.scp").exists()
    assert kaldiio.load_mat(data.feats["w-a"]).shape[1] == 32
    utts, skipped = load_utterances(data, Tokenizer.from_texts(text.values()), subsampling=6, for_training=True)
    assert [u.key for u in utts] == ["w-a"] and skipped["too short for its label"] == 1
    assert "w-d" in caplog.text and "needed by CTC" in caplog.text


def test_segments_of_real_recordings_at_two_speeds(an4_wavs, tmp_path, caplog):
    """Kaldi's segments: utterances cut from recordings, speed copies in perturbed copies of the recordings."""
    import soundfile

    from asr.data.features import fbank

    recordings = {"r1": str(an4_wavs[0]), "r2": str(an4_wavs[1])}
    duration = soundfile.info(an4_wavs[0]).duration
    src = tmp_path / "src"
    src.mkdir()
    (src / "wav.scp").write_text("".join(f"{r} {p}\n" for r, p in recordings.items()))
    (src / "segments").write_text(f"r1-a r1 0.00 {duration / 2:.2f}\nr1-b r1 {duration / 2:.2f} -1\n"
                                  f"r2-a r2 0.10 0.90\nr2-z r2 {duration + 60:.2f} {duration + 61:.2f}\n")
    utts = ["r1-a", "r1-b", "r2-a", "r2-z"]
    (src / "text").write_text("".join(f"{u} A B\n" for u in utts))
    (src / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in utts))
    assert extract_features(src, tmp_path / "dst", FbankConfig(), speeds=(0.9, 1.0)) == 2
    assert "r2-z" in caplog.text and "lies outside the recording" in caplog.text
    data = validate_data_dir(tmp_path / "dst", need_feats=True)
    assert data.utts == ["r1-a", "r1-b", "r2-a", "sp0.9-r1-a", "sp0.9-r1-b", "sp0.9-r2-a"]
    assert sorted(data.source) == ["r1", "r2", "sp0.9-r1", "sp0.9-r2"]
    assert data.source_of("sp0.9-r2-a") == ("sox " + recordings["r2"] + " -t wav - speed 0.9 |",
                                            data.segments["sp0.9-r2-a"])
    assert (data.segments["sp0.9-r2-a"].start, data.segments["sp0.9-r2-a"].end) == (0.111, 1.0)
    assert data.segments["r1-b"].end == -1
    samples, rate = soundfile.read(an4_wavs[1], dtype="float32")
    np.testing.assert_allclose(kaldiio.load_mat(data.feats["r2-a"]),
                               fbank(samples[int(0.1 * rate) : int(0.9 * rate)], FbankConfig()).numpy(), atol=1e-4)
    halves = data.num_frames["r1-a"] + data.num_frames["r1-b"]
    assert abs(halves - duration * 100) <= 4  # the two halves cover the recording (10 ms frames)
    assert abs(data.num_frames["sp0.9-r1-a"] * 0.9 - data.num_frames["r1-a"]) <= 2


def test_perturbed_copy_of_a_file_named_like_an_option(an4_wavs):
    """A relative wav.scp path starting with '-' reaches sox as a file, not an option; others as they are."""
    import shlex

    from asr.data.extract import perturbed_source

    assert shlex.split(perturbed_source("-take 1.wav", 0.9))[:2] == ["sox", "./-take 1.wav"]
    assert shlex.split(perturbed_source(str(an4_wavs[0]), 0.9))[:2] == ["sox", str(an4_wavs[0])]
    assert perturbed_source("gunzip -c -a.wav.gz |", 0.9) == "gunzip -c -a.wav.gz | sox -t wav - -t wav - speed 0.9 |"
