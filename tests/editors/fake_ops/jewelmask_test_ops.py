"""A test-only engine operation that makes a new layer (as decontaminate will).

``sitecustomize.py`` beside this file registers it in any Python that starts
with this folder on ``PYTHONPATH`` and can import jewelmask (the engine
worker in the editor tests); the editors' own Pythons just skip it. The host
tests import :func:`new_layer` to compute the expected result without
registering anything.
"""

NAME = "test-new-layer"


def new_layer(image, *, mask=None, selection=None, paths=None, params=None, progress=None):
    """The colours inverted, as a new RGBA layer; no mask, one channel."""
    import numpy as np

    from jewelmask.ops import OpResult

    rgb = np.clip(image[..., :3], 0.0, 1.0)
    layer = np.concatenate([1.0 - rgb, np.ones_like(rgb[..., :1])], axis=2).astype(np.float32)
    if progress:
        progress(1.0)
    return OpResult(mask=None, layer=layer, channels={"jewelmask: test": rgb[..., 1].copy()},
                    info={"test": True})


def register_all():
    from jewelmask.ops import OPS, Op, register

    if NAME not in OPS:
        register(Op(name=NAME, label="Test New Layer", func=new_layer, params=(),
                    default_mode="replace", help="Test only: a new layer with the colours inverted."))
