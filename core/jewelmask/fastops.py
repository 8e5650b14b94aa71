"""Building blocks that make the per-pixel steps cheap on 24 MP photos.

Each helper gives exactly the result of the plain dense operation it
replaces (the tests compare them on small images); only the cost differs.

:func:`tiles`
    Cut an (h, w) array into square tiles with a halo of context, so
    filters run on pieces that stay in the CPU cache and only where needed.
:func:`median_blur_u8`
    ``cv2.medianBlur`` of a uint8 image, by threshold decomposition where
    the image is mostly dark (the shadow map of a sweep), by OpenCV where not.
:func:`components`
    Connected components with the statistics the detail steps need (area,
    extent, which touch an anchor), computed on the foreground pixels only.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

__all__ = ["Tile", "tiles", "tile_any", "tile_max", "tile_boxes", "pmap", "pimap", "median_blur_u8",
           "Components", "components"]

THREADS = max(1, min(2, os.cpu_count() or 1))
"""Threads :func:`pmap` uses: the tile loops are numpy and OpenCV calls,
which release the GIL, so two threads use both cores of a small machine."""

TILE = 256
"""Default tile side: a few float32 planes of a tile stay in the L2/L3 cache."""


@dataclass(frozen=True)
class Tile:
    """One tile of an (h, w) array.

    ``inner`` (a pair of slices) is the part of the array the tile owns;
    ``outer`` is that part grown by the halo, clipped at the array's edges;
    ``crop`` selects ``inner`` out of an array the size of ``outer``;
    ``index`` is the tile's (row, column) in the grid of tiles. At the
    array's edges the halo is missing, so a filter run on ``outer`` sees the
    same border as on the whole array, and inside it sees real neighbours:
    the values in ``crop`` equal the dense result as long as the filters'
    combined radius is at most the halo.
    """

    inner: tuple[slice, slice]
    outer: tuple[slice, slice]
    crop: tuple[slice, slice]
    index: tuple[int, int] = (0, 0)


def tiles(shape, size: int = TILE, halo: int = 0, *, mask=None):
    """The tiles of an array of `shape` (h, w), row by row.

    Parameters
    ----------
    shape : (h, w)
    size : int
        Tile side.
    halo : int
        Context around each tile, in pixels.
    mask : (ceil(h / size), ceil(w / size)) bool array, optional
        Only the tiles where it is True.

    Returns
    -------
    list of Tile
    """
    h, w = int(shape[0]), int(shape[1])
    if size < 1 or halo < 0:
        raise ValueError(f"size must be >= 1 and halo >= 0, got size={size}, halo={halo}")
    out = []
    for i, r in enumerate(range(0, h, size)):
        for j, c in enumerate(range(0, w, size)):
            if mask is not None and not mask[i, j]:
                continue
            r1, c1 = min(h, r + size), min(w, c + size)
            a0, b0 = max(0, r - halo), max(0, c - halo)
            a1, b1 = min(h, r1 + halo), min(w, c1 + halo)
            out.append(Tile((slice(r, r1), slice(c, c1)), (slice(a0, a1), slice(b0, b1)),
                            (slice(r - a0, r1 - a0), slice(c - b0, c1 - b0)), (i, j)))
    return out


def pmap(func, items, threads: int | None = None) -> list:
    """``[func(x) for x in items]``, on :data:`THREADS` threads (in order).

    For the tile loops: `func` must only write to its own part of shared
    arrays. An exception in any call is raised here.
    """
    return list(pimap(func, items, threads))


def pimap(func, items, threads: int | None = None):
    """``(func(x) for x in items)``, on :data:`THREADS` threads: the results
    in order, each as soon as it and those before it are done (so the caller
    can report progress). Closing the generator early cancels the calls not
    yet started; an exception in any call is raised at its result.
    """
    items = list(items)
    threads = THREADS if threads is None else threads
    if threads <= 1 or len(items) <= 1:
        yield from map(func, items)
        return
    ex = ThreadPoolExecutor(min(threads, len(items)))
    try:
        yield from ex.map(func, items)
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def tile_grid(shape, size: int = TILE) -> tuple[int, int]:
    """Number of tile rows and columns :func:`tiles` makes for `shape`."""
    return -(-int(shape[0]) // size), -(-int(shape[1]) // size)


def tile_boxes(boxes: np.ndarray, shape, size: int = TILE) -> np.ndarray:
    """Which tiles overlap any of the (top, left, bottom, right) `boxes` ((k, 4), bottom and right exclusive)."""
    grid = np.zeros(tile_grid(shape, size), bool)
    for top, left, bottom, right in np.asarray(boxes, np.int64).reshape(-1, 4):
        if bottom > top and right > left:
            grid[top // size:(bottom - 1) // size + 1, left // size:(right - 1) // size + 1] = True
    return grid


def tile_any(mask: np.ndarray, size: int = TILE, grow: int = 0) -> np.ndarray:
    """Which tiles hold a True pixel of `mask`, or one within `grow` pixels
    of them (Chebyshev distance, as a square dilation).

    Returns a (ceil(h / size), ceil(w / size)) bool array for :func:`tiles`.
    """
    if grow > size:
        raise ValueError(f"grow must be at most the tile size {size}, got {grow}")
    h, w = mask.shape
    gh, gw = tile_grid(mask.shape, size)
    m = np.asarray(mask, dtype=bool)
    grid = _pool_any(m, size)
    if grow <= 0:
        return grid
    out = grid.copy()
    # a pixel within `grow` of a tile edge reaches the neighbour across it
    # (and, near a corner, the diagonal one)
    near = np.zeros((3, 3, gh, gw), bool)  # [dr + 1, dc + 1]: reaches tile (i + dr, j + dc)
    for dr, rows in ((-1, lambda i: np.s_[i * size:i * size + grow]), (0, None),
                     (1, lambda i: np.s_[max(i * size, min(h, (i + 1) * size) - grow):min(h, (i + 1) * size)])):
        for dc, cols in ((-1, lambda j: np.s_[j * size:j * size + grow]), (0, None),
                         (1, lambda j: np.s_[max(j * size, min(w, (j + 1) * size) - grow):min(w, (j + 1) * size)])):
            if dr == 0 and dc == 0:
                continue
            for i in range(gh):
                if not grid[i].any():
                    continue
                band = m[rows(i)] if rows else m[i * size:(i + 1) * size]
                if cols is None:
                    near[dr + 1, dc + 1, i] = _pool_any(band, size, rows_pool=False)
                else:
                    for j in np.flatnonzero(grid[i]):
                        near[dr + 1, dc + 1, i, j] = band[:, cols(j)].any()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            src = near[dr + 1, dc + 1]
            i0, i1 = max(0, -dr), gh - max(0, dr)
            j0, j1 = max(0, -dc), gw - max(0, dc)
            out[i0 + dr:i1 + dr, j0 + dc:j1 + dc] |= src[i0:i1, j0:j1]
    return out


def _pool_any(m: np.ndarray, size: int, rows_pool: bool = True) -> np.ndarray:
    """any() over size x size tiles (or, with rows_pool False, over size-wide column runs of all rows)."""
    h, w = m.shape
    gw = -(-w // size)
    cols = m.any(axis=0) if not rows_pool else None
    if not rows_pool:
        padded = np.zeros(gw * size, bool)
        padded[:w] = cols
        return padded.reshape(gw, size).any(axis=1)
    gh = -(-h // size)
    out = np.zeros((gh, gw), bool)
    for i in range(gh):
        band = m[i * size:(i + 1) * size].any(axis=0)
        padded = np.zeros(gw * size, bool)
        padded[:w] = band
        out[i] = padded.reshape(gw, size).any(axis=1)
    return out


def tile_max(values: np.ndarray, size: int = TILE) -> np.ndarray:
    """Largest value per tile, (ceil(h / size), ceil(w / size)), without a full-size temporary."""
    h, w = values.shape
    gh, gw = tile_grid(values.shape, size)
    out = np.empty((gh, gw), values.dtype)
    for i in range(gh):
        band = values[i * size:(i + 1) * size].max(axis=0)
        padded = np.full(gw * size, band.min(), values.dtype)
        padded[:w] = band
        out[i] = padded.reshape(gw, size).max(axis=1)
    return out


def median_blur_u8(image: np.ndarray, ksize: int, *, levels: int = 4, block: int = 64) -> np.ndarray:
    """``cv2.medianBlur(image, ksize)`` for a uint8 image (replicated border), exactly.

    The median of a window is at least ``t`` when more than half of its
    pixels are: a box count of ``image >= t`` per level (threshold
    decomposition). Mostly dark images (a map of shadow darkening, where
    most windows have a median of 0, 1 or 2) need a few levels; blocks
    where the median reaches `levels` get OpenCV's median.

    Parameters
    ----------
    image : (h, w) uint8 array
    ksize : int
        Odd window side, >= 3.
    levels : int
        Threshold levels counted before switching to OpenCV's median.
    block : int
        Side of the blocks that switch.

    Returns
    -------
    (h, w) uint8 array
    """
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"image must be a 2-D uint8 array, got {image.dtype} {image.shape}")
    if ksize < 3 or ksize % 2 == 0:
        raise ValueError(f"ksize must be odd and >= 3, got {ksize}")
    image = np.ascontiguousarray(image)
    need = ksize * ksize // 2 + 1
    out = np.zeros(image.shape, np.uint8)
    busy = None
    for t in range(1, levels + 1):
        above = (image >= t).view(np.uint8)
        count = cv2.boxFilter(above, cv2.CV_16U, (ksize, ksize), normalize=False,
                              borderType=cv2.BORDER_REPLICATE)
        busy = count >= need
        if not busy.any():
            return out
        out += busy.view(np.uint8)
    # the median reaches `levels` somewhere: OpenCV's median on those blocks
    h, w = image.shape
    r = ksize // 2
    for t in tiles((h, w), block, r, mask=tile_any(busy, block)):
        out[t.inner] = cv2.medianBlur(np.ascontiguousarray(image[t.outer]), ksize)[t.crop]
    return out


class Components:
    """Connected components of a bool image, with lazily computed statistics.

    Attributes
    ----------
    labels : (h, w) int32 array
        0 for the background, 1 ... n-1 for the components.
    n : int
        Number of labels, background included.
    """

    def __init__(self, candidate: np.ndarray, connectivity: int = 8, labels: np.ndarray | None = None):
        cand = np.ascontiguousarray(candidate, dtype=bool)
        self.shape = cand.shape
        if labels is not None and not (labels.shape == cand.shape and labels.dtype == np.int32
                                       and labels.flags.c_contiguous and labels.flags.writeable):
            raise ValueError(f"labels must be a writeable C-contiguous int32 array of shape {cand.shape}")
        self.n, self.labels = cv2.connectedComponents(cand.view(np.uint8), labels=labels,
                                                      connectivity=connectivity, ltype=cv2.CV_32S)
        self._cand = cand

    @cached_property
    def _pixels(self):
        """Flat indices and labels of the foreground pixels."""
        idx = np.flatnonzero(self._cand)
        return idx, self.labels.reshape(-1)[idx]

    @cached_property
    def area(self) -> np.ndarray:
        """Pixels per label, (n,) int64 (0 for the background)."""
        a = np.bincount(self._pixels[1], minlength=self.n)
        a[0] = 0
        return a

    def bbox(self, which: np.ndarray | None = None) -> np.ndarray:
        """(n, 4) int64 array of (top, left, bottom, right) per label, bottom and
        right exclusive; only for the labels where `which` is True (others 0)."""
        idx, lab = self._pixels
        if which is not None:
            keep = which[lab]
            idx, lab = idx[keep], lab[keep]
        out = np.zeros((self.n, 4), np.int64)
        if lab.size == 0:
            return out
        w = self.shape[1]
        rr, cc = np.divmod(idx, w)
        order = np.argsort(lab, kind="stable")
        lab, rr, cc = lab[order], rr[order], cc[order]
        starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
        ids = lab[starts]
        out[ids, 0] = np.minimum.reduceat(rr, starts)
        out[ids, 1] = np.minimum.reduceat(cc, starts)
        out[ids, 2] = np.maximum.reduceat(rr, starts) + 1
        out[ids, 3] = np.maximum.reduceat(cc, starts) + 1
        return out

    def touching(self, anchor: np.ndarray, *, min_area: int = 0, min_extent: int = 0) -> np.ndarray:
        """(n,) bool: the components that touch `anchor` ((h, w) bool), or
        (when `min_area` or `min_extent` is set) are at least `min_area`
        pixels *and* `min_extent` pixels long. The background is False."""
        touched = np.zeros(self.n, bool)
        touched[self.labels[np.asarray(anchor, bool) & self._cand]] = True
        return self.keep(touched, min_area=min_area, min_extent=min_extent)

    def keep(self, touched: np.ndarray, *, min_area: int = 0, min_extent: int = 0) -> np.ndarray:
        """:meth:`touching` from a (n,) bool of the labels an anchor touches
        (for anchors gathered piece by piece)."""
        keep = np.array(touched, bool)
        if min_area > 0 or min_extent > 0:
            big = self.area >= max(min_area, 1)
            if min_extent > 0 and big.any():
                box = self.bbox(big & ~keep)
                extent = np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
                big &= keep | (extent >= min_extent)
            keep |= big
        keep[0] = False
        return keep


def components(candidate: np.ndarray, connectivity: int = 8, *, labels: np.ndarray | None = None) -> Components:
    """Label the connected components of `candidate` (bool (h, w)); see :class:`Components`.

    `labels`, a C-contiguous int32 array of the same shape, is written to
    instead of a new array (to reuse the memory of labels no longer needed).
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    return Components(candidate, connectivity, labels)
