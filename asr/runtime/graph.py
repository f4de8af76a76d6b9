"""The acoustic model as an ONNX graph, built from its config and weights (no tracing).

The network (:class:`asr.model.AcousticModel`) runs each bidirectional layer
as two unidirectional RNNs, the backward one on input reversed within each
sequence's length, so that padding never reaches a shorter sequence.  ONNX's
``LSTM`` and ``GRU`` ops do exactly that natively with ``sequence_lens`` and
``direction="bidirectional"``, so each layer is one op here, which
onnxruntime runs with its fused CPU kernels; tracing the torch module
instead gives two ops per layer with gathers around them (and the traced
graph of the legacy exporter did not match the model).  The graph:

    features (B, T, D) float32, normalized; lengths (B,) int64
    -> utterance mean subtracted (if the config says) -> frame stacking
    -> conv blocks (conv, batch norm, leaky ReLU, max pool, masked past each
       length) -> time-major RNN layers -> output layer
    -> log_probs (B, T', V) float32; output_lengths (B,) int64

Dropout is left out (inference), and a projection LSTM (``projection > 0``)
has no ONNX op: it is refused in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from asr.runtime.bundle import INPUTS, OUTPUTS

if TYPE_CHECKING:
    from asr.model import ModelConfig

OPSET = 17
# torch's gate blocks, in the order ONNX wants them: LSTM i f g o -> i o f c; GRU r z n -> z r h.
_GATES = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}
_BATCH_NORM_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which the model uses
_LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU(0.01) in the conv blocks


class _Graph:
    """Nodes and initializers under construction, with fresh names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, value: np.ndarray | int | list[int], name: str | None = None) -> str:
        array = np.asarray(value, dtype=np.int64) if not isinstance(value, np.ndarray) else value
        name = name or self._fresh("const")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, name: str | None = None, **attributes) -> str:
        """Add a node; returns its (first) output's name."""
        names = [name or self._fresh(op_type.lower())] + [self._fresh(op_type.lower()) for _ in range(outputs - 1)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0]

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"


def _valid(graph: _Graph, x: str, time_axis: int, lengths: str) -> str:
    """(B, T) float32: 1 for the frames of ``x`` (time on ``time_axis``) before each sequence's length, else 0."""
    frames = graph.op("Gather", graph.op("Shape", x), graph.const(time_axis), axis=0)
    steps = graph.op("Range", graph.const(0), frames, graph.const(1))
    valid = graph.op("Less", graph.op("Unsqueeze", steps, graph.const([0])),
                     graph.op("Unsqueeze", lengths, graph.const([1])))
    return graph.op("Cast", valid, to=TensorProto.FLOAT)


def _mask(graph: _Graph, x: str, lengths: str) -> str:
    """Zero the frames of a (B, C, H, T) map at and past each sequence's length."""
    return graph.op("Mul", x, graph.op("Unsqueeze", _valid(graph, x, 3, lengths), graph.const([1, 2])))


def _subtract_utterance_mean(graph: _Graph, x: str, lengths: str) -> str:
    """Each (B, T, D) sequence minus its mean frame over its own length, padding zeroed, as
    :func:`asr.data.features.subtract_utterance_mean`."""
    weights = graph.op("Unsqueeze", _valid(graph, x, 1, lengths), graph.const([2]))  # (B, T, 1)
    count = graph.op("Max", graph.op("ReduceSum", weights, graph.const([1]), keepdims=1),
                     graph.const(np.ones(1, np.float32)))  # (B, 1, 1) frames, at least 1
    total = graph.op("ReduceSum", graph.op("Mul", x, weights), graph.const([1]), keepdims=1)  # (B, 1, D)
    mean = graph.op("Div", total, count)
    return graph.op("Mul", graph.op("Sub", x, mean), weights)


def _gates(weight: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Reorder a torch RNN matrix's (or bias's) gate blocks along axis 0 into ONNX's order."""
    return np.concatenate([np.split(weight, len(order))[i] for i in order])


def _recurrent(graph: _Graph, x: str, seq_lengths: str, weights: dict[str, np.ndarray], prefix: str,
               rnn: str, hidden: int) -> str:
    """One bidirectional layer over time-major (T, B, D) input; returns its (T, B, 2 * hidden) output."""
    order = _GATES[rnn]
    directions = [f"{prefix}.forward_rnn", f"{prefix}.backward_rnn"]
    stacked = {
        kind: np.stack([_gates(weights[f"{d}.{kind}_l0"], order) for d in directions])
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }
    bias = np.concatenate([stacked["bias_ih"], stacked["bias_hh"]], axis=1)
    extra = {"linear_before_reset": 1} if rnn == "gru" else {}  # torch's GRU applies r after the hidden matmul
    y = graph.op(rnn.upper(), x, graph.const(stacked["weight_ih"]), graph.const(stacked["weight_hh"]),
                 graph.const(bias), seq_lengths, hidden_size=hidden, direction="bidirectional", **extra)
    # Y is (T, 2, B, H): forward then backward, concatenated per frame as the torch layer does.
    return graph.op("Reshape", graph.op("Transpose", y, perm=[0, 2, 1, 3]), graph.const([0, 0, 2 * hidden]))


def _linear(graph: _Graph, x: str, weights: dict[str, np.ndarray], prefix: str) -> str:
    return graph.op("Add", graph.op("MatMul", x, graph.const(np.ascontiguousarray(weights[f"{prefix}.weight"].T))),
                    graph.const(weights[f"{prefix}.bias"]))


def build_graph(config: ModelConfig, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX model of an :class:`asr.model.AcousticModel` of ``config`` with float32 ``weights`` (its state_dict)."""
    if config.projection:
        raise ValueError(f"an LSTM with projection ({config.projection}) has no ONNX op; export a model without one")
    graph = _Graph()
    x, lengths = INPUTS
    if config.utterance_mean:
        x = _subtract_utterance_mean(graph, x, lengths)
    if config.stack > 1:  # (B, T, D) -> (B, T // stack, D * stack), as asr.data.features.stack_frames
        frames = graph.op("Gather", graph.op("Shape", x), graph.const(1), axis=0)
        kept = graph.op("Mul", graph.op("Div", frames, graph.const(config.stack)), graph.const(config.stack))
        x = graph.op("Slice", x, graph.const([0]), graph.op("Unsqueeze", kept, graph.const([0])), graph.const([1]))
        x = graph.op("Reshape", x, graph.const([0, -1, config.input_dim * config.stack]))
        lengths = graph.op("Div", lengths, graph.const(config.stack))
    if config.conv_channels:  # (B, T, D) seen as a D x T image, as asr.model.ConvFrontEnd
        x = _mask(graph, graph.op("Unsqueeze", graph.op("Transpose", x, perm=[0, 2, 1]), graph.const([1])), lengths)
        for k, (_, (pool_h, pool_w)) in enumerate(zip(config.conv_channels, config.conv_pool)):
            block = f"frontend.blocks.{k}"
            x = graph.op("Conv", x, graph.const(weights[f"{block}.0.weight"]), graph.const(weights[f"{block}.0.bias"]),
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            x = graph.op("BatchNormalization", x, *(graph.const(weights[f"{block}.1.{name}"])
                                                    for name in ("weight", "bias", "running_mean", "running_var")),
                         epsilon=_BATCH_NORM_EPS)
            x = graph.op("LeakyRelu", x, alpha=_LEAKY_SLOPE)
            if pool_h * pool_w > 1:
                x = graph.op("MaxPool", x, kernel_shape=[pool_h, pool_w], strides=[pool_h, pool_w])
            lengths = graph.op("Div", lengths, graph.const(pool_w))
            x = _mask(graph, x, lengths)
        x = graph.op("Reshape", graph.op("Transpose", x, perm=[3, 0, 1, 2]), graph.const([0, 0, -1]))  # (T, B, C*H)
    else:
        x = graph.op("Transpose", x, perm=[1, 0, 2])  # time-major for the RNN ops
    seq_lengths = graph.op("Cast", lengths, to=TensorProto.INT32)
    for i in range(1, config.layers + 1):
        x = _recurrent(graph, x, seq_lengths, weights, f"layers.{i - 1}", config.rnn, config.hidden)
        if config.self_condition and i in config.inter_ctc_layers:  # the layer's CTC prediction, fed back
            inter = graph.op("LogSoftmax", _linear(graph, x, weights, "output"), axis=2)
            x = graph.op("Add", x, _linear(graph, graph.op("Exp", inter), weights, "condition"))
    scores = graph.op("LogSoftmax", _linear(graph, x, weights, "output"), axis=2)
    graph.op("Transpose", scores, perm=[1, 0, 2], name=OUTPUTS[0])
    graph.op("Identity", lengths, name=OUTPUTS[1])
    inputs = [helper.make_tensor_value_info(INPUTS[0], TensorProto.FLOAT, ["batch", "frames", config.input_dim]),
              helper.make_tensor_value_info(INPUTS[1], TensorProto.INT64, ["batch"])]
    outputs = [
        helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, ["batch", "output_frames", config.num_tokens]),
        helper.make_tensor_value_info(OUTPUTS[1], TensorProto.INT64, ["batch"]),
    ]
    model = helper.make_model(helper.make_graph(graph.nodes, "acoustic_model", inputs, outputs, graph.initializers),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="asr")
    onnx.checker.check_model(model, full_check=True)
    return model
