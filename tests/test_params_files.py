"""The presets' params files (presets/<name>/params.yaml, docs/presets.md) pass the check stage as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from genmodels.config import load_params
from genmodels.data.base import DatasetInfo
from genmodels.models import build_model

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "presets").glob("*/params.yaml"))


def test_the_mnist5k_preset_is_shipped() -> None:
    assert ROOT / "presets" / "mnist5k" / "params.yaml" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name)
def test_params_file_passes_the_check_stage(path: Path) -> None:
    from pipelines.check import check_names

    p = load_params(path)  # every key and value, as `genmodels check` reads params.yaml
    check_names(p)
    assert set(p.models.values()) <= {"vae", "gan", "rbm", "flow", "bayesnet", "gmm", "kde", "independent"}


def test_every_mnist5k_model_builds_at_28x28_with_256_levels() -> None:
    p = load_params(ROOT / "presets" / "mnist5k" / "params.yaml")
    assert p.data.name == "mnist5k"
    info = DatasetInfo("mnist5k", "image", (1, 28, 28), 256, 10, (0.0, 1.0))
    for name in p.models:
        spec = p.spec(name)
        model = build_model(spec.family, spec.config.model_dump(), info)  # the config-vs-data checks (e.g. bayesnet's state limit) pass
        assert model is not None
    assert p.spec("vae").config.arch == "conv" and p.spec("gan").config.arch == "conv"
    assert p.spec("flow").config.front_max_levels < 256  # 256 levels: logit pre-processing, no quantized front end
