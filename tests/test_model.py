import pytest
import torch

from asr.model import AcousticModel, ModelConfig, reverse_padded


def test_reverse_padded_keeps_padding_in_place():
    x = torch.arange(10.0).reshape(2, 5, 1)
    out = reverse_padded(x, torch.tensor([5, 3]))
    assert out[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]


@pytest.mark.parametrize("rnn, projection", [("lstm", 0), ("lstm", 16), ("gru", 0)])
def test_padded_batch_equals_each_sequence_alone(rnn, projection):
    """Exact bidirectionality: padding never leaks into the shorter sequences."""
    torch.manual_seed(0)
    model = AcousticModel(ModelConfig(input_dim=8, num_tokens=6, stack=2, hidden=24, layers=2,
                                      projection=projection, rnn=rnn)).eval()
    feats = torch.randn(3, 41, 8)
    lengths = torch.tensor([41, 20, 7])
    log_probs, out_lengths = model(feats, lengths)
    assert out_lengths.tolist() == [20, 10, 3]
    assert log_probs.shape == (3, 20, 6)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 20))
    for b in range(3):
        alone, _ = model(feats[b : b + 1, : lengths[b]], lengths[b : b + 1])
        torch.testing.assert_close(alone[0], log_probs[b, : out_lengths[b]], atol=1e-5, rtol=1e-5)


def test_utterance_mean_model_ignores_a_constant_offset_and_the_padding():
    """With utterance_mean, a level change (a constant added to each log mel bin) changes no output."""
    torch.manual_seed(0)
    model = AcousticModel(ModelConfig(input_dim=8, num_tokens=6, stack=2, hidden=16, layers=1,
                                      utterance_mean=True)).eval()
    feats, lengths = torch.randn(2, 30, 8), torch.tensor([30, 17])
    feats[1, 17:] = 0
    shifted = feats + torch.randn(2, 1, 8) * 3
    shifted[1, 17:] = 0
    log_probs, out_lengths = model(feats, lengths)
    torch.testing.assert_close(model(shifted, lengths)[0], log_probs, atol=1e-5, rtol=1e-5)
    alone, _ = model(feats[1:, :17], lengths[1:])
    torch.testing.assert_close(alone[0], log_probs[1, : out_lengths[1]], atol=1e-5, rtol=1e-5)
    plain = AcousticModel(ModelConfig(input_dim=8, num_tokens=6, stack=2, hidden=16, layers=1)).eval()
    plain.load_state_dict(model.state_dict())
    assert not torch.allclose(plain(shifted, lengths)[0], plain(feats, lengths)[0], atol=1e-3)


def test_invalid_configs_are_rejected():
    with pytest.raises(ValueError, match="rnn must be"):
        ModelConfig(rnn="transformer")
    with pytest.raises(ValueError, match="projection"):
        ModelConfig(rnn="gru", projection=10)
    with pytest.raises(ValueError, match="num_tokens"):
        AcousticModel(ModelConfig(num_tokens=0))


def test_conv_front_end_subsamples_and_ignores_batch_padding():
    """A line's output does not depend on the longer lines padded beside it."""
    torch.manual_seed(0)
    config = ModelConfig(input_dim=32, num_tokens=7, stack=1, hidden=16, layers=1,
                         conv_channels=(4, 8), conv_pool=((2, 1), (2, 3)))
    assert config.subsampling == 3
    model = AcousticModel(config).eval()
    feats = torch.rand(3, 100, 32)
    lengths = torch.tensor([100, 61, 20])
    log_probs, out_lengths = model(feats, lengths)
    assert out_lengths.tolist() == [33, 20, 6] and log_probs.shape == (3, 33, 7)
    for b in range(3):
        alone, _ = model(feats[b : b + 1, : lengths[b]], lengths[b : b + 1])
        torch.testing.assert_close(alone[0], log_probs[b, : out_lengths[b]], atol=1e-5, rtol=1e-5)


def test_conv_config_is_checked():
    with pytest.raises(ValueError, match="conv_pool"):
        ModelConfig(conv_channels=(4, 8), conv_pool=((2, 2),))
    with pytest.raises(ValueError, match="height"):
        AcousticModel(ModelConfig(input_dim=8, num_tokens=4, stack=1, conv_channels=(4, 4, 4, 4),
                                  conv_pool=((2, 1), (2, 1), (2, 1), (2, 1))))


def test_intermediate_ctc_outputs_and_self_conditioning_stay_exact():
    """Self-conditioning changes the last layer's input, yet padding still never leaks."""
    torch.manual_seed(0)
    config = ModelConfig(input_dim=8, num_tokens=6, stack=2, hidden=12, layers=3, inter_ctc_layers=(2, 1),
                         self_condition=True)
    assert config.inter_ctc_layers == (1, 2)
    model = AcousticModel(config).eval()
    feats, lengths = torch.randn(2, 30, 8), torch.tensor([30, 11])
    log_probs, out_lengths, inter = model(feats, lengths, intermediate=True)
    assert len(inter) == 2 and all(p.shape == log_probs.shape for p in inter)
    torch.testing.assert_close(inter[0].exp().sum(-1), torch.ones(2, 15))
    plain, _ = model(feats, lengths)
    torch.testing.assert_close(plain, log_probs)
    alone, _ = model(feats[1:, :11], lengths[1:])
    torch.testing.assert_close(alone[0], log_probs[1, :5], atol=1e-5, rtol=1e-5)
    model.condition = None  # without the projection back the last layer sees other inputs
    assert not torch.allclose(model(feats, lengths)[0], log_probs)
    assert len(model(feats, lengths, intermediate=True)[2]) == 2  # training still gets the auxiliary outputs


def test_intermediate_ctc_config_is_checked():
    with pytest.raises(ValueError, match="inter_ctc_layers must lie in 1..3"):
        ModelConfig(layers=4, inter_ctc_layers=(4,))
    with pytest.raises(ValueError, match="self_condition needs"):
        ModelConfig(self_condition=True)
