"""The LSTM's forward pass in numpy: scoring without importing torch.

It reproduces ``torch.nn.LSTM`` (``batch_first``, no projection, one direction) followed by the
model's linear head on the last hidden state, in float32, from the same named weights as the
network's ``state_dict``: per layer ``l`` ``lstm.weight_ih_l{l}`` ``(4H, inputs)``,
``lstm.weight_hh_l{l}`` ``(4H, H)``, ``lstm.bias_ih_l{l}`` and ``lstm.bias_hh_l{l}`` ``(4H,)``;
then ``head.weight`` ``(1, H)`` and ``head.bias`` ``(1,)``. The four gate blocks are stacked in
PyTorch's order: input ``i``, forget ``f``, cell ``g``, output ``o``; at each minute
``c = f * c + i * g`` and ``h = o * tanh(c)``.

The weights are saved as ``lstm.npz`` (plain arrays, no pickle) and checked against the
hyper-parameters recorded in ``lstm.json`` before use: a missing, extra or misshapen tensor is
BadInput naming the file and the tensor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import read_npz

INPUT_SIZE = 2  # per minute: the scaled differential and the minute index
BATCH = 1024  # rows per pass: bounds the (rows, minutes, 4H) gate inputs in memory
ONE_THREAD_ROWS = 64  # more rows than this: BLAS limited to one thread (see forward)

Weights = dict[str, np.ndarray]


def expected_shapes(hidden_size: int, num_layers: int) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and shape for a network of these hyper-parameters."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(num_layers):
        inputs = INPUT_SIZE if layer == 0 else hidden_size
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * hidden_size, inputs)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * hidden_size, hidden_size)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * hidden_size,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * hidden_size,)
    shapes["head.weight"] = (1, hidden_size)
    shapes["head.bias"] = (1,)
    return shapes


def check_weights(weights: dict[str, object], hidden_size: int, num_layers: int,
                  source: Path, params_file: str) -> Weights:
    """``weights`` as float32 arrays if they match the hyper-parameters, else BadInput naming
    ``source`` and the first tensor that does not (``params_file`` holds the hyper-parameters)."""
    expected = expected_shapes(hidden_size, num_layers)
    hyper = f"hidden_size={hidden_size}, num_layers={num_layers}"
    for name in weights:
        if name not in expected:
            raise BadInput(f"{source}: tensor {name} is not in a network of {params_file}'s "
                           f"{hyper}")
    checked: Weights = {}
    for name, shape in expected.items():
        if name not in weights:
            raise BadInput(f"{source}: tensor {name} is missing ({params_file}: {hyper})")
        array = np.asarray(weights[name])
        if array.shape != shape:
            raise BadInput(f"{source}: tensor {name} has shape {array.shape}, {params_file} "
                           f"({hyper}) needs {shape}")
        if array.dtype.kind != "f" or not np.isfinite(array).all():
            raise BadInput(f"{source}: tensor {name} is not finite floating-point numbers")
        checked[name] = np.ascontiguousarray(array, dtype=np.float32)
    return checked


def read_weights(path: Path, hidden_size: int, num_layers: int, params_file: str) -> Weights:
    """The checked weights in ``path`` (an ``.npz``); a missing or damaged file is BadInput."""
    return check_weights(read_npz(path), hidden_size, num_layers, path, params_file)


def forward(weights: Weights, inputs: np.ndarray, num_layers: int) -> np.ndarray:
    """The network's output for float32 ``inputs`` ``(n, minutes, 2)``: ``(n,)`` float32.

    Above ``ONE_THREAD_ROWS`` rows BLAS runs on one thread: each minute's product is small
    (``BATCH x H x 4H``) and OpenBLAS's threads cost more than they give. On the 2-core
    machine, 10,000 rows at H=64, 2 layers took 3.0 s on one thread and 9.8 s on two while
    other jobs ran. Fewer rows skip the limit, which costs milliseconds itself.
    """
    if len(inputs) <= ONE_THREAD_ROWS:
        return _forward(weights, inputs, num_layers)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _forward(weights, inputs, num_layers)


def _forward(weights: Weights, inputs: np.ndarray, num_layers: int) -> np.ndarray:
    out = np.empty(len(inputs), dtype=np.float32)
    for start in range(0, len(inputs), BATCH):
        sequence = np.ascontiguousarray(inputs[start:start + BATCH].transpose(1, 0, 2))
        for layer in range(num_layers):
            sequence = _layer(weights, layer, sequence)
        out[start:start + BATCH] = sequence[-1] @ weights["head.weight"][0] + weights["head.bias"][0]
    return out


def _layer(weights: Weights, layer: int, sequence: np.ndarray) -> np.ndarray:
    """One LSTM layer over a minute-major ``sequence`` ``(minutes, n, inputs)``: its hidden
    states ``(minutes, n, H)``.

    The gate rows are reordered to ``i, f, o, g`` and those of the three sigmoid gates halved
    (exact in binary floating point), so that one ``tanh`` over all the gates serves both
    activations: ``sigmoid(x) = (1 + tanh(x / 2)) / 2``, which cannot overflow."""
    w_ih, w_hh = weights[f"lstm.weight_ih_l{layer}"], weights[f"lstm.weight_hh_l{layer}"]
    bias = weights[f"lstm.bias_ih_l{layer}"] + weights[f"lstm.bias_hh_l{layer}"]
    minutes, n, inputs = sequence.shape
    hidden = w_hh.shape[1]
    order = np.r_[0:2 * hidden, 3 * hidden:4 * hidden, 2 * hidden:3 * hidden]  # i, f, o, g
    half = np.where(np.arange(4 * hidden) < 3 * hidden, np.float32(0.5), np.float32(1.0))
    w_ih, bias = w_ih[order] * half[:, None], bias[order] * half
    w_hh_t = np.ascontiguousarray((w_hh[order] * half[:, None]).T)
    gate_inputs = (sequence.reshape(-1, inputs) @ w_ih.T + bias).reshape(minutes, n, 4 * hidden)
    states = np.empty((minutes, n, hidden), dtype=np.float32)
    h = np.zeros((n, hidden), dtype=np.float32)
    c = np.zeros((n, hidden), dtype=np.float32)
    gates = np.empty((n, 4 * hidden), dtype=np.float32)
    product = np.empty((n, hidden), dtype=np.float32)
    sigmoid, g = gates[:, :3 * hidden], gates[:, 3 * hidden:]
    i, f, o = gates[:, :hidden], gates[:, hidden:2 * hidden], gates[:, 2 * hidden:3 * hidden]
    for minute in range(minutes):
        np.matmul(h, w_hh_t, out=gates)
        gates += gate_inputs[minute]
        np.tanh(gates, out=gates)
        sigmoid += np.float32(1.0)
        sigmoid *= np.float32(0.5)
        np.multiply(i, g, out=product)
        c *= f
        c += product
        h = states[minute]
        np.tanh(c, out=h)
        h *= o
    return states
