import dataclasses
import logging

import pytest
import torch

from asr.data.batching import FeatureReader, Utterance, load_utterances
from asr.data.buckets import bucket_batches
from asr.data.datadir import validate_data_dir, write_table
from asr.data.text import Tokenizer, ctc_min_frames


def test_ctc_min_frames_counts_blanks_between_repeats():
    assert ctc_min_frames([3, 3, 4, 4, 4, 5]) == 9
    assert ctc_min_frames([]) == 0


def test_bucket_batches_respects_budgets_and_covers_everything():
    lengths = [int(x) for x in torch.randint(10, 500, (300,), generator=torch.Generator().manual_seed(0))]
    batches = bucket_batches(lengths, max_frames=2000, max_batch=16, shuffle=True, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(300))
    for batch in batches:
        assert len(batch) <= 16
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 2000
    assert batches == bucket_batches(lengths, 2000, 16, shuffle=True, seed=3)
    assert batches != bucket_batches(lengths, 2000, 16, shuffle=True, seed=4)


def test_bad_training_utterances_are_skipped_and_counted(mini_data, tmp_path, caplog):
    data = validate_data_dir(mini_data / "train", need_feats=True)
    keys = data.utts
    text = dict(data.text)
    text[keys[0]] = ""
    text[keys[1]] = text[keys[1]] + " Q~"
    text[keys[2]] = " ".join(["A B C D E F G H I J K"] * 20)
    write_table(tmp_path / "text", text)
    data.text = text
    tokenizer = Tokenizer.from_texts([t for k, t in text.items() if k != keys[1]] + ["ABCDEFGHIJK"])
    with caplog.at_level(logging.WARNING):
        utts, skipped = load_utterances(data, tokenizer, subsampling=3, for_training=True)
    assert skipped == {"empty transcript": 1, "unknown character": 1, "too short for its label": 1}
    assert len(utts) == len(keys) - 3
    assert keys[1] in caplog.text and "'~'" in caplog.text
    all_utts, none_skipped = load_utterances(data, tokenizer, subsampling=3, for_training=False)
    assert len(all_utts) == len(keys) and not none_skipped


def test_feature_reader_pads_and_normalizes(mini_data):
    data = validate_data_dir(mini_data / "dev", need_feats=True)
    tokenizer = Tokenizer.from_texts(data.text.values())
    utts, _ = load_utterances(data, tokenizer, subsampling=1, for_training=True)
    reader = FeatureReader(torch.zeros(80), torch.ones(80) * 2)
    batch = reader.batch(utts[:3])
    assert batch.feats.shape == (3, max(u.num_frames for u in utts[:3]), 80)
    assert batch.lengths.tolist() == [u.num_frames for u in utts[:3]]
    assert batch.label_lengths.tolist() == [len(u.labels) for u in utts[:3]]
    short = int(batch.lengths.argmin())
    assert batch.feats[short, batch.lengths[short]:].eq(0).all()
    assert batch.feats.abs().max() > 2  # scaled by inv_std 2
    with pytest.raises(StopIteration):
        next(iter(reader.batches([], 1000, 8, shuffle=False)))


def test_unreadable_features_name_the_utterance_the_entry_and_the_fault(mini_data):
    """A wrong offset made kaldiio raise a bare AssertionError in the middle of training."""
    data = validate_data_dir(mini_data / "dev", need_feats=True)
    key = data.utts[0]
    ark, _, offset = data.feats[key].rpartition(":")
    reader = FeatureReader(torch.zeros(80), torch.ones(80))
    tokenizer = Tokenizer.from_texts(data.text.values())
    for value, fault in ((f"{ark}:{int(offset) + 3}", "no Kaldi matrix there"),
                         (f"{ark}:{10 ** 9}", "no Kaldi matrix there"),
                         (f"{ark}.gone:{offset}", "No such file or directory")):
        message = f"^utterance '{key}': cannot read features '{value}': {fault}"
        with pytest.raises(ValueError, match=message):
            reader.read(Utterance(key, value, data.num_frames[key], data.text[key], (1,)))
        without_frames = dataclasses.replace(data, feats={key: value}, num_frames={})  # lengths are read then
        with pytest.raises(ValueError, match=message):
            load_utterances(without_frames, tokenizer, subsampling=1, for_training=True)
