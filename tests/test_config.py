"""params.yaml -> typed config: every problem is one line naming the key."""

from __future__ import annotations

import pytest

from genmodels.config import Params, load_params
from genmodels.configbase import validate
from genmodels.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"vae": {"model": {"latentdim": 4}}}, "vae.model.latentdim: unknown key"),
        ({"data": {"test_fraction": 2}}, "data.test_fraction: Input should be less than 1"),
        ({"seed": "x"}, "seed: Input should be a valid integer"),
        ({"vae": {"fit": {"lr": -1}}}, "vae.fit.lr: Input should be greater than 0"),
        ({"models": {"m": "nope"}}, "models.m: unknown model family 'nope' (known: bayesnet"),
        ({"models": ["vae"]}, "models: a mapping of model name to family is needed"),
        ({"typo_section": 3}, "typo_section: unknown top-level key"),
        ({"evalute": {}}, "evalute: unknown top-level key (did you mean 'evaluate'?)"),
        ({"evaluate": {"kid_subset": 3}}, "evaluate.kid_subset: unknown key (did you mean 'kid_subsets'?)"),
        ({"vae": {"fit": {"epoch": 3}}}, "vae.fit.epoch: unknown key (did you mean 'epochs'?)"),
        ({"vae": {"family": "vae"}}, "vae.family: unknown key"),
        ({"evaluate": {"ood": "holdout-class"}}, "evaluate.ood: unknown key"),
        ({"scaling": {"backend": "spark"}}, "scaling.backend: Input should be 'auto', 'ray' or 'local'"),
        ({"vae": {"model": {"arch": "mlp", "beta": 0}}}, "vae.model.beta: Input should be greater than 0"),
        ({"evaluate": {"kid_subsets": 1.5}}, "evaluate.kid_subsets: Input should be a valid integer"),
        ({"seeds": [0, 1, 1]}, "seeds: each seed once, 1 is listed 2 times"),
        ({"seeds": [0, -2]}, "seeds: must be non-negative integers, got -2"),
        ({"seeds": [1, 2]}, "seeds: the first seed trains the main row and must be the root seed 0 (e.g. seeds: [0, 1, 2])"),
        ({"seeds": []}, "seeds: List should have at least 1 item"),
        ({"seeds": [0, 0.5]}, "seeds.1: Input should be a valid integer"),
        ({"seeds": 3}, "seeds: Input should be a valid list"),
        ({"evaluate": {"holdout_class": -1}}, "evaluate.holdout_class: Input should be greater than or equal to 0"),
        ({"evaluate": {"holdout_class": "zero"}}, "evaluate.holdout_class: Input should be a valid integer"),
    ],
)
def test_bad_params_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(Params, raw)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_defaults_and_variants() -> None:
    from genmodels.models.vae.model import VAEConfig

    p = validate(Params, {"models": {"vae": "vae", "vae_conv": "vae"}, "vae_conv": {"model": {"arch": "conv"}}})
    assert p.spec("vae").family == "vae" and p.spec("vae").config == VAEConfig()
    assert p.spec("vae_conv").config == VAEConfig(arch="conv")  # a typed object, not a mapping
    assert p.seed == 0 and p.data.name == "digits"
    with pytest.raises(ConfigError, match="'gan' is not listed"):
        p.spec("gan")


def test_seeds_default_to_the_root_seed_and_holdout_class_to_off() -> None:
    assert validate(Params, {}).seeds == [0]
    assert validate(Params, {"seed": 4}).seeds == [4] and validate(Params, {"seed": 4, "seeds": None}).seeds == [4]
    assert validate(Params, {"seed": 4, "seeds": [4, 0, 9]}).seeds == [4, 0, 9]
    assert validate(Params, {}).evaluate.holdout_class is None
    assert validate(Params, {"evaluate": {"holdout_class": 3}}).evaluate.holdout_class == 3


def test_load_params_file_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_params(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_params(lst)


def test_repository_params_yaml_is_valid() -> None:
    from pathlib import Path

    p = load_params(Path(__file__).parents[1] / "params.yaml")
    assert p.models
