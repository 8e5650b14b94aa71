"""Metrics of bench/metrics.py on hand-made arrays whose answers are known."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import metrics as M  # noqa: E402


def _scene(h=64, w=80):
    """A 'ring' with an interior gap, a thin wire and a shadow: GT and labels by construction."""
    gt = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 30, xx - 30)
    gt[(r >= 10) & (r <= 16)] = 1.0
    gt[(r > 9) & (r < 10)] = 0.5  # soft inner edge
    gt[50, 10:70] = 1.0  # a 1 px wire
    thin = np.zeros_like(gt, bool)
    thin[50, 10:70] = True
    gap = r < 8.5
    shadow = np.zeros_like(gt, bool)
    shadow[56:62, 20:60] = True
    reflection = np.zeros_like(gt, bool)
    prong = np.zeros_like(gt, bool)
    prong[29:32, 42:45] = True  # inside the ring's body
    return gt, dict(thin=thin, gap=gap, shadow=shadow, reflection=reflection, prong=prong)


def test_perfect_prediction_scores_zero_error_and_full_recall():
    gt, lab = _scene()
    m = M.all_metrics(gt.copy(), gt, **lab)
    for k in ("sad", "mse", "grad", "conn"):
        assert m[k] == pytest.approx(0.0, abs=1e-9), k
    assert m["iou"] == 1.0
    assert m["thin_recall"] == 1.0
    assert m["prong_recall"] == 1.0
    assert m["gap_fill"] == 0.0
    assert m["bg_fp"] == 0.0
    assert m["shadow_fp"] == 0.0
    assert math.isnan(m["reflection_fp"])  # empty label


def test_all_zero_prediction_misses_everything():
    gt, lab = _scene()
    m = M.all_metrics(np.zeros_like(gt), gt, **lab)
    assert m["thin_recall"] == 0.0
    assert m["prong_recall"] == 0.0
    assert m["iou"] == 0.0
    assert m["sad"] == pytest.approx(gt.sum() / 1000.0)
    assert m["mse"] == pytest.approx(float(np.mean(gt.astype(np.float64) ** 2)))


def test_filled_gap_and_shadow_are_false_positives():
    gt, lab = _scene()
    pred = gt.copy()
    pred[lab["gap"]] = 1.0
    pred[lab["shadow"]] = 1.0
    m = M.all_metrics(pred, gt, **lab)
    assert m["gap_fill"] == 1.0
    assert m["shadow_fp"] == 1.0
    far = M.far_background(gt)
    expect = np.count_nonzero((lab["gap"] | lab["shadow"]) & far) / np.count_nonzero(far)
    assert m["bg_fp"] == pytest.approx(expect)
    assert m["thin_recall"] == 1.0


def test_far_background_excludes_a_two_pixel_band():
    gt = np.zeros((21, 21), np.float32)
    gt[10, 10] = 0.3
    far = M.far_background(gt)
    assert not far[10, 10] and not far[10, 12] and not far[12, 10] and not far[11, 11]
    assert far[10, 13] and far[13, 10] and far[0, 0]


@pytest.mark.parametrize("shift", [1, 3])
def test_shifting_a_mask_raises_every_error(shift):
    gt, lab = _scene()
    pred = np.roll(gt, shift, axis=1)
    m = M.all_metrics(pred, gt, **lab)
    assert m["sad"] > 0 and m["mse"] > 0 and m["grad"] > 0 and m["conn"] > 0
    assert m["iou"] < 1.0
    if shift == 3:
        bigger = M.all_metrics(np.roll(gt, 1, axis=1), gt, **lab)
        assert m["sad"] > bigger["sad"] and m["grad"] >= bigger["grad"] and m["iou"] < bigger["iou"]


def test_sad_and_mse_by_hand():
    gt = np.zeros((10, 10), np.float32)
    pred = np.zeros((10, 10), np.float32)
    pred[:5] = 0.5  # 50 pixels off by 0.5
    assert M.sad(pred, gt) == pytest.approx(25 / 1000)
    assert M.mse(pred, gt) == pytest.approx(50 * 0.25 / 100)


def test_gradient_error_is_zero_for_constant_offsets_away_from_edges():
    gt = np.zeros((40, 40), np.float32)
    pred = np.full((40, 40), 0.2, np.float32)
    assert M.gradient_error(pred, gt) == pytest.approx(0.0, abs=1e-9)
    gt[10:30, 10:30] = 1
    assert M.gradient_error(gt * 0.5, gt) > 0


def test_connectivity_of_a_broken_bridge_by_hand():
    gt = np.zeros((40, 60), np.float32)
    gt[10:30, 5:25] = 1.0
    gt[10:30, 35:55] = 0.6  # a semi-transparent part attached by a bridge
    gt[19:21, 25:35] = 0.6
    assert M.connectivity(gt.copy(), gt) == pytest.approx(0.0, abs=1e-9)
    broken = gt.copy()
    broken[19:21, 25:35] = 0.0
    # the 20 bridge pixels leave the joint source region at t = 0.1, so l = 0;
    # phi(pred) = 1 - 0 = 1, phi(gt) = 1 - 0.6 = 0.4: 20 * 0.6 / 1000
    assert M.connectivity(broken, gt) == pytest.approx(0.012, abs=1e-6)


def test_iou_of_disjoint_and_identical_masks():
    a = np.zeros((8, 8), np.float32)
    b = np.zeros((8, 8), np.float32)
    a[:4] = 1
    b[4:] = 1
    assert M.iou(a, b) == 0.0
    assert M.iou(a, a) == 1.0
    assert M.iou(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0


def test_mean_ignores_nan():
    rows = [{"iou": 1.0, "thin_recall": math.nan}, {"iou": 0.5, "thin_recall": 0.25}]
    m = M.mean_metrics(rows)
    assert m["iou"] == 0.75 and m["thin_recall"] == 0.25


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        M.sad(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="2-D"):
        M.sad(np.zeros((3, 4, 1)), np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="label mask"):
        M.all_metrics(np.zeros((3, 4)), np.zeros((3, 4)), thin=np.zeros((4, 3), bool))


def test_method_outputs_are_normalised_and_tables_render():
    from bench import methods as MM
    from bench import run as R

    shape = (4, 5)
    assert MM.as_alpha(np.full(shape, 255, np.uint8), shape).max() == 1.0
    assert MM.as_alpha(np.full((4, 5, 4), 65535, np.uint16), shape).max() == 1.0
    assert MM.as_alpha(np.full(shape, 1.7), shape).max() == 1.0
    with pytest.raises(ValueError, match="shape"):
        MM.as_alpha(np.zeros((5, 4)), shape)
    with pytest.raises(ValueError, match="unknown method"):
        MM.get("nope")
    mean = {k: 0.5 for k in M.METRICS}
    mean["reflection_fp"] = math.nan
    results = {
        "set": "1600",
        "size": "2 scenes of 1600x1200",
        "date": "2026-01-01T00:00:00+00:00",
        "generator_version": 1,
        "machine": {"cpu": "CPU", "cores": 2, "ram_gib": 24.0, "python": "3.11"},
        "methods": {
            "a": {"available": True, "n": 2, "mean": mean, "sec_per_image": 1.5, "peak_mb_max": 700.0, "load_s": 3.0},
            "b": {"available": False, "reason": "not here"},
        },
    }
    md = R.format_markdown(results)
    assert "| a | 2 | 0.50 | 500.00 |" in md and "unavailable: not here" in md and "24.0 GiB" in md
    txt = R.format_text(results)
    assert txt.splitlines()[0].startswith("method") and "–" in txt


def test_pooled_rates_weigh_every_labelled_pixel_alike():
    class Scene:
        def __init__(self, thin):
            self.thin = thin
            self.prong = np.zeros_like(thin)
            self.gap = np.zeros_like(thin)

    small = np.zeros((10, 10), bool)
    small[0, :2] = True  # 2 thin pixels, both missed
    large = np.zeros((10, 10), bool)
    large[2:8, 2:8] = True  # 36 thin pixels, all found
    counts = [M.label_counts(np.zeros((10, 10)), Scene(small)), M.label_counts(np.ones((10, 10)), Scene(large))]
    assert counts[0]["thin"] == (0, 2) and counts[1]["thin"] == (36, 36)
    pooled = M.pooled_rates(counts)
    assert pooled["thin"] == pytest.approx(36 / 38)
    assert math.isnan(pooled["prong"]) and math.isnan(pooled["gap"])
