import pytest

from genmodels.registry import Registry


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
