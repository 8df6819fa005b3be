"""The gradient-reversal layer: identity forward, -lambda * grad backward."""

import pytest
import torch

from usb_asd.dann.gradient_reversal import GradientReversal, grad_reverse


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_identity_forward_and_scaled_reversed_backward(coeff):
    torch.manual_seed(0)
    x = torch.randn(5, 4, requires_grad=True)
    upstream = torch.randn(5, 4)
    y = grad_reverse(x, coeff)
    assert torch.equal(y, x)
    y.backward(upstream)
    assert torch.allclose(x.grad, -coeff * upstream)


def test_module_form_uses_its_stored_or_given_coefficient():
    x = torch.ones(3, requires_grad=True)
    GradientReversal(0.5)(x).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -0.5))
    x.grad = None
    GradientReversal(0.5)(x, coeff=2.0).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -2.0))


def test_reversal_only_affects_what_is_behind_it():
    """Parameters after the layer get the ordinary gradient; those before it the reversed one."""
    torch.manual_seed(0)
    before, after = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    x = torch.randn(4, 3)
    after(before(x)).sum().backward()
    g_before, g_after = before.weight.grad.clone(), after.weight.grad.clone()
    before.zero_grad(), after.zero_grad()
    after(grad_reverse(before(x), 0.7)).sum().backward()
    assert torch.allclose(after.weight.grad, g_after)
    assert torch.allclose(before.weight.grad, -0.7 * g_before)


@pytest.mark.parametrize("coeff", [-0.1, float("nan"), float("inf")])
def test_bad_coefficient_is_refused(coeff):
    with pytest.raises(ValueError, match="coefficient"):
        grad_reverse(torch.ones(2), coeff)
