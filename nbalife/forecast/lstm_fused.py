"""A stacked LSTM for CPU training with a hand-written backward pass: fewer, bigger torch ops.

``torch.nn.LSTM``'s CPU kernel runs each minute as a dozen small autograd ops and their
gradients, and its ``tanh`` costs 4-9 ns a value on the training machine against about 1 ns for
``sigmoid``. ``last_hidden`` computes the same function from the same ``nn.LSTM`` parameters,
with:

- one matrix product per minute and layer: ``[h_prev, x, 1] @ [W_hh, W_ih, b]^T`` (the bias
  folded in as a column of ones), and in the backward pass one product for the gradients of
  ``h_prev`` and ``x`` and one accumulating the weight and bias gradients;
- ``tanh(z) = 2 sigmoid(2z) - 1``: one ``sigmoid`` over all four gates (the cell gate's rows of
  the weights doubled), one more for ``tanh(c)``;
- the backward pass written out (BPTT), reusing the gates saved by the forward pass.

Only the last hidden state of the top layer is returned (what the model's head reads). The
gradients equal autograd's through ``nn.LSTM`` to float rounding (tests/forecast/
test_lstm_fused.py, in float64). Training only; scoring runs ``lstm_numpy`` on the saved weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def last_hidden(x: torch.Tensor, parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """``lstm(x)[0][:, -1]`` for a ``batch_first`` ``nn.LSTM`` (one direction, no projection,
    no dropout) with ``parameters = lstm.parameters()``: per layer ``weight_ih``, ``weight_hh``,
    ``bias_ih``, ``bias_hh``. Differentiable in the parameters (not in ``x``)."""
    return _StackedLSTM.apply(x, *parameters)


class _StackedLSTM(torch.autograd.Function):
    """``apply(x, *parameters)``; the forward pass keeps every minute's gates for the backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        batch, minutes, _ = x.shape
        layer_input = x.transpose(0, 1)  # minute-major views
        saved = []
        for layer in range(len(params) // 4):
            w_ih, w_hh, b_ih, b_hh = params[4 * layer:4 * layer + 4]
            hidden, inputs = w_hh.shape[1], w_ih.shape[1]
            weights = torch.cat([w_hh, w_ih, (b_ih + b_hh)[:, None]], 1)  # (4H, H + I + 1)
            doubled = weights.clone()
            doubled[2 * hidden:3 * hidden] *= 2
            # row t: [h_(t-1), x_t, 1]; row `minutes` holds the last h
            hx = x.new_zeros(minutes + 1, batch, hidden + inputs + 1)
            hx[:minutes, :, hidden:hidden + inputs] = layer_input
            hx[:minutes, :, -1] = 1
            gates = x.new_empty(minutes, batch, 4 * hidden)
            cells = x.new_zeros(minutes + 1, batch, hidden)
            tanh_cells = x.new_empty(minutes, batch, hidden)
            for t in range(minutes):
                a = torch.mm(hx[t], doubled.t(), out=gates[t]).sigmoid_()
                a[:, 2 * hidden:3 * hidden].mul_(2).sub_(1)  # g = tanh
                c = torch.mul(a[:, hidden:2 * hidden], cells[t], out=cells[t + 1])
                c.addcmul_(a[:, :hidden], a[:, 2 * hidden:3 * hidden])
                tc = torch.mul(c, 2, out=tanh_cells[t]).sigmoid_().mul_(2).sub_(1)
                torch.mul(a[:, 3 * hidden:], tc, out=hx[t + 1, :, :hidden])
            saved.append((hx, gates, cells, tanh_cells, weights))
            layer_input = hx[1:, :, :hidden]
        ctx.saved = saved
        return hx[minutes, :, :hidden].clone()

    @staticmethod
    def backward(ctx: Any, grad_last: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grads: list[torch.Tensor] = []
        from_above = None  # gradient of the loss on the layer's outputs, every minute
        for hx, gates, cells, tanh_cells, weights in reversed(ctx.saved):
            minutes, batch, hidden = tanh_cells.shape
            width = hx.shape[2]
            d_weights = torch.zeros_like(weights)
            d_hx = grad_last.new_empty(minutes, batch, width)
            d_gates = grad_last.new_empty(batch, 4 * hidden)
            slope = grad_last.new_empty(batch, 4 * hidden)
            d_cell_from_h = grad_last.new_empty(batch, hidden)
            dc = grad_last.new_zeros(batch, hidden)
            dh = grad_last.new_empty(batch, hidden)
            for t in reversed(range(minutes)):
                a, tc = gates[t], tanh_cells[t]
                i, f, g, o = a.split(hidden, 1)
                if t == minutes - 1:
                    dh.copy_(grad_last if from_above is None else from_above[t])
                elif from_above is None:
                    dh.copy_(d_hx[t + 1, :, :hidden])
                else:
                    torch.add(d_hx[t + 1, :, :hidden], from_above[t], out=dh)
                # gate slopes: s (1 - s) for the sigmoids i, f, o; 1 - g^2 for g = tanh
                torch.mul(a, a, out=slope)
                slope[:, 2 * hidden:3 * hidden].neg_().add_(1)
                slope[:, :2 * hidden].neg_().add_(a[:, :2 * hidden])
                slope[:, 3 * hidden:].neg_().add_(o)
                torch.mul(tc, tc, out=d_cell_from_h).neg_().add_(1).mul_(o)
                dc.addcmul_(dh, d_cell_from_h)
                torch.mul(dc, g, out=d_gates[:, :hidden])
                torch.mul(dc, cells[t], out=d_gates[:, hidden:2 * hidden])
                torch.mul(dc, i, out=d_gates[:, 2 * hidden:3 * hidden])
                torch.mul(dh, tc, out=d_gates[:, 3 * hidden:])
                d_gates.mul_(slope)
                dc.mul_(f)
                torch.mm(d_gates, weights, out=d_hx[t])
                d_weights.addmm_(d_gates.t(), hx[t])
            inputs = width - hidden - 1
            d_bias = d_weights[:, -1]
            grads[:0] = [d_weights[:, hidden:hidden + inputs], d_weights[:, :hidden], d_bias,
                         d_bias.clone()]
            from_above = d_hx[:, :, hidden:hidden + inputs]
        return (None, *grads)
