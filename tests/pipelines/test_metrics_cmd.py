"""``genmodels metrics`` on any two sample files; --features-out lets anyone recompute the numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.data import Samples, write_samples
from genmodels.metrics.extractors.classifier import ClassifierExtractor
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.features import save_extractor
from genmodels.metrics.fid import fid_from_features
from genmodels.metrics.inception_score import inception_score


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "metrics", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_images_with_feature_dump(tmp_path: Path, digits) -> None:
    torch.manual_seed(0)
    save_extractor(ClassifierExtractor([1, 8, 8], 10, width=8, feature_dim=16), tmp_path / "ev")
    write_samples(tmp_path / "real.parquet", Samples(digits.test.x, digits.test.y))
    noisy = np.clip(digits.train.x[:300] + np.random.default_rng(0).normal(0, 0.1, (300, 1, 8, 8)), 0, 1).astype(np.float32)
    write_samples(tmp_path / "fake.parquet", Samples(noisy))
    out = run_cli(tmp_path, "--real", "real.parquet", "--fake", "fake.parquet", "--evaluator", "ev", "--out", "m.json", "--features-out", "feats")
    assert out.returncode == 0, out.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["fid"] > 0 and m["is"] >= 1.0 and 0 <= m["precision"] <= 1 and m["class_coverage"] is not None
    assert m["ppl"] is None and "needs the model" in m["notes"]["ppl"]
    real, fake = np.load(tmp_path / "feats/real_features.npy"), np.load(tmp_path / "feats/fake_features.npy")
    assert real.shape == (len(digits.test.x), 16) and fake.shape == (300, 16)
    assert fid_from_features(real, fake) == pytest.approx(m["fid"], rel=1e-9)
    is_mean, _ = inception_score(torch.from_numpy(np.load(tmp_path / "feats/fake_logits.npy")), splits=10)
    assert is_mean == pytest.approx(m["is"], rel=1e-6)


def test_points_give_mode_diagnostics(tmp_path: Path) -> None:
    means = [[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]]
    save_extractor(Toy2dExtractor(means, 0.05), tmp_path / "ev")
    rng = np.random.default_rng(0)
    pts = lambda k, n: (np.array(means)[rng.integers(0, k, n)] + rng.normal(0, 0.05, (n, 2))).astype(np.float32)  # noqa: E731
    write_samples(tmp_path / "real.parquet", Samples(pts(4, 1000)))
    write_samples(tmp_path / "fake.parquet", Samples(pts(2, 1000)))  # two modes dropped
    out = run_cli(tmp_path, "--real", "real.parquet", "--fake", "fake.parquet", "--evaluator", "ev", "--out", "m.json")
    assert out.returncode == 0, out.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["modes_covered"] == 2 and m["high_quality_fraction"] > 0.95
    assert m["recall"] < 0.7 and m["precision"] > 0.9


def test_shape_mismatch_is_one_line(tmp_path: Path) -> None:
    save_extractor(Toy2dExtractor(None), tmp_path / "ev")
    write_samples(tmp_path / "a.parquet", Samples(np.zeros((10, 2), np.float32)))
    write_samples(tmp_path / "b.parquet", Samples(np.zeros((10, 3), np.float32)))
    out = run_cli(tmp_path, "--real", "a.parquet", "--fake", "b.parquet", "--evaluator", "ev", "--out", "m.json")
    assert out.returncode == 2 and out.stderr.startswith("error: sample shapes differ") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.json").exists()
