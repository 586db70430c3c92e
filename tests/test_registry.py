"""The registry class, and the one way built-ins are found: every module of a kind's package.

Each kind gets a test that puts a toy module beside its package's modules (a temporary folder
the package also searches, in a fresh interpreter) and finds it through the usual lookups,
with no file of the repository edited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genmodels.registry import Registry, import_modules

ROOT = Path(__file__).parents[1]


def test_registry_names_and_errors() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    assert reg.get("a") == 1 and "a" in reg and reg.names() == ["a"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(KeyError, match="unknown thing 'b'"):
        reg.get("b")
    with pytest.raises(ValueError):
        reg.register(" padded ")


# ------------------------------------------------------------------ import_modules


def test_import_modules_imports_every_public_module_and_subpackage_in_name_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "toy_builtins"
    (pkg / "sub" / "deep").mkdir(parents=True)
    log = "import sys; sys.modules['toy_builtins'].LOG.append(__name__)\n"
    (pkg / "__init__.py").write_text("LOG = []\n")
    for name in ("b_second.py", "a_first.py", "_private.py", "sub/__init__.py", "sub/deep/__init__.py", "sub/inner.py"):
        (pkg / name).write_text(log)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = import_modules("toy_builtins")
        import toy_builtins  # type: ignore[import-not-found]

        assert found == ("toy_builtins.a_first", "toy_builtins.b_second", "toy_builtins.sub")
        assert toy_builtins.LOG == list(found)  # each imported once, in that order; _private and sub's modules not
        assert import_modules("toy_builtins") == found and toy_builtins.LOG == list(found)  # again: nothing runs twice
    finally:
        for name in [m for m in sys.modules if m == "toy_builtins" or m.startswith("toy_builtins.")]:
            del sys.modules[name]


def test_import_modules_of_a_plain_module_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'genmodels.atomic' is a module, not a package"):
        import_modules("genmodels.atomic")


# ------------------------------------------------------------------ one new module per kind, found

#: Run first in the fresh interpreter: ``PACKAGE`` is found as usual, and its modules are also
#: looked for in ``EXTRA`` (the temporary folder holding the toy module).
ALSO_SEARCH = """
import importlib.abc, importlib.machinery, sys

class AlsoSearch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != PACKAGE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        spec.submodule_search_locations.append(EXTRA)
        return spec

sys.meta_path.insert(0, AlsoSearch())
"""


def found_in_fresh_interpreter(tmp_path: Path, package: str, module: str, source: str, check: str) -> dict:
    """Write ``module`` into a folder ``package`` also searches, run ``check`` in a fresh interpreter;
    returns the JSON ``check`` prints last."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / f"{module}.py").write_text(textwrap.dedent(source))
    probe = f"PACKAGE, EXTRA = {package!r}, {str(extra)!r}\n{ALSO_SEARCH}\n{textwrap.dedent(check)}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_new_dataset_module_is_found(tmp_path: Path) -> None:
    source = """
        import numpy as np
        from genmodels.data.base import DatasetInfo, PreparedData
        from genmodels.data.registry import register_dataset
        from genmodels.data.samples import Samples

        @register_dataset("toy-line")
        def load(cfg, seed):
            x = np.linspace(0, 1, 40, dtype=np.float32).reshape(20, 2)
            info = DatasetInfo("toy-line", "points", (2,), None, None, (0.0, 1.0))
            return PreparedData(train=Samples(x[:16]), test=Samples(x[16:]), info=info)
    """
    check = """
        import json
        from genmodels.data import DATASETS, load_dataset
        from genmodels.data.config import DataConfig
        data = load_dataset(DataConfig(name="toy-line", val_fraction=0.25), seed=0)
        print(json.dumps({"names": DATASETS.names(), "sizes": [len(data.train), len(data.val), len(data.test)]}))
    """
    out = found_in_fresh_interpreter(tmp_path, "genmodels.data", "toy_line", source, check)
    assert {"toy-line", "digits", "toy2d"} <= set(out["names"])
    assert out["sizes"] == [12, 4, 4]


def test_a_new_model_family_module_is_found(tmp_path: Path) -> None:
    source = """
        import torch
        from genmodels.configbase import StrictModel
        from genmodels.models.core.base import GenerativeModel
        from genmodels.models.core.registry import register_model

        class ToyConfig(StrictModel):
            scale: float = 1.0

        @register_model("toy-family")
        class Toy(GenerativeModel):
            config_cls = ToyConfig

            def sample(self, n, generator, temperature=1.0):
                return self.config.scale * temperature * torch.randn(n, *self.data_shape, generator=generator)
    """
    check = """
        import json, torch
        from genmodels.data.base import DatasetInfo
        from genmodels.models import MODELS, build_model
        model = build_model("toy-family", {"scale": 2.0}, DatasetInfo("p", "points", (3,), None, None, (-9.0, 9.0)))
        x = model.sample(5, torch.Generator().manual_seed(0))
        print(json.dumps({"names": MODELS.names(), "family": model.family, "shape": list(x.shape)}))
    """
    out = found_in_fresh_interpreter(tmp_path, "genmodels.models", "toy_family", source, check)
    assert {"toy-family", "vae", "independent"} <= set(out["names"])
    assert out["family"] == "toy-family" and out["shape"] == [5, 3]


def test_a_new_feature_extractor_module_is_found(tmp_path: Path) -> None:
    source = """
        from genmodels.metrics.features import FeatureExtractor, register_feature_extractor

        @register_feature_extractor("toy-flat")
        class Flat(FeatureExtractor):
            def forward(self, x):
                return {"features": x.flatten(1) * self.kwargs["scale"]}
    """
    check = f"""
        import json, numpy as np
        from genmodels.metrics.build import resolve_extractor_name
        from genmodels.metrics.features import FEATURE_EXTRACTORS, extract, load_extractor, save_extractor
        folder = {str(tmp_path / "evaluator")!r}
        save_extractor(FEATURE_EXTRACTORS.get("toy-flat")(scale=3.0), __import__("pathlib").Path(folder))
        loaded = load_extractor(folder)  # through the registry, by the saved name
        f = extract(loaded, np.ones((4, 1, 2, 2), dtype=np.float32))["features"]
        print(json.dumps({{"names": FEATURE_EXTRACTORS.names(), "resolved": resolve_extractor_name("toy-flat", "image"), "f": f.tolist()}}))
    """
    out = found_in_fresh_interpreter(tmp_path, "genmodels.metrics.extractors", "toy_flat", source, check)
    assert {"toy-flat", "classifier", "toy2d"} <= set(out["names"])
    assert out["resolved"] == "toy-flat" and out["f"] == [[3.0] * 4] * 4


def test_a_new_metric_module_is_found_and_placed_by_its_order(tmp_path: Path) -> None:
    source = """
        from genmodels.metrics.registry import MetricKey, register_metric

        ORDER = 15  # after the sample-quality metrics (10), before the memorisation audit (20)

        @register_metric("toy_count", [MetricKey("toy_count", "higher", "how many samples")], needs={"samples"})
        def toy_count(inp):
            return {"toy_count": float(len(inp.fake_x))}
    """
    check = """
        import json, numpy as np
        from genmodels.data.base import DatasetInfo
        from genmodels.metrics.config import EvaluateConfig
        from genmodels.metrics.registry import EvalInputs, metric_keys, metric_of_key
        from genmodels.metrics.builtin import sample_quality, memorisation
        x = np.zeros((7, 2), dtype=np.float32)
        inp = EvalInputs(real={"features": x}, fake={"features": x}, fake_x=x, info=DatasetInfo("p", "points", (2,), None, None, (0.0, 1.0)),
                         cfg=EvaluateConfig(), seed=0, extractor=None)
        keys = list(metric_keys())
        print(json.dumps({"keys": keys, "value": metric_of_key("toy_count").compute(inp)["toy_count"],
                          "last_quality": keys.index("coverage_ci_high"), "first_memorisation": keys.index("ct_stat")}))
    """
    out = found_in_fresh_interpreter(tmp_path, "genmodels.metrics.builtin", "toy_count", source, check)
    at = out["keys"].index("toy_count")
    assert out["last_quality"] < at < out["first_memorisation"], out["keys"]
    assert out["value"] == 7.0


def test_a_metric_module_order_that_is_not_a_number_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from genmodels.metrics.registry import MetricKey, metric_keys, register_metric, unregister_metric

    module = types.ModuleType("toy_order")
    module.ORDER = "first"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "toy_order", module)

    def toy(inp: object) -> dict[str, float]:
        return {"toy_order_key": 1.0}

    toy.__module__ = "toy_order"
    register_metric("toy_order", [MetricKey("toy_order_key")])(toy)
    try:
        with pytest.raises(TypeError, match="metric 'toy_order': ORDER of module 'toy_order' must be a number, got 'first'"):
            metric_keys()
        module.ORDER = 5  # type: ignore[attr-defined]  # before every built-in (10 and up)
        assert metric_keys()[0] == "toy_order_key"
    finally:
        unregister_metric("toy_order")
