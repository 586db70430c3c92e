import numpy as np
import torch

from genmodels.restoration.base import Restoration, Undefined
from genmodels.restoration.names import metric_keys
from genmodels.restoration.pictures import rows_picture
from genmodels.restoration.runner import arrays, picture_rows, restore_subset, run_tasks
from genmodels.restoration.tasks import Observation, Task


def _clean(n: int = 12) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_the_subset_is_seeded_sorted_and_all_when_small() -> None:
    a = restore_subset(100, 10, 3)
    assert np.array_equal(a, restore_subset(100, 10, 3)) and np.all(np.diff(a) > 0) and len(a) == 10
    assert not np.array_equal(a, restore_subset(100, 10, 4))
    assert np.array_equal(restore_subset(5, 10, 0), np.arange(5))


def test_tasks_are_scored_and_undefined_ones_are_null_with_the_reason() -> None:
    clean = _clean()
    seen: list[str] = []

    def restorer(task: Task, obs: Observation) -> Restoration:
        seen.append(task.name)
        if obs.kind == "pool":
            raise Undefined("no pooling here")
        return Restoration(clean, clean[:, None].repeat(1, 2, 1, 1, 1), True, "the truth")

    labels = torch.arange(len(clean)) % 3
    tasks = ["denoise-0.2", "inpaint-half", "superres-2"]
    r = run_tasks(restorer, clean, tasks, 0, labels, classify=lambda x: labels, features=lambda x: x.flatten(1).double())
    assert seen == tasks
    assert r.metrics["denoise_0.2_psnr"] == 100.0 and r.metrics["denoise_0.2_ssim"] > 0.999
    assert r.metrics["inpaint_half_accuracy"] == 1.0 == r.metrics["inpaint_half_accuracy_ci_low"]
    assert abs(r.metrics["inpaint_half_fid"]) < 0.01  # completions equal to the clean images (12 points in 64 dimensions: sqrtm round-off)
    assert all(r.metrics[k] is None and r.notes[k] == "no pooling here" for k in metric_keys("superres-2"))
    assert set(r.metrics) == {k for t in tasks for k in metric_keys(t)}
    assert r.methods["superres_x2"]["undefined"] == "no pooling here" and r.methods["denoise_0.2"] == {"method": "the truth", "exact": True}
    out = arrays(r, np.arange(len(clean)))
    assert out["denoise-0.2/mean"].shape == (12, 1, 8, 8) and out["inpaint-half/completions"].shape == (12, 2, 1, 8, 8)


def test_without_labels_accuracy_is_null_with_the_reason() -> None:
    clean = _clean(6)
    r = run_tasks(lambda t, o: Restoration(clean, None, False, "copy"), clean, ["inpaint-square"], 0)
    assert r.metrics["inpaint_square_accuracy"] is None and "labelled" in r.notes["inpaint_square_accuracy"]
    assert r.metrics["inpaint_square_fid"] is None and "features" in r.notes["inpaint_square_fid"]


def test_the_picture_has_corrupted_restored_and_clean_rows() -> None:
    from genmodels.restoration.tasks import get_task

    clean = _clean(5)
    obs = get_task("superres-4").corrupt(clean, 0)
    rows = picture_rows(obs, Restoration(clean, None, True, ""), clean, 3)
    assert rows.shape == (3, 3, 1, 8, 8)
    assert np.allclose(rows[0, 0, 0, :4, :4], float(obs.y[0, 0, 0, 0]))  # the pooled image, shown at full size
    pic = rows_picture(rows, "title", cell=16, pad=2, label_width=40)
    assert pic.size == (40 + 3 * 18 + 2, 16 + 3 * 18 + 2)


def test_an_undefined_row_has_every_key_null_with_the_reason() -> None:
    from genmodels.restoration.runner import undefined_row

    r = undefined_row(["denoise-0.5", "inpaint-square"], "points")
    assert set(r.metrics) == set(metric_keys("denoise-0.5")) | set(metric_keys("inpaint-square"))
    assert all(v is None for v in r.metrics.values()) and set(r.notes.values()) == {"points"}
    assert r.methods["inpaint_square"]["undefined"] == "points" and not r.restored
