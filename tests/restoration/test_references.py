import pytest
import torch

from genmodels.restoration.base import Undefined
from genmodels.restoration.references import REFERENCES, choose_parameters, run_reference
from genmodels.restoration.scores import psnr_per_image
from genmodels.restoration.tasks import get_task


def _images(n: int, seed: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g) * 4 + 2
    blob = torch.exp(-((yy - centre[:, 0, None, None]) ** 2 + (xx - centre[:, 1, None, None]) ** 2) / 6)
    return (torch.round(blob * 16) / 16)[:, None]


@pytest.mark.parametrize(("name", "task"), [("ref-tv", "denoise-0.2"), ("ref-nlm", "denoise-0.2"), ("ref-biharmonic", "inpaint-square"), ("ref-bicubic", "superres-2")])
def test_references_improve_on_their_task(name: str, task: str) -> None:
    clean, train = _images(12, 0), _images(30, 1)
    params = choose_parameters(name, get_task(task), _images(8, 2), train, seed=0)
    obs = get_task(task).corrupt(clean, 0)
    out = run_reference(name, obs, train, params)
    assert out.mean.shape == clean.shape and out.mean.min() >= 0 and out.mean.max() <= 1
    baseline = torch.nn.functional.interpolate(obs.y, scale_factor=2) if obs.kind == "pool" else obs.y
    assert psnr_per_image(clean, out.mean).mean() > psnr_per_image(clean, baseline).mean()


def test_nearest_train_copies_the_closest_training_image() -> None:
    train = _images(30, 1)
    obs = get_task("inpaint-half").corrupt(train[[4, 7]], 0)
    out = run_reference("ref-nearest-train", obs, train)
    assert torch.equal(out.mean, train[[4, 7]]) and out.completions.shape == (2, 4, 1, 8, 8)


def test_a_reference_outside_its_task_is_undefined() -> None:
    obs = get_task("inpaint-half").corrupt(_images(2, 0), 0)
    with pytest.raises(Undefined, match="denoising|noise"):
        run_reference("ref-tv", obs, _images(3, 1), {"weight": 0.1})
    assert REFERENCES.names() == ["ref-bicubic", "ref-biharmonic", "ref-nearest-train", "ref-nlm", "ref-tv"]
