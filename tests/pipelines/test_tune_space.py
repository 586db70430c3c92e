"""Bad search spaces fail before any trial starts: one line naming the key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from genmodels.config import load_params
from genmodels.errors import ConfigError
from genmodels.training.tune_config import SearchDim, check_space, set_dotted
from tests.pipelines.tune_helpers import cli, write_params

GOOD = "    fit.lr: {loguniform: [1.0e-4, 3.0e-3]}\n"
BAD = {
    "unknown distribution": ("    fit.lr: {normal: [0.1, 1.0]}\n", "tune.space.fit.lr: unknown distribution 'normal'"),
    "low > high": ("    fit.lr: {uniform: [0.3, 0.1]}\n", "tune.space.fit.lr: uniform needs low < high"),
    "unknown key": ("    model.latnt_dim: {choice: [2, 4]}\n", "tune.space.model.latnt_dim: vae.model has no key 'latnt_dim'"),
    "bad value": ("    fit.batch_size: {choice: [0, 32]}\n", "tune.space.fit.batch_size: choice may draw 0"),
    "float into an int key": ("    model.latent_dim: {uniform: [2, 8]}\n", "tune.space.model.latent_dim: uniform may draw"),
    "not a model key": ("    seed: {choice: [1, 2]}\n", "tune.space.seed: keys are dotted paths"),
}


def check(tmp_path: Path, tune: str) -> None:
    p = load_params(tmp_path / write_params(tmp_path, "p.yaml", "space", tune))
    spec = p.spec("vae")
    check_space(p.tune, "vae", spec.config, spec.fit)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_space_names_the_key(tmp_path: Path, case: str) -> None:
    space, message = BAD[case]
    with pytest.raises(ConfigError) as err:
        check(tmp_path, f"tune:\n  space:\n{space}")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_unknown_metric_and_wrong_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^tune.metric: 'fdi' is not a per-epoch sample metric"):
        check(tmp_path, f"tune:\n  metric: fdi\n  space:\n{GOOD}")
    with pytest.raises(ConfigError, match=r"^tune.mode: fid is better lower, so mode must be min"):
        check(tmp_path, f"tune:\n  mode: max\n  space:\n{GOOD}")


def test_good_space_passes(tmp_path: Path) -> None:
    check(
        tmp_path,
        f"tune:\n  metric: loss/model\n  space:\n{GOOD}    model.hidden: {{choice: [[32], [64, 32]]}}\n    fit.group_lr.model: {{uniform: [1.0e-4, 1.0e-3]}}\n",
    )


def test_extremes_and_dotted_set() -> None:
    assert SearchDim(randint=(2, 5)).extremes() == [2, 4]
    assert SearchDim(choice=[1, "a"]).extremes() == [1, "a"]
    assert set_dotted({"model": {}, "fit": {"lr": 1.0}}, "fit.group_lr.g", 0.5) == {"model": {}, "fit": {"lr": 1.0, "group_lr": {"g": 0.5}}}


def test_cli_fails_before_any_trial(tmp_path: Path) -> None:
    """No prepared data, no Ray: the space check runs first, exit 2 with one ``error:`` line."""
    write_params(tmp_path, "params.yaml", "space", "tune:\n  space:\n    fit.lr: {loguniform: [0.01, 0.001]}\n")
    out = cli(tmp_path, "tune", "--model", "vae", timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["error: tune.space.fit.lr: loguniform needs low < high, got [0.01, 0.001]"]
    assert not (tmp_path / ".ray_runs").exists()
