"""jewelmask: layer masks for jewelry product photos.

The engine is pure numpy: functions take arrays and return arrays, and
nothing here imports an editor. Heavy optional parts (rembg, onnxruntime)
are imported lazily by the functions that need them.
"""

__version__ = "0.1.0"

from .errors import JewelmaskError  # noqa: E402,F401
