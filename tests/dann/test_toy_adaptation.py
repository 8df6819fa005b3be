"""DANN's pieces together on a toy two-domain problem: it beats source-only.

Two classes in 2-D. Coordinate ``a = ±1 + N(0, 0.6^2)`` carries the class in
both domains. Coordinate ``c`` is a shortcut that only the source has: there
``c = ±2 + N(0, 0.3^2)`` (the class, cleaner than ``a``), in the target ``c = 2 +
N(0, 0.3^2)`` whatever the class. Source-only training leans on ``c`` and
calls every target point class 1 (~50%); the domain discriminator sees the
domains differ in ``c``, so DANN's features drop it and keep ``a``.
"""

import torch

from usb_asd.dann import DomainDiscriminator, domain_loss, grad_reverse, grl_coefficient, lr_anneal_factor


def _domain(n, target, gen):
    y = torch.randint(0, 2, (n,), generator=gen)
    sign = y.float() * 2 - 1
    a = sign + 0.6 * torch.randn(n, generator=gen)
    c = (torch.full((n,), 2.0) if target else 2.0 * sign) + 0.3 * torch.randn(n, generator=gen)
    return torch.stack([a, c], 1), y


def _target_accuracy(weight: float, seed: int, iters: int = 300, batch: int = 64) -> float:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xs, ys = _domain(512, False, gen)
    xt, yt = _domain(512, True, gen)
    features = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU())
    classifier, disc = torch.nn.Linear(16, 2), DomainDiscriminator(16, hidden=16)
    params = [*features.parameters(), *classifier.parameters(), *disc.parameters()]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    for it in range(iters):
        p = it / iters
        for group in opt.param_groups:
            group["lr"] = 0.05 * lr_anneal_factor(p)
        i = torch.randint(0, 512, (batch,), generator=gen)
        j = torch.randint(0, 512, (batch,), generator=gen)  # equal source and target batches
        zs, zt = features(xs[i]), features(xt[j])
        loss = torch.nn.functional.cross_entropy(classifier(zs), ys[i])
        if weight:
            d = disc(grad_reverse(torch.cat([zs, zt]), grl_coefficient(p)))
            loss = loss + weight * domain_loss(d[:batch], d[batch:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (classifier(features(xt)).argmax(1) == yt).float().mean().item()


def test_dann_beats_source_only_on_a_toy_shift():
    seeds = (0, 1, 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add synchronisation (100 s vs 2 s on a busy CI)
    try:
        source_only = [_target_accuracy(0.0, s) for s in seeds]
        dann = [_target_accuracy(1.0, s) for s in seeds]
    finally:
        torch.set_num_threads(threads)
    assert max(source_only) < 0.6  # the shortcut fails on the target
    assert sum(dann) / 3 >= sum(source_only) / 3 + 0.25, (source_only, dann)
    assert all(d > s for d, s in zip(dann, source_only)), (source_only, dann)
