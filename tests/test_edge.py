"""Edge controls: smooth, feather, contrast, shift (jewelmask.edge)."""

import numpy as np
import pytest

from jewelmask.edge import adjust_edge


def _disc(shape=(64, 64), radius=20.0, centre=(32.0, 32.0)):
    r, c = np.mgrid[0:shape[0], 0:shape[1]]
    d = np.hypot(r + 0.5 - centre[0], c + 0.5 - centre[1])
    return np.clip(radius - d + 0.5, 0.0, 1.0).astype(np.float32)


def _half_plane(shape=(16, 32), col=16):
    a = np.zeros(shape, np.float32)
    a[:, col:] = 1.0
    return a


def test_defaults_are_a_no_op_and_return_a_new_array():
    a = _disc()
    out = adjust_edge(a)
    assert out.dtype == np.float32 and out.shape == a.shape
    np.testing.assert_array_equal(out, a)
    assert out is not a


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, bool])
def test_accepts_mask_dtypes(dtype):
    a = _disc() >= 0.5
    if dtype is bool:
        m = a
    elif np.dtype(dtype).kind == "u":
        m = (a * np.iinfo(dtype).max).astype(dtype)
    else:
        m = a.astype(dtype)
    out = adjust_edge(m, feather=2.0)
    assert out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_feather_softens_and_keeps_the_edge_centred():
    a = _half_plane()
    out = adjust_edge(a, feather=4.0)
    row = out[8]
    assert row[15] < 0.5 < row[16]
    np.testing.assert_allclose(row[15] + row[16], 1.0, atol=1e-5)  # symmetric ramp
    soft = ((row > 0.02) & (row < 0.98)).sum()
    assert 6 <= soft <= 12  # about 2 * feather px wide
    assert soft > ((adjust_edge(a, feather=1.0)[8] > 0.02) & (adjust_edge(a, feather=1.0)[8] < 0.98)).sum()


def test_contrast_hardens_a_soft_edge():
    soft = adjust_edge(_half_plane(), feather=6.0)
    half = adjust_edge(soft, contrast=50.0)
    full = adjust_edge(soft, contrast=100.0)
    n_soft = lambda x: int(((x > 0.02) & (x < 0.98)).sum())  # noqa: E731
    assert n_soft(half) < n_soft(soft)
    assert n_soft(full) == 0
    np.testing.assert_array_equal(full, (soft >= 0.5).astype(np.float32))


def test_shift_moves_the_edge_by_whole_and_fractional_pixels():
    a = _half_plane()
    np.testing.assert_array_equal(adjust_edge(a, shift=2.0)[8, 12:18], [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(adjust_edge(a, shift=-3.0)[8, 16:21], [0, 0, 0, 1, 1])
    half = adjust_edge(a, shift=0.5)[8]
    np.testing.assert_allclose(half[14:17], [0.0, 0.5, 1.0])
    # area of a disc grows by about the perimeter times the shift
    d = _disc(radius=15.0)
    for shift in (0.5, 1.0, 2.5, 6.0):
        grown = adjust_edge(d, shift=shift).sum() - d.sum()
        expected = np.pi * ((15 + shift) ** 2 - 15 ** 2)
        assert abs(grown - expected) < 0.03 * expected + 2, shift
        shrunk = d.sum() - adjust_edge(d, shift=-shift).sum()
        expected = np.pi * (15 ** 2 - (15 - shift) ** 2)
        assert abs(shrunk - expected) < 0.03 * expected + 2, shift


@pytest.mark.parametrize("shift", [1.0, -0.5, 3.0])
def test_shift_of_a_long_edge(shift):
    """More edge pixels than one OpenCV remap takes (32767): stripes 8 px wide
    every 16 px widen by the shift on both sides (24 MP masks have millions)."""
    a = np.zeros((256, 256), np.float32)
    for c in range(0, 256, 16):
        a[:, c:c + 8] = 1.0
    out = adjust_edge(a, shift=shift)
    np.testing.assert_allclose(out[:, 16:240].mean(), (8 + 2 * shift) / 16, atol=0.01)


def test_shift_keeps_a_soft_profile():
    soft = adjust_edge(_half_plane(), feather=4.0)
    moved = adjust_edge(soft, shift=3.0)
    np.testing.assert_allclose(moved[8, 5:25], soft[8, 8:28], atol=1e-6)


def test_smooth_irons_out_a_notch_and_a_bump_and_keeps_a_straight_edge():
    a = _half_plane((32, 40), col=20)
    a[15, 20] = 0.0  # a one-pixel notch in the edge
    a[24, 19] = 1.0  # and a one-pixel bump
    out = adjust_edge(a, smooth=50)
    assert out[15, 20] > 0.5 and out[24, 19] < 0.5
    np.testing.assert_allclose(out[5, 17:23], [0, 0, 0, 1, 1, 1], atol=1e-3)  # edge stayed put


def test_order_of_controls_is_photoshops():
    a = _half_plane()
    feathered_then_hard = adjust_edge(a, feather=4.0, contrast=100.0)
    np.testing.assert_array_equal(feathered_then_hard, a)  # contrast after feather


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(smooth=-1), "smooth"),
        (dict(smooth=101), "smooth"),
        (dict(smooth=2.5), "smooth"),
        (dict(smooth=True), "smooth"),
        (dict(feather=-0.1), "feather"),
        (dict(feather=251.0), "feather"),
        (dict(feather=float("nan")), "feather"),
        (dict(contrast=-1.0), "contrast"),
        (dict(contrast=100.5), "contrast"),
        (dict(contrast="50"), "contrast"),
        (dict(shift=50.5), "shift"),
        (dict(shift=-51.0), "shift"),
    ],
)
def test_out_of_range_controls_raise_naming_the_control(kwargs, name):
    with pytest.raises(ValueError, match=name):
        adjust_edge(_disc(), **kwargs)


def test_bad_alpha_raises_naming_alpha():
    with pytest.raises(ValueError, match="alpha"):
        adjust_edge(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="alpha"):
        adjust_edge(np.full((4, 4), 2.0, np.float32))
