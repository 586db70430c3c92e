import pytest
import torch

from genmodels.errors import ConfigError
from genmodels.restoration.tasks import DEFAULT_TASKS, get_task, region_mask


def _batch() -> torch.Tensor:
    return torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", DEFAULT_TASKS)
def test_corruption_is_seeded_and_identical_across_calls(name: str) -> None:
    task = get_task(name)
    a, b = task.corrupt(_batch(), 3), task.corrupt(_batch(), 3)
    assert torch.equal(a.y, b.y)
    assert a.y.min() >= 0 and a.y.max() <= 1


def test_noise_changes_with_the_seed_and_has_the_stated_sigma() -> None:
    x = torch.full((200, 1, 8, 8), 0.5)
    obs = get_task("denoise-0.2").corrupt(x, 0)
    assert not torch.equal(obs.y, get_task("denoise-0.2").corrupt(x, 1).y)
    assert obs.kind == "noise" and obs.sigma == 0.2
    assert abs(float((obs.y - x).std()) - 0.2) < 0.01


def test_regions_miss_a_quarter_and_the_lower_half() -> None:
    square, half = region_mask((1, 8, 8), "square"), region_mask((1, 8, 8), "half")
    assert int((~square).sum()) == 16 and not square[0, 2:6, 2:6].any()
    assert not half[0, 4:].any() and half[0, :4].all()


def test_pooling_averages_blocks_and_keys_follow_the_contract() -> None:
    x = _batch()
    obs = get_task("superres-4").corrupt(x, 0)
    assert obs.y.shape == (5, 1, 2, 2)
    assert torch.allclose(obs.y[:, 0, 0, 0], x[:, 0, :4, :4].mean((1, 2)))
    assert [get_task(n).key for n in DEFAULT_TASKS] == ["denoise_0.2", "denoise_0.5", "inpaint_square", "inpaint_half", "superres_x2", "superres_x4"]


@pytest.mark.parametrize("name", ["blur-1", "denoise", "denoise-0", "denoise--1", "denoise-abc", "inpaint-circle", "superres-1", "superres-2.5"])
def test_bad_task_names_raise_one_line(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_task(name)
    assert "\n" not in str(err.value)


def test_a_factor_that_does_not_divide_the_side_raises() -> None:
    with pytest.raises(ConfigError, match="does not divide"):
        get_task("superres-3").corrupt(_batch(), 0)
