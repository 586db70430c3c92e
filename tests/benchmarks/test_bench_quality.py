"""bench_quality's target rows: which comparison each dataset's quality target makes, met or not."""

from __future__ import annotations

import pytest

from tests.benchmarks.loader import bench_module


@pytest.fixture(scope="module")
def bench():
    with bench_module("bench_quality") as module:
        yield module


def board(**fids: tuple[float, float, float, float | None]) -> list[dict[str, str]]:
    """Rows ``family -> (fid, ci_low, ci_high, nll)`` as the leaderboard CSV writes them."""
    rows = []
    for fam, (fid, low, high, nll) in fids.items():
        rows.append({"model": fam, "family": fam, "fid": str(fid), "fid_ci_low": str(low), "fid_ci_high": str(high),
                     "nll_bits_per_dim": "" if nll is None else str(nll), "fid_seed_mean": ""})
    return rows


def test_digits_compares_points_and_the_rbm_with_the_bayesian_network(bench) -> None:
    b = board(vae=(0.5, 0.3, 0.9, 1.9), gan=(0.3, 0.1, 0.6, None), rbm=(5.0, 4, 6, 2.0), flow=(0.7, 0.5, 1.0, 1.8),
              gmm=(0.6, 0.4, 1.0, 2.2), kde=(1.2, 0.9, 1.5, 2.2), bayesnet=(6.0, 5, 7, 2.19), independent=(13, 11, 15, 2.43))
    rows = {r[1]: r for r in bench.target_rows("quality_digits", b)}
    met = {k: r[5] for k, r in rows.items()}
    assert met["vae fid minus the better of gmm and kde"] == "True"
    assert met["flow fid minus the better of gmm and kde"] == "False"
    assert met["rbm fid minus the better of gmm and kde"] == "False"
    assert met["rbm fid minus bayesnet fid"] == "True"
    assert met["flow test nll minus the better of independent and bayesnet"] == "True"
    assert float(rows["flow fid minus the better of gmm and kde"][2]) == pytest.approx(0.1)


def test_mnist5k_asks_for_intervals_wholly_below_the_baselines(bench) -> None:
    b = board(vae=(10.0, 8.0, 16.5, 1.5), gan=(9.0, 7.0, 12.0, None), rbm=(15.0, 13, 17, 2.0), flow=(12, 10, 14, 1.6),
              gmm=(16.0, 15.0, 17.0, 2.8), kde=(58, 55, 60, 2.9), bayesnet=(30, 28, 32, 1.53), independent=(65, 60, 70, 1.77))
    met = {r[1]: r[5] for r in bench.target_rows("quality_mnist5k", b)}
    assert met["vae fid interval's upper end minus the lowest baseline (gmm, kde) interval's lower end"] == "False"
    assert met["gan fid interval's upper end minus the lowest baseline (gmm, kde) interval's lower end"] == "True"
    assert met["rbm fid minus gmm fid"] == "True"
    assert met["vae test nll minus the better of independent and bayesnet"] == "True"
    assert met["flow test nll minus the better of independent and bayesnet"] == "False"


def test_board_rows_read_a_finished_runs_leaderboard(bench, tmp_path) -> None:
    """``--board-of DIR``: FID rows with their intervals, NLL rows with their kinds, then the targets."""
    import csv

    rows = board(vae=(10.0, 8.0, 12.0, 1.5), gmm=(16.0, 15.0, 17.0, 2.8), independent=(65, 60, 70, 1.77))
    for r in rows:
        r["nll_kind"] = "exact"
    (tmp_path / "reports").mkdir()
    with open(tmp_path / "reports/leaderboard.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = {r[1]: r for r in bench.board_rows("quality_mnist5k", tmp_path)}
    assert out["vae fid"][2:4] == ["10", "95 % interval [8, 12]"]
    assert out["independent nll (exact)"][2] == "1.77"
    assert out["vae fid interval's upper end minus the lowest baseline (gmm, kde) interval's lower end"][5] == "True"
    assert out["vae test nll minus the better of independent and bayesnet"][5] == "True"
