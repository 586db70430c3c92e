import pytest

from genmodels.config import Params
from genmodels.configbase import validate
from genmodels.errors import ConfigError
from genmodels.restoration.config import RestoreConfig
from genmodels.restoration.names import DEFAULT_TASKS, check_task_name, metric_keys, score_names, task_key
from genmodels.restoration.tasks import get_task


@pytest.mark.parametrize("name", DEFAULT_TASKS)
def test_the_torch_free_key_is_the_tasks_key(name: str) -> None:
    assert task_key(name) == get_task(name).key
    assert check_task_name(name) == name


def test_scores_and_keys_of_a_task() -> None:
    assert score_names("denoise-0.5") == ("psnr", "ssim", "accuracy")
    assert score_names("inpaint-half")[-1] == "fid"
    keys = metric_keys("superres-4")
    assert keys[:3] == ["superres_x4_psnr", "superres_x4_psnr_ci_low", "superres_x4_psnr_ci_high"] and len(keys) == 9
    assert "inpaint_square_fid" in metric_keys("inpaint-square") and "inpaint_square_fid_ci_low" not in metric_keys("inpaint-square")


@pytest.mark.parametrize(("tasks", "says"), [
    (["denoise-0"], "restore.tasks: restoration task denoise-0: sigma must be a finite number > 0"),
    (["denoise-x"], "the strength must be a float"),
    (["blur-2"], "unknown kind 'blur'"),
    (["inpaint-corner"], "the region must be square or half"),
    (["superres-1"], "the factor must be an integer >= 2"),
    (["superres"], "expected <kind>-<strength>"),
    (["denoise-0.2", "denoise-0.2"], "each task once"),
])  # fmt: skip
def test_bad_tasks_stop_params_validation_with_one_line(tasks: list[str], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(Params, {"restore": {"tasks": tasks}})
    assert says in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("restore.tasks")


def test_defaults_and_ranges() -> None:
    cfg = Params().restore
    assert cfg == RestoreConfig() and cfg.tasks == list(DEFAULT_TASKS)
    with pytest.raises(ConfigError, match="restore.n_images"):
        validate(Params, {"restore": {"n_images": 0}})
    with pytest.raises(ConfigError, match="restore.importance_sample.*did you mean 'importance_samples'"):
        validate(Params, {"restore": {"importance_sample": 10}})
