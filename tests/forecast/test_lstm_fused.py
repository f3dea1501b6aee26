"""The fused CPU training kernel computes nn.LSTM's last hidden state and its gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.forecast.lstm_fused import last_hidden
from nbalife.forecast.lstm_torch import Network


def _lstm(hidden_size: int, num_layers: int, seed: int, inputs: int = 2) -> torch.nn.LSTM:
    """A float64 LSTM with torch's initial weights scaled up, so some gates saturate."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(inputs, hidden_size, num_layers, batch_first=True).double()
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.mul_(3.0)
    return lstm


def _gradients(output: torch.Tensor, lstm: torch.nn.LSTM, weight: torch.Tensor) -> list:
    return list(torch.autograd.grad((output * weight).sum(), list(lstm.parameters())))


@settings(max_examples=20, deadline=None)
@given(hidden_size=st.integers(1, 12), num_layers=st.integers(1, 4), batch=st.integers(1, 9),
       minutes=st.integers(1, 21), inputs=st.integers(1, 3), seed=st.integers(0, 1000))
def test_outputs_and_gradients_equal_nn_lstm(hidden_size: int, num_layers: int, batch: int,
                                             minutes: int, inputs: int, seed: int) -> None:
    lstm = _lstm(hidden_size, num_layers, seed, inputs)
    x = torch.randn(batch, minutes, inputs, dtype=torch.float64, generator=torch.Generator()
                    .manual_seed(seed)) * 2
    weight = torch.randn(batch, hidden_size, dtype=torch.float64)
    expected = lstm(x)[0][:, -1]
    fused = last_hidden(x, lstm.parameters())
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-12)
    for mine, reference in zip(_gradients(fused, lstm, weight), _gradients(expected, lstm, weight)):
        torch.testing.assert_close(mine, reference, rtol=0, atol=1e-11)


def test_gradcheck_against_finite_differences() -> None:
    lstm = _lstm(3, 2, seed=7)
    x = torch.randn(4, 5, 2, dtype=torch.float64)
    params = tuple(p.detach().clone().requires_grad_() for p in lstm.parameters())
    assert torch.autograd.gradcheck(lambda *weights: last_hidden(x, weights), params,
                                    eps=1e-6, atol=1e-6)


def test_float32_network_matches_its_nn_lstm_forward() -> None:
    network = Network(64, 2)
    x = torch.randn(300, 19, 2)
    with torch.no_grad():
        np.testing.assert_allclose(network.forward_fused(x).numpy(), network(x).numpy(),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_a_training_step_moves_the_weights_as_nn_lstm_does(layers: int) -> None:
    torch.manual_seed(3)
    x, y = torch.randn(64, 19, 2), torch.randn(64)
    steps = []
    for run in ("forward", "forward_fused"):
        torch.manual_seed(0)
        network = Network(16, layers)
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.huber_loss(getattr(network, run)(x), y).backward()
            optimizer.step()
        steps.append(network.state_dict())
    for name, value in steps[0].items():
        torch.testing.assert_close(steps[1][name], value, rtol=0, atol=1e-5)
