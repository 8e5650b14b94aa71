"""jewelmask for Krita: the "Jewelry Mask" docker and the jewelmask_* actions.

Krita's Python imports only the standard library and PyQt5 here; the image
work runs in the jewelmask engine's own environment (see ``engine_link``).
Installed by ``install/install-krita``; documentation in docs/krita.md.
"""

try:
    import krita  # noqa: F401  (absent when the pure modules are imported by tests)
except ImportError:
    krita = None

if krita is not None and hasattr(krita, "Krita"):
    from .extension import register

    register()
