"""The dtype contract between editors, files and the engine.

Editors and files hand jewelmask pixels as ``uint8``, ``uint16`` or float
arrays. The engine works on float32: an image is ``rgb`` of shape
``(H, W, 3)`` plus an optional straight (not premultiplied) ``alpha`` of
shape ``(H, W)``, and a mask is float32 of shape ``(H, W)`` in ``[0, 1]``.

The rules, applied the same way everywhere:

* ``uint8`` is divided by 255 and ``uint16`` by 65535.
* Floats (``float16``, ``float32``, ``float64``) become float32 with their
  values unchanged. They are never rescaled: a float image whose values go
  above 1 (a 32-bit float layer from an editor, an HDR TIFF) keeps them.
* Anything else (``bool`` images, signed or 32/64-bit integers, complex,
  objects) raises ``ValueError`` naming the parameter and what it got.
  A ``bool`` *mask* is accepted by :func:`as_mask`, where its meaning is clear.

This module is pure numpy.
"""

import numpy as np

__all__ = ["MASK_TOLERANCE", "as_float_image", "as_mask", "mask_to_dtype"]

_INTEGER_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_FLOAT_KINDS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_OUTPUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))

MASK_TOLERANCE = 1e-6
"""How far outside [0, 1] a float mask may stray from rounding alone.

Float32 arithmetic such as ``a * b + (1 - a) * c`` lands a few units in the
last place outside [0, 1]; :func:`as_mask` clips that much (far below half a
16-bit level, 7.6e-6) and refuses anything further out.
"""


def _as_array(value, name):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be a numeric array (uint8, uint16 or float), "
            f"got dtype {array.dtype}"
        )
    return array


def _to_float32(array, name):
    """Scale integer samples to [0, 1]; keep float values as they are."""
    scale = _INTEGER_SCALE.get(array.dtype)
    if scale is not None:
        # one pass, no integer-to-float temporary (a 24 MP photo's is 288 MB)
        out = np.empty(array.shape, np.float32)
        return np.divide(array, np.float32(scale), out=out, dtype=np.float32)
    if array.dtype in _FLOAT_KINDS:
        return array.astype(np.float32, copy=True)
    raise ValueError(
        f"{name} must have dtype uint8, uint16, float16, float32 or float64, "
        f"got {array.dtype}"
    )


def as_float_image(image):
    """Split an image array into float32 ``rgb`` and an optional ``alpha``.

    Parameters
    ----------
    image : ndarray, shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        Pixels from an editor, a file or the engine. Greyscale (one
        channel) is replicated to three channels; a fourth channel is
        straight alpha. dtype ``uint8`` (scaled by 1/255), ``uint16``
        (scaled by 1/65535) or float16/32/64 (converted to float32 with the
        values unchanged: a float image is assumed to be in [0, 1] already,
        and values above 1 or below 0 are kept, not clipped or rescaled).

    Returns
    -------
    rgb : ndarray of float32, shape (H, W, 3)
        A new C-contiguous array; never a view of ``image``.
    alpha : ndarray of float32, shape (H, W), or None
        The fourth channel, scaled like the colour, or None when ``image``
        has no alpha channel.

    Raises
    ------
    ValueError
        If ``image`` is boolean (a boolean array is a mask: use
        :func:`as_mask`, or convert it yourself), has another dtype, has a
        shape other than the four above, or is empty.

    Examples
    --------
    >>> import numpy as np
    >>> rgb, alpha = as_float_image(np.full((2, 3), 255, dtype=np.uint8))
    >>> rgb.shape, rgb.dtype, float(rgb.max()), alpha
    ((2, 3, 3), dtype('float32'), 1.0, None)
    """
    array = _as_array(image, "image")
    if array.dtype == np.bool_:
        raise ValueError(
            "image must have dtype uint8, uint16 or float, got bool; a boolean "
            "array is a mask: pass it to as_mask(), or convert it with "
            "image.astype(np.float32) if you mean 0.0 and 1.0"
        )
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 0
    else:
        raise ValueError(
            "image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {array.shape}")
    values = _to_float32(array, "image")
    if channels == 0:
        rgb = np.repeat(values[:, :, np.newaxis], 3, axis=2)
        alpha = None
    elif channels == 1:
        rgb = np.repeat(values, 3, axis=2)
        alpha = None
    else:
        rgb = np.ascontiguousarray(values[:, :, :3])
        alpha = np.ascontiguousarray(values[:, :, 3]) if channels == 4 else None
    return rgb, alpha


def as_mask(mask):
    """Convert a mask to float32 of shape (H, W) with values in [0, 1].

    Parameters
    ----------
    mask : ndarray, shape (H, W) or (H, W, 1)
        ``bool`` (True is 1.0), ``uint8`` (scaled by 1/255), ``uint16``
        (scaled by 1/65535) or float16/32/64. Float masks must already lie
        in [0, 1]: they are never rescaled, and only rounding noise up to
        :data:`MASK_TOLERANCE` outside it is clipped.

    Returns
    -------
    ndarray of float32, shape (H, W)
        A new C-contiguous array.

    Raises
    ------
    ValueError
        If ``mask`` has another dtype or shape, is empty, or is a float mask
        with NaN or values outside [0, 1] (clip it first with
        ``np.clip(mask, 0, 1)`` if the overshoot is expected).

    Examples
    --------
    >>> import numpy as np
    >>> as_mask(np.array([[0, 128, 255]], dtype=np.uint8)).round(3)
    array([[0.   , 0.502, 1.   ]], dtype=float32)
    """
    array = _as_array(mask, "mask")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"mask must have shape (H, W) or (H, W, 1), got {np.shape(mask)}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"mask must not be empty, got shape {np.shape(mask)}")
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array, dtype=np.float32)
    values = _to_float32(array, "mask")
    if array.dtype in _FLOAT_KINDS:
        low, high = float(values.min()), float(values.max())
        if np.isnan(low) or np.isnan(high):
            raise ValueError("mask must not contain NaN")
        if low < -MASK_TOLERANCE or high > 1.0 + MASK_TOLERANCE:
            raise ValueError(
                f"mask values must lie in [0, 1], got min {low:g} and max {high:g}; "
                "clip it first with np.clip(mask, 0, 1) if that is what you mean"
            )
        if low < 0.0 or high > 1.0:
            np.clip(values, 0.0, 1.0, out=values)
    return np.ascontiguousarray(values)


def mask_to_dtype(mask, dtype):
    """Convert a mask to the dtype a file or an editor wants.

    Parameters
    ----------
    mask : ndarray, shape (H, W) or (H, W, 1)
        Any mask :func:`as_mask` accepts (float32 in [0, 1] normally).
    dtype : {numpy.uint8, numpy.uint16, numpy.float32}
        The output dtype. Integers are scaled by 255 or 65535 and rounded to
        the nearest value, so ``uint8 -> float -> uint8`` is exact.

    Returns
    -------
    ndarray of `dtype`, shape (H, W)

    Raises
    ------
    ValueError
        If ``dtype`` is not one of the three above, or ``mask`` is not a
        valid mask (see :func:`as_mask`).

    Examples
    --------
    >>> import numpy as np
    >>> mask_to_dtype(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), np.uint8)
    array([[  0, 128, 255]], dtype=uint8)
    """
    try:
        target = np.dtype(dtype)
    except TypeError:
        target = None
    if target not in _OUTPUT_DTYPES:
        raise ValueError(f"dtype must be numpy.uint8, numpy.uint16 or numpy.float32, got {dtype!r}")
    values = as_mask(mask)
    if target == np.float32:
        return values
    return quantize(values, target)


def quantize(values, dtype):
    """Round float samples to ``uint8`` or ``uint16`` for writing.

    For the writers: values are clipped to [0, 1] (NaN becomes 0) and then
    scaled and rounded. Unlike the readers, this does change values outside
    [0, 1], because an integer file cannot hold them.

    Parameters
    ----------
    values : ndarray of float
        Any shape.
    dtype : {numpy.uint8, numpy.uint16}

    Returns
    -------
    ndarray of `dtype`, same shape as `values`
    """
    target = np.dtype(dtype)
    scale = _INTEGER_SCALE.get(target)
    if scale is None:
        raise ValueError(f"dtype must be numpy.uint8 or numpy.uint16, got {dtype!r}")
    scaled = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= np.float32(scale)
    return np.rint(scaled).astype(target)
