"""Property tests of the params loader: whatever params.yaml holds, ``load_params`` returns
validated :class:`Params` or raises :class:`ConfigError` (one line naming the key), never
another exception; and every in-range value of the keys tried here loads as written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from genmodels.config import Params, load_params
from genmodels.errors import ConfigError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
VALID: dict[str, Any] = {
    "seed": 0,
    "data": {"name": "digits", "limit": 100, "test_fraction": 0.2},
    "models": {"vae": "vae", "g": "gmm"},
    "vae": {"model": {"latent_dim": 4}, "fit": {"epochs": 2, "lr": 0.001}},
    "g": {"model": {"n_components": 3}},
    "sample": {"n": 100},
    "evaluate": {"kid_subsets": 10},
}
KEYS = ["seed", "seeds", "models", "data", "evaluator", "scaling", "sample", "evaluate", "tune", "experiment", "vae", "g", "name",
        "limit", "model", "fit", "epochs", "lr", "n", "test_fraction", "latent_dim", "n_components", "extractor", "backend"]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["digits", "vae", "gmm", "auto", "local", "1e-3", "2001-13-45", "nan", ".inf", "yes"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=8), st.integers(-3, 3))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def load_text(tmp_path: Path, text: str | bytes) -> Params:
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_params(path)


def outcome(tmp_path: Path, text: str | bytes) -> Params | ConfigError:
    """The loaded params or the ConfigError; any other exception fails the test."""
    try:
        params = load_text(tmp_path, text)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc), repr(str(exc))
        event("ConfigError: " + str(exc).split(":")[-1].strip()[:30])
        return exc
    event("loaded")
    return params


def set_path(doc: dict[str, Any], path: list[Any], value: Any) -> None:
    """Set ``doc[path[0]][path[1]]... = value``, creating mappings (or replacing non-mappings) on the way."""
    node = doc
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


@FUZZ
@given(doc=st.dictionaries(keys, values, max_size=6))
def test_random_documents_load_or_raise_config_error(tmp_path: Path, doc: dict[Any, Any]) -> None:
    outcome(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(path=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), value=values)
def test_one_key_of_a_valid_file_changed(tmp_path: Path, path: list[str], value: Any) -> None:
    """Any key (known or not, at any depth) set to anything: Params, or a ConfigError naming a key."""
    doc = copy.deepcopy(VALID)
    set_path(doc, path, value)
    result = outcome(tmp_path, yaml.safe_dump(doc, allow_unicode=True))
    if isinstance(result, ConfigError):
        assert ":" in str(result)  # "<dotted key>: <problem>"


@FUZZ
@given(text=st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_arbitrary_text_loads_or_raises_config_error(tmp_path: Path, text: str | bytes) -> None:
    outcome(tmp_path, text)


@FUZZ
@given(line=st.sampled_from(["seed: 2001-13-45", "seed: &a [*a]", "data: {name: [1, {2: 3}]}", "? [1, 2]\n: 3", "seed: !!binary AAA",
                             "models: {1: gmm}\n1: {model: {}}", "seed: 1\nseed: 2", "\t- x", "%YAML 9.9\n---\na: 1"]),
       extra=st.text(max_size=10))  # fmt: skip
def test_yaml_oddities(tmp_path: Path, line: str, extra: str) -> None:
    """Bad dates, self-referencing aliases, non-string keys, tags, tabs, directives."""
    outcome(tmp_path, line + "\n" + extra)


@FUZZ
@given(
    seed=st.integers(0, 2**31),
    test_fraction=st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
    limit=st.none() | st.integers(2, 10**6),
    n=st.integers(10, 10**6),
    n_components=st.integers(1, 64),
    epochs=st.integers(1, 1000),
    lr=st.floats(1e-8, 10.0),
)
def test_in_range_values_load_as_written(tmp_path: Path, seed: int, test_fraction: float, limit: int | None, n: int,
                                         n_components: int, epochs: int, lr: float) -> None:  # fmt: skip
    doc = copy.deepcopy(VALID)
    doc |= {"seed": seed, "sample": {"n": n}}
    doc["data"] |= {"test_fraction": test_fraction, "limit": limit}
    doc["g"]["model"]["n_components"] = n_components
    doc["vae"]["fit"] |= {"epochs": epochs, "lr": lr}
    p = load_text(tmp_path, yaml.safe_dump(doc))
    assert (p.seed, p.seeds, p.sample.n, p.data.test_fraction, p.data.limit) == (seed, [seed], n, test_fraction, limit)
    assert p.spec("g").config.n_components == n_components
    assert (p.spec("vae").fit.epochs, p.spec("vae").fit.lr) == (epochs, lr)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("seed: 2001-13-45\n", "line 1: invalid YAML"),
        ("data: {limit: 2001-02-03}\n", "data.limit"),
        ("models: {1: gmm}\n", "models.1"),
        ('"\\n": null\n', "'\\n': unknown top-level key"),  # keys with control characters are quoted: still one line
        ('data: {"a\\tb": 1}\n', "data.'a\\tb': unknown key"),
    ],
)
def test_examples_found_by_fuzzing(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_text(tmp_path, text)
    assert key in str(excinfo.value)
