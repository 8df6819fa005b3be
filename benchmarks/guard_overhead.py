"""Cost of the divergence guards per iteration against one training step.

    flock /tmp/usb_asd_bench.lock python benchmarks/guard_overhead.py benchmarks/results/guard_overhead_cpu.json

On CPU (2 threads), resnet18_cifar, batch 64 of 32x32 images, SGD: the
median over 10 iterations of one forward/backward/update, and of the two
checks the learner adds each iteration (the loss is finite; every parameter
and BatchNorm statistic is finite after the update, usb_asd/core/divergence.py).
"""
import json, os, time, statistics, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import usb_asd  # noqa
from usb_asd.nets.resnet_cifar import resnet18_cifar
from usb_asd.core.divergence import all_finite, model_tensors
torch.set_num_threads(2)
torch.manual_seed(0)
model = resnet18_cifar(num_classes=10)
opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
def step():
    out = model(x)["logits"]
    loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward(); opt.step(); opt.zero_grad()
    return loss
def guard(loss):
    assert bool(torch.isfinite(loss.detach()).all())
    assert all_finite(model_tensors(model))
for _ in range(2): step()
steps, guards = [], []
for _ in range(10):
    t = time.perf_counter(); loss = step(); steps.append(time.perf_counter() - t)
    t = time.perf_counter(); guard(loss); guards.append(time.perf_counter() - t)
n = sum(p.numel() for p in model_tensors(model))
rec = {"elements_checked": n, "median_step_s": statistics.median(steps), "median_guard_s": statistics.median(guards),
       "guard_share": statistics.median(guards) / statistics.median(steps), "threads": 2}
print(json.dumps(rec, indent=1))
json.dump(rec, open(sys.argv[1], "w"), indent=1)
