"""Benchmark: how long the RBM's sampling chains must run, and how tight its likelihood sandwich is.

    .venv/bin/python benchmarks/bench_rbm_chains.py [--params params.yaml] [--evaluator DIR]
        [--work DIR] [--samples 2000] [--sweeps auto,30,100,300,1000] [--raise-betas 1000,3000,10000]

1. Trains the ``rbm`` model of ``params.yaml`` on the prepared split of its dataset (the
   library's ``load_dataset`` and training loop, as the ``prepare`` and ``train`` stages do;
   ``--work`` keeps the checkpoints, so a rerun resumes instead of retraining).
2. Takes the evaluator from ``--evaluator`` (a ``models/evaluator`` folder) or trains it as
   the ``evaluator`` stage does.
3. For each chain length (``auto``: the model's own, chosen by split R-hat), draws
   ``--samples`` samples with the model's sampler settings (tempering, chains, thinning) in
   batches of 500 as the ``sample`` stage does, and prints FID and KID against the
   **validation** split, the sweeps run and the largest split R-hat of the first batch, with
   the training images as a real-vs-real floor.
4. AIS ``log Z`` with the defaults of ``RBMConfig`` over ``--ais-seeds`` seeds (value,
   delta-method stderr, ESS, seconds), then the RAISE/AIS sandwich on the validation images
   for each ``--raise-betas``: both sides and their gap in bits/dim, with the seconds taken.
Runs on one thread (a few minutes on digits).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from results import row, write_rows

from genmodels.config import load_params
from genmodels.data import load_dataset
from genmodels.data.base import PreparedData
from genmodels.metrics import fid_from_features, kid_from_features
from genmodels.metrics.build import build_extractor
from genmodels.metrics.features import FeatureExtractor, extract, load_extractor
from genmodels.models.rbm.model import RBM, RBMConfig
from genmodels.sampling import draw_samples
from genmodels.training.checkpoint import load_model
from genmodels.training.local import train_local
from genmodels.training.loop import TrainJob

ROOT = Path(__file__).resolve().parents[1]
LIKELIHOOD_KEYS = ("ais_chains", "ais_betas", "ais_schedule", "raise_chains", "raise_betas")


def train_rbm(params_file: Path, data: PreparedData, work: Path) -> RBM:
    """The ``rbm`` model of the params file, trained (or resumed) in ``work``."""
    p = load_params(params_file)
    spec = p.spec("rbm")
    job = TrainJob(name="rbm", family=spec.family, model_config=spec.config, fit=spec.fit, info=data.info, seed=p.seed)
    final = train_local(job, data.train.x, data.train.y, work / "rbm")
    return load_model(final).eval()


def evaluator(params_file: Path, data: PreparedData, folder: Path | None) -> FeatureExtractor:
    """The given evaluator, or one trained like the ``evaluator`` stage."""
    if folder is not None:
        return load_extractor(folder)
    p = load_params(params_file)
    return build_extractor(data, p.evaluator, p.seed)[0].eval()


def class_entropy(ext: FeatureExtractor, x: np.ndarray) -> float:
    """Entropy in bits of the evaluator's predicted classes (log2 10 = 3.32: all digits equally often)."""
    pred = extract(ext, x, ("logits",))["logits"].argmax(1)
    share = np.bincount(pred) / len(pred)
    share = share[share > 0]
    return float(-(share * np.log2(share)).sum())


def sample_quality(model: RBM, ext: FeatureExtractor, real: np.ndarray, n: int, sweeps: list[int | str], output: str, seed: int) -> list[dict]:
    """FID/KID against ``real`` features of ``n`` samples (``sample_output``) after each chain length in ``sweeps``."""
    rows = []
    for burn_in in sweeps:
        model.config = model.config.model_copy(update={"burn_in": burn_in, "sample_output": output})
        t0 = time.perf_counter()
        x = draw_samples(model, n, seed, batch_size=500)
        seconds = time.perf_counter() - t0
        mixing = model.last_mixing
        fake = extract(ext, x)["features"]
        kid, _ = kid_from_features(real, fake, seed=seed)
        row = {"output": output, "burn_in": str(burn_in), "sweeps": mixing.burn_in_sweeps, "rhat_max": mixing.rhat_max,
               "fid": fid_from_features(real, fake), "kid": kid, "class_bits": class_entropy(ext, x), "seconds": seconds}  # fmt: skip
        rows.append(row)
        print(f"{output} burn_in {burn_in!s:>5} ({mixing.burn_in_sweeps} sweeps, R-hat {mixing.rhat_max:.3f}): FID {row['fid']:.2f}  KID {kid:.4f}  "
              f"class entropy {row['class_bits']:.2f} bits  ({seconds:.1f}s)", flush=True)  # fmt: skip
    return rows


def ais_runs(model: RBM, seeds: int) -> list[dict]:
    """``log Z`` by AIS with the model's settings, once per seed (the first is cached by the model)."""
    rows = []
    for seed in range(seeds):
        model._log_z_cache = None
        t0 = time.perf_counter()
        est = model.log_z(torch.Generator().manual_seed(seed))
        rows.append({"seed": seed, "log_z": est.log_z, "stderr": est.stderr, "ess": est.ess, "chains": est.chains, "seconds": time.perf_counter() - t0})
    model._log_z_cache = None
    model.log_z(torch.Generator().manual_seed(0))  # the seed-0 value serves the sandwich below
    return rows


def sandwich(model: RBM, x: torch.Tensor, raise_betas: list[int]) -> list[dict]:
    """Mean RAISE (high NLL) and AIS (low NLL) bits/dim of ``x`` and their gap, per RAISE length."""
    scale = -1.0 / (model.dim * math.log(2.0))
    rows = []
    for betas in raise_betas:
        model.config = model.config.model_copy(update={"raise_betas": betas})
        t0 = time.perf_counter()
        lower, upper = model.discrete_log_prob_bounds(x, torch.Generator().manual_seed(3))
        seconds = time.perf_counter() - t0
        high, low = float(lower.mean()) * scale, float(upper.mean()) * scale
        rows.append({"raise_betas": betas, "nll_low": low, "nll_high": high, "gap": high - low, "seconds": seconds})
    return rows


def table(rows: list[dict], fmt: dict[str, str]) -> str:
    """A markdown table of ``rows`` with the columns and number formats of ``fmt``."""
    lines = ["| " + " | ".join(fmt) + " |", "|" + "---|" * len(fmt)]
    lines += ["| " + " | ".join(format(r[k], f) for k, f in fmt.items()) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--evaluator", type=Path, help="a trained models/evaluator folder (default: train one)")
    ap.add_argument("--work", type=Path, help="keep the RBM's checkpoints here (default: a temporary folder)")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--sweeps", default="auto,30,100,300,1000", help="burn-in lengths; auto: the model's R-hat-driven burn-in")
    ap.add_argument("--outputs", default="draw", help="sample_output values to score, e.g. draw,mean")
    ap.add_argument("--ais-seeds", type=int, default=3, help="0: skip the likelihood part")
    ap.add_argument("--raise-betas", default="1000,3000,10000")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    p = load_params(args.params)
    data = load_dataset(p.data, p.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-rbm-"))
    t0 = time.perf_counter()
    model = train_rbm(args.params, data, work)
    print(f"trained {data.info.name} rbm in {time.perf_counter() - t0:.0f}s; val {len(data.val)} images", flush=True)
    ext = evaluator(args.params, data, args.evaluator)
    real = extract(ext, data.val.x)["features"]
    floor = extract(ext, data.train.x)["features"]
    print(f"real-vs-real floor (train vs val): FID {fid_from_features(real, floor):.2f}, class entropy {class_entropy(ext, data.val.x):.2f} bits", flush=True)
    sweeps: list[int | str] = [s if s == "auto" else int(s) for s in args.sweeps.split(",")]
    quality = [r for output in args.outputs.split(",") for r in sample_quality(model, ext, real, args.samples, sweeps, output, args.seed)]
    print("\n" + table(quality, {"output": "s", "burn_in": "s", "sweeps": "d", "rhat_max": ".3f", "fid": ".2f", "kid": ".4f", "class_bits": ".2f", "seconds": ".1f"}))
    floor_fid = fid_from_features(real, floor)
    results = [row("rbm_chain_length", f"fid vs val, burn_in {r['burn_in']} ({r['sweeps']} sweeps, {r['output']}, {args.samples} samples)", r["fid"], "") for r in quality]
    results.append(row("rbm_chain_length", "fid train vs val (real-vs-real floor)", floor_fid, ""))
    if args.ais_seeds < 1:
        write_rows(results)
        return
    defaults = RBMConfig()
    model.config = model.config.model_copy(update={k: getattr(defaults, k) for k in LIKELIHOOD_KEYS})
    print("\nlikelihood settings: " + ", ".join(f"{k}={getattr(defaults, k)}" for k in LIKELIHOOD_KEYS))
    runs = ais_runs(model, args.ais_seeds)
    print(table(runs, {"seed": "d", "log_z": ".3f", "stderr": ".3f", "ess": ".1f", "chains": "d", "seconds": ".1f"}))
    print(f"log Z spread over seeds: {max(r['log_z'] for r in runs) - min(r['log_z'] for r in runs):.3f} nats")
    val = torch.from_numpy(data.val.x)
    rows = sandwich(model, val, [int(b) for b in args.raise_betas.split(",")])
    print(f"\nsandwich on the {len(val)} validation images (bits/dim):")
    print(table(rows, {"raise_betas": "d", "nll_low": ".4f", "nll_high": ".4f", "gap": ".4f", "seconds": ".1f"}))
    results.append(row("rbm_chain_length", "ais log_z spread over seeds", max(r["log_z"] for r in runs) - min(r["log_z"] for r in runs), "nats"))
    results += [row("rbm_chain_length", f"raise/ais sandwich gap, raise_betas {r['raise_betas']}", r["gap"], "bits/dim") for r in rows]
    write_rows(results)


if __name__ == "__main__":
    main()
