"""Benchmark ``trainer_overhead``: the project's training loop against a bare PyTorch loop.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_trainer_overhead.py [--families vae,flow,gan,rbm] [--epochs 20] [--repeat 3]

For each family, the model of ``params.yaml`` (its default config and ``fit``, on the
default dataset, digits) trains twice from the same initial weights, in one process:

* **loop**: :func:`genmodels.training.loop.train_worker` with a
  :class:`~genmodels.training.local.LocalContext` (what ``train_local`` runs) at the default
  checkpoint cadence ``ScalingConfig().checkpoint_seconds``, the final checkpoint included;
* **bare**: the same model, the optimizers of ``build_optimizers`` (and their schedules),
  the same batches (each epoch's permutation and generator from ``epoch_seed``), then per
  loss ``zero_grad`` / ``backward`` / ``step`` and nothing else.

The machine is shared with heavy jobs, so both are timed in CPU seconds of this process
(``time.process_time``, one thread) and they alternate epoch by epoch: after each epoch of
the loop (from inside the context's ``save``, after its checkpoint if one was due) the bare
loop runs its next epoch, with the global RNG swapped so that each sees its own stream, and
with the cadence's clock not counting the bare epochs (the loop checkpoints as often as it
would alone). The first (warm-up) epoch of each is excluded. One such run is repeated
``--repeat`` times; the best per-epoch time of each side is kept and
``trainer_overhead`` = bare seconds / loop seconds (the loop's epoch throughput relative to
the bare loop; target >= 0.97). The two must end with the same weights (checked, bit for
bit), so they did the same work.

``select`` is set to ``last``: validation (``best_val``) is model selection the bare loop
does not do, not overhead of the loop; so is ``finish_training`` (the VAE's refitted prior),
which the benchmark leaves out of the loop. ``--epochs`` (default 20) shortens the runs (the
learning-rate schedule follows the shortened ``fit.epochs`` in both); the final checkpoint
then weighs more per epoch than in a full-length run. The remaining gap is itemised by
timing the loop's per-epoch divergence check (the snapshot of weights, optimizer state and
RNG copied into the kept buffers, and the sums of the state read at the epoch's end) and one
checkpoint write on the model, and by a diagnostic variant of the loop run the same way
(``--diagnose step_check``): every epoch run with the per-step check (``finite_or_raise``: one
``torch._foreach_norm`` pass over the gradients and one read per optimizer step), what the
loop does only when it replays a non-finite epoch. Rows go to
``benchmarks/results.csv`` (``--no-write``: printed only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from results import row, write_rows

from genmodels.config import load_params
from genmodels.data import load_dataset
from genmodels.models.core.registry import build_model
from genmodels.training import checkpoint as ckpt
from genmodels.training import loop as loop_module
from genmodels.training.cadence import Cadence
from genmodels.training.config import ScalingConfig
from genmodels.training.local import LocalContext
from genmodels.training.divergence import Snapshot, state_sums
from genmodels.training.loop import TrainJob, _State, build_optimizers, epoch_seed, train_worker

ROOT = Path(__file__).resolve().parents[1]
CADENCE = ScalingConfig().checkpoint_seconds
TARGET = 0.97


class Bare:
    """The bare loop, one epoch per call, on its own global RNG stream."""

    def __init__(self, job: TrainJob, x: np.ndarray, y: np.ndarray | None) -> None:
        self.job = job
        torch.manual_seed(job.seed)  # as the loop does before building its model
        self.model = build_model(job.family, job.model_config, job.info)
        self.optimizers, self.schedulers = build_optimizers(self.model, job.fit)
        self.rng = torch.get_rng_state()
        self.xt = torch.from_numpy(np.array(x, dtype=np.float32))
        self.yt = None if y is None else torch.from_numpy(np.array(y, dtype=np.int64))
        self.epoch = 0

    def run_epoch(self) -> float:
        """One epoch; returns its CPU seconds."""
        outer = torch.get_rng_state()
        torch.set_rng_state(self.rng)
        t0 = time.process_time()
        model, bs, seed = self.model, self.job.fit.batch_size, self.job.seed
        model.train()
        order = torch.from_numpy(np.random.default_rng(epoch_seed(seed, self.epoch)).permutation(len(self.xt)))
        gen = torch.Generator().manual_seed(epoch_seed(seed, self.epoch, 0))
        for b in range(max(1, len(self.xt) // bs)):
            idx = order[b * bs : (b + 1) * bs]
            xb = self.xt[idx]
            yb = None if self.yt is None else self.yt[idx]
            for group, loss in model.training_losses(xb, yb, gen):
                opt = self.optimizers[group]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        for s in self.schedulers.values():
            s.step()
        seconds = time.process_time() - t0
        self.epoch += 1
        self.rng = torch.get_rng_state()
        torch.set_rng_state(outer)
        return seconds


class PairedContext(LocalContext):
    """The in-process context; after each of the loop's epochs (checkpoint included) it runs one bare epoch."""

    def __init__(self, run_dir: Path, bare: Bare) -> None:
        self.lines: list[str] = []
        super().__init__(run_dir, torch.device("cpu"), log=self.lines.append, checkpoint_seconds=CADENCE)
        self.bare, self.bare_wall = bare, 0.0
        self.cadence = Cadence(CADENCE, clock=lambda: time.monotonic() - self.bare_wall)  # the loop's own time only
        self.loop_s: list[float] = []
        self.bare_s: list[float] = []
        self.checkpoints_written = 0
        self.last = time.process_time()

    def save(self, metrics, write, final) -> None:
        def counted(path: Path) -> None:
            self.checkpoints_written += 1
            write(path)

        super().save(metrics, counted, final)
        self.loop_s.append(time.process_time() - self.last)
        w0 = time.monotonic()
        self.bare_s.append(self.bare.run_epoch())
        self.bare_wall += time.monotonic() - w0
        self.last = time.process_time()


def paired_run(job: TrainJob, x: np.ndarray, y: np.ndarray | None, work: Path) -> PairedContext:
    bare = Bare(job, x, y)
    ctx = PairedContext(Path(tempfile.mkdtemp(prefix="loop-", dir=work)), bare)
    ctx.last = time.process_time()
    train_worker(job, x, y, ctx)
    return ctx


def final_weights(ctx: PairedContext) -> dict[str, torch.Tensor]:
    return torch.load(ctx.checkpoints()[-1] / ckpt.MODEL_FILE, map_location="cpu", weights_only=True)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def itemise(job: TrainJob, x: np.ndarray, y: np.ndarray | None, work: Path, reps: int = 50) -> dict[str, float]:
    """CPU seconds of the per-epoch divergence check (snapshot and state sums) and of one checkpoint write."""
    torch.manual_seed(job.seed)
    model = build_model(job.family, job.model_config, job.info)
    optimizers, schedulers = build_optimizers(model, job.fit)
    xt = torch.from_numpy(np.array(x[: job.fit.batch_size], dtype=np.float32))
    yt = None if y is None else torch.from_numpy(np.array(y[: job.fit.batch_size], dtype=np.int64))
    gen = torch.Generator().manual_seed(0)
    model.train()
    for group, loss in model.training_losses(xt, yt, gen):
        optimizers[group].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[group].step()  # optimizer state exists, as in a real checkpoint and from the second epoch on
    state = _State(model, optimizers, schedulers, history=[{"epoch": 0.0}], start_epoch=0)
    snap = Snapshot()
    snap.take(model, optimizers)  # allocates the buffers once, as the first epoch does
    t0 = time.process_time()
    for _ in range(reps):
        snap.take(model, optimizers)
        torch.stack(state_sums(model, optimizers)).to(torch.float64).sum().item()
    check = (time.process_time() - t0) / reps
    write = state.writer(job, 0, torch.device("cpu"))
    times = []
    for i in range(5):
        folder = Path(tempfile.mkdtemp(prefix=f"ckpt{i}-", dir=work))
        t0 = time.process_time()
        write(folder)
        times.append(time.process_time() - t0)
    return {"check_per_epoch": check, "checkpoint": min(times)}


def step_check(run_epoch):
    """Diagnostic: every epoch with the per-step check (what the loop runs only to replay a non-finite epoch)."""

    def checked(job, state, epoch, xt, yt, ctx, checked):
        return run_epoch(job, state, epoch, xt, yt, ctx, checked=True)

    return checked


VARIANTS = {"loop": None, "step_check": step_check}


def measure(job: TrainJob, x: np.ndarray, y: np.ndarray | None, work: Path, check) -> tuple[float, float, float, bool, int]:
    """One paired run (with the loop's epoch wrapped by ``check`` unless None): loop and
    bare CPU seconds per epoch, the median of the per-epoch ratios, same weights, checkpoints written."""
    original, finish = loop_module._run_epoch, loop_module._finish
    if check is not None:
        loop_module._run_epoch = check(original)
    loop_module._finish = lambda *args: {}  # model work after training (the VAE's refitted prior), not the loop's
    try:
        ctx = paired_run(job, x, y, work)
    finally:
        loop_module._run_epoch, loop_module._finish = original, finish
    loop_s, bare_s = np.array(ctx.loop_s[1:]), np.array(ctx.bare_s[1:])
    equal = same_weights(final_weights(ctx), ctx.bare.model.state_dict())
    return float(loop_s.mean()), float(bare_s.mean()), float(np.median(bare_s / loop_s)), equal, ctx.checkpoints_written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--families", default="vae,flow,gan,rbm", help="model names of the params file (their family's default config)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per run (0: each model's own fit.epochs)")
    ap.add_argument("--repeat", type=int, default=3, help="paired runs per variant; the best of each side is kept")
    ap.add_argument("--diagnose", default="step_check", help="diagnostic variants run beside the loop (empty: none)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/results.csv alone")
    args = ap.parse_args()
    torch.set_num_threads(1)
    p = load_params(args.params)
    data = load_dataset(p.data, p.seed)
    x, y = data.train.x, data.train.y
    work = Path(tempfile.mkdtemp(prefix="genmodels-bench-trainer-"))
    variants = ["loop", *[v for v in args.diagnose.split(",") if v]]
    print(
        f"{data.info.name}: {len(x)} training images; checkpoint cadence {CADENCE:g} s; torch threads {torch.get_num_threads()}; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows = []
    for name in args.families.split(","):
        spec = p.spec(name)
        epochs = args.epochs or spec.fit.epochs
        if epochs < 2:
            raise SystemExit("--epochs: at least 2 (the first is excluded)")
        fit = spec.fit.model_copy(update={"epochs": epochs, "select": "last", "patience": None})
        job = TrainJob(name=name, family=spec.family, model_config=spec.config, fit=fit, info=data.info, seed=p.seed)
        t_start = time.perf_counter()
        runs: dict[str, list[tuple[float, float, float, bool, int]]] = {v: [] for v in variants}
        for r in range(args.repeat):
            for v in variants if r % 2 == 0 else variants[::-1]:  # alternate the order of the variants too
                runs[v].append(measure(job, x, y, work, VARIANTS[v]))
                loop_s, bare_s, median, equal, ckpts = runs[v][-1]
                print(
                    f"  {name} {v} run {r + 1}: loop {loop_s * 1e3:.1f} ms/epoch, bare {bare_s * 1e3:.1f} ms/epoch, ratio {bare_s / loop_s:.4f} "
                    f"(median of the per-epoch ratios {median:.4f}); same weights {equal}; {ckpts} checkpoint(s)",
                    flush=True,
                )
        result = {}
        for v, rs in runs.items():
            loop_best, bare_best = min(r[0] for r in rs), min(r[1] for r in rs)
            result[v] = (bare_best / loop_best, float(np.median([r[2] for r in rs])), all(r[3] for r in rs), loop_best, bare_best)
        ratio, median, equal, loop_best, bare_best = result["loop"]
        ckpts = runs["loop"][-1][4]
        parts = itemise(job, x, y, work)
        check_share = parts["check_per_epoch"] / bare_best
        ckpt_share = parts["checkpoint"] * ckpts / ((epochs - 1) * bare_best)  # the checkpoints of a run (the final one included), per timed epoch
        print(
            f"{name}: loop {loop_best * 1e3:.1f} ms/epoch, bare {bare_best * 1e3:.1f} ms/epoch (best of {args.repeat} paired runs, {epochs} epochs, "
            f"first excluded) -> throughput ratio {ratio:.4f} (target >= {TARGET}; median per-epoch ratio {median:.4f}); same final weights: {equal}; "
            f"{ckpts} checkpoint(s) per run, {parts['checkpoint'] * 1e3:.1f} ms each ({100 * ckpt_share:.2f} % of the timed epochs); "
            f"divergence check (snapshot and state sums) {parts['check_per_epoch'] * 1e3:.2f} ms per epoch = {100 * check_share:.2f} % of an epoch",
            flush=True,
        )
        for v in variants[1:]:
            print(f"  {name} {v}: ratio {result[v][0]:.4f} (median per-epoch ratio {result[v][1]:.4f}); same weights {result[v][2]}", flush=True)
        print(f"  {name}: {time.perf_counter() - t_start:.0f} s wall", flush=True)
        if not all(result[v][2] for v in variants):
            print(f"WARNING: {name}: the loop and the bare loop ended with different weights", flush=True)
        label = f"{name} ({spec.family} on {data.info.name}, {epochs} epochs, checkpoint_seconds {CADENCE:g})"
        rows += [
            row("trainer_overhead", label, ratio, "x bare throughput", f">= {TARGET}", ratio >= TARGET and equal),
            row("trainer_overhead", f"{name} median per-epoch ratio", median, "x bare throughput"),
            row("trainer_overhead", f"{name} bare_epoch_cpu_seconds", bare_best, "s"),
            row("trainer_overhead", f"{name} checkpoint_share", 100 * ckpt_share, "% of epoch"),
            row("trainer_overhead", f"{name} divergence_check_share", 100 * check_share, "% of epoch"),
            *(row("trainer_overhead", f"{name} diagnostic: {v}", result[v][0], "x bare throughput") for v in variants[1:]),
        ]
    shutil.rmtree(work, ignore_errors=True)
    if not args.no_write:
        write_rows(rows)


if __name__ == "__main__":
    main()
