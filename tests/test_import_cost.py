"""What a stage pays at start-up is mostly imports: each check runs a fresh interpreter and asserts
which heavy packages a light path leaves unloaded (which modules load, not how long they take).
Validating params is pydantic only: each family's config class lives in its package's
``config`` module, and the model module (torch) is imported on the family's first lookup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
HEAVY = ("torch", "mlflow", "ray", "sklearn", "matplotlib", "scipy", "pandas")


def loaded(code: str) -> list[str]:
    """The packages of :data:`HEAVY` in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_config_loading_and_the_check_stage_import_no_heavy_package() -> None:
    """``genmodels check`` (and every command's start: the CLI, params) is YAML and pydantic only."""
    assert loaded("import genmodels.config, genmodels.metrics.config, pipelines.check, pipelines.cli") == []


def test_the_check_stage_validates_every_model_section_without_torch(tmp_path: Path) -> None:
    """``genmodels check`` end to end on the repository's params.yaml (every built-in family)."""
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    code = f"""
import os
os.environ["GENMODELS_ROOT"] = {str(tmp_path)!r}
from pipelines.cli import app
app(["check"], standalone_mode=False)
from genmodels.models import MODEL_CONFIGS
assert MODEL_CONFIGS.names() == sorted({{"vae", "gan", "rbm", "flow", "bayesnet", "gmm", "kde", "independent"}})
"""
    assert loaded(code) == []
    assert (tmp_path / "build" / "params_resolved.json").is_file()


def test_prepare_on_digits_imports_neither_sklearn_nor_pandas(tmp_path: Path) -> None:
    """The prepare stage's work: digits are read from scikit-learn's file without importing it,
    and samples files are written and read back (every later stage's start) without pyarrow's
    pandas import (``pyarrow.dataset`` imports pandas)."""
    code = f"""
import pipelines.prepare
from genmodels.data import load_dataset, read_samples, write_samples
from genmodels.data.config import DataConfig
data = load_dataset(DataConfig(name="digits"), seed=0)
write_samples({str(tmp_path / "train.parquet")!r}, data.train)
back = read_samples({str(tmp_path / "train.parquet")!r})
assert (back.x == data.train.x).all() and (back.y == data.train.y).all()
"""
    assert loaded(code) == []


def test_stage_modules_leave_mlflow_sklearn_matplotlib_and_ray_to_the_functions_that_use_them() -> None:
    stages = ", ".join(f"pipelines.{s}" for s in ("evaluator", "train", "sample", "evaluate", "reference", "report"))
    assert set(loaded(f"import pipelines.cli, {stages}")).isdisjoint({"mlflow", "sklearn", "matplotlib", "ray", "pandas"})


def test_the_metrics_package_exports_its_functions_lazily() -> None:
    """``genmodels.metrics`` loads torch only when a metric function is first asked for; the
    re-exported names stay the functions (``inception_score`` is also a module's name)."""
    code = """
import genmodels.metrics
assert "torch" not in __import__("sys").modules
import genmodels.metrics.inception_score
from genmodels.metrics import inception_score, fid_from_features, SubsetKernelSums
from genmodels.metrics.fid import fid_from_features as fid
assert callable(inception_score) and inception_score.__module__ == "genmodels.metrics.inception_score"
assert fid_from_features is fid and isinstance(SubsetKernelSums, type)
assert genmodels.metrics.fid.frechet_distance is genmodels.metrics.frechet_distance
assert set(genmodels.metrics.__all__) <= set(dir(genmodels.metrics))
"""
    assert "torch" in loaded(code)


def test_the_compare_command_runs_without_any_heavy_package(tmp_path: Path) -> None:
    """``genmodels compare`` end to end (the CLI, the stage, the library's comparison) is JSON and git only."""
    (tmp_path / "gan.json").write_text(json.dumps({"fid": 1.0, "fid_ci_low": 0.5, "fid_ci_high": 1.5}))
    code = f"""
from pipelines.cli import app
assert app(["compare", "--run", {str(tmp_path)!r}, "--baseline", {str(tmp_path)!r}, "--json"], standalone_mode=False) == 0
"""
    assert loaded(code) == []


def test_a_model_lookup_imports_that_familys_model_module_only() -> None:
    """A family package imports its config only; ``model_class`` imports the one family's model module,
    ``MODELS.names()`` every family's, in the configs' order."""
    code = """
import sys
from genmodels.models import MODEL_CONFIGS, MODELS, model_class, model_config
from genmodels.models.gmm import GMMConfig
assert model_config("gmm") is GMMConfig and "genmodels.models.gmm.model" not in sys.modules
gmm = model_class("gmm")
assert gmm.config_cls is GMMConfig and gmm.family == "gmm"
assert not {"genmodels.models.flow.model", "genmodels.models.gan.model", "genmodels.models.kde.model"} & set(sys.modules)
assert MODELS.ordered() == MODEL_CONFIGS.ordered() and "genmodels.models.flow.model" in sys.modules
"""
    assert "torch" in loaded(code)
