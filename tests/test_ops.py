import numpy as np
import pytest

from jewelmask.ops import MASK_MODES, OPS, Param, combine_masks, run_op


def test_combine_modes():
    old = np.array([[0.0, 0.5, 1.0]], np.float32)
    new = np.array([[1.0, 0.25, 0.5]], np.float32)
    np.testing.assert_allclose(combine_masks(old, new, "replace"), new)
    np.testing.assert_allclose(combine_masks(old, new, "add"), [[1.0, 0.5, 1.0]])
    np.testing.assert_allclose(combine_masks(old, new, "subtract"), [[0.0, 0.25, 0.5]])
    np.testing.assert_allclose(combine_masks(old, new, "intersect"), [[0.0, 0.25, 0.5]])


def test_combine_without_old_mask_starts_opaque():
    new = np.array([[0.2, 0.8]], np.float32)
    np.testing.assert_allclose(combine_masks(None, new, "subtract"), [[0.8, 0.2]], rtol=1e-6)
    np.testing.assert_allclose(combine_masks(None, new, "add"), [[1.0, 1.0]])


def test_combine_selection_limits_the_change():
    old = np.zeros((1, 2), np.float32)
    new = np.ones((1, 2), np.float32)
    sel = np.array([[1.0, 0.0]], np.float32)
    np.testing.assert_allclose(combine_masks(old, new, "replace", selection=sel), [[1.0, 0.0]])


def test_combine_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        combine_masks(None, np.zeros((2, 2)), "multiply")


@pytest.mark.parametrize("mode", MASK_MODES)
def test_combine_output_is_float32_in_range(mode):
    rng = np.random.default_rng(1)
    out = combine_masks(rng.random((5, 5)), rng.random((5, 5)) * 2 - 0.5, mode)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_param_validation():
    p = Param("tolerance", "float", 0.5, minimum=0, maximum=1)
    assert p.check("0.25") == 0.25
    with pytest.raises(ValueError, match="tolerance"):
        p.check(2)
    with pytest.raises(ValueError, match="tolerance"):
        p.check("abc")
    c = Param("metal", "choice", "gold", choices=("gold", "silver"))
    with pytest.raises(ValueError, match="metal"):
        c.check("bronze")


def test_run_op_rejects_unknown_op_and_params():
    img = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="unknown operation"):
        run_op("no-such-op", img)
    with pytest.raises(ValueError, match="no parameter"):
        run_op("ai-remove", img, params={"bogus": 1})


def test_every_op_declares_valid_defaults():
    for op in OPS.values():
        assert op.check_params({}) == op.defaults()
        assert op.default_mode in MASK_MODES


def test_path_to_mask_op_from_gimp_strokes():
    from jewelmask.errors import PathDataError

    img = np.zeros((40, 60, 3), np.float32)
    # a 10 x 20 rectangle as GIMP gives it: (in-handle, anchor, out-handle) per corner
    pts = []
    for x, y in [(10, 10), (30, 10), (30, 20), (10, 20)]:
        pts += [x, y, x, y, x, y]
    res = run_op("path-to-mask", img, paths=[{"format": "gimp", "name": "prong", "strokes": [[pts, True]]}])
    assert res.mask.shape == (40, 60)
    assert res.mask[15, 20] == 1.0 and res.mask[5, 5] == 0.0
    assert abs(res.mask.sum() - 200.0) < 1e-3  # exact area
    cut = run_op("path-to-mask", img, paths=[
        {"format": "svg-d", "name": "stone", "d": "M0 0 H60 V40 H0 Z"},
        {"format": "svg-d", "name": "cut: eye", "d": "M10 10 H20 V20 H10 Z"},
    ])
    assert cut.mask[15, 15] == 0.0 and cut.mask[30, 40] == 1.0
    with pytest.raises(PathDataError, match="path"):
        run_op("path-to-mask", img, paths=[])
