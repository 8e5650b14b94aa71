"""Methods under test: ``name -> callable(image) -> alpha``.

Each entry of :data:`METHODS` is a :class:`Method` whose ``build()`` loads
what the method needs once (the rembg session, the model) and returns a
callable ``f(image)`` taking an (H, W, 3) uint8 RGB array and returning an
(H, W) float32 alpha in [0, 1]. ``build()`` raises :class:`MethodUnavailable`
(with the reason) when the method cannot run here, e.g. jewelmask's recipes
are not importable yet.

``rembg-plain``
    ``rembg.remove(image, session=new_session("u2netp"), only_mask=True)``.
``rembg-matting``
    ``rembg.remove(image, session=..., alpha_matting=True)`` with rembg's
    default thresholds (240 / 10, erode 10); the alpha channel of the RGBA
    cutout, because rembg ignores ``alpha_matting`` when ``only_mask=True``.
``ai-full``
    ``jewelmask.recipes.run_recipe(image, recipe="ai")`` with refine off:
    the full-detail AI pass alone.
``auto-norefine``
    ``run_recipe(image, recipe="auto")`` with refine off (``--no-refine``).
``auto``
    ``jewelmask.recipes.run_recipe(image, recipe="auto")``, the default
    (refine on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

AlphaFn = Callable[[np.ndarray], np.ndarray]

REMBG_MODEL = "u2netp"


class MethodUnavailable(RuntimeError):
    """The method cannot run in this environment; the message says why."""


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    description: str
    build: Callable[[], AlphaFn]


_SESSIONS: dict[str, object] = {}


def rembg_session(model: str = REMBG_MODEL):
    """One rembg session per model per process, created on first use and reused."""
    if model not in _SESSIONS:
        try:
            from rembg import new_session
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MethodUnavailable(f"rembg is not installed ({exc}); pip install 'rembg[cpu]'") from exc
        try:
            _SESSIONS[model] = new_session(model)
        except Exception as exc:  # noqa: BLE001 - rembg raises many kinds when the model is missing
            raise MethodUnavailable(f"rembg model {model!r} could not be loaded: {exc}") from exc
    return _SESSIONS[model]


def as_alpha(a, shape: tuple[int, int]) -> np.ndarray:
    """Normalise a method's output to (H, W) float32 in [0, 1]."""
    a = np.asarray(a)
    if a.ndim == 3:
        a = a[..., 3] if a.shape[2] == 4 else a[..., 0]
    if a.shape != tuple(shape):
        raise ValueError(f"method returned shape {a.shape}, expected {tuple(shape)}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def _build_rembg_plain() -> AlphaFn:
    from rembg import remove

    session = rembg_session()

    def run(image: np.ndarray) -> np.ndarray:
        mask = remove(image, session=session, only_mask=True)
        return as_alpha(mask, image.shape[:2])

    return run


def _build_rembg_matting() -> AlphaFn:
    from rembg import remove

    session = rembg_session()

    def run(image: np.ndarray) -> np.ndarray:
        # only_mask=True would silently skip alpha matting: take the cutout's alpha
        rgba = np.asarray(remove(image, session=session, alpha_matting=True))
        if rgba.ndim != 3 or rgba.shape[2] != 4:
            raise RuntimeError(f"rembg returned shape {rgba.shape}, expected an RGBA cutout")
        return as_alpha(rgba[..., 3], image.shape[:2])

    return run


def _build_recipe(recipe: str, *, refine: bool = True) -> Callable[[], AlphaFn]:
    def build() -> AlphaFn:
        try:
            from jewelmask.recipes import RecipeSettings, run_recipe
        except ImportError as exc:
            raise MethodUnavailable(f"jewelmask.recipes.run_recipe is not available yet ({exc})") from exc
        settings = RecipeSettings() if refine else RecipeSettings(refine=None)

        def run(image: np.ndarray) -> np.ndarray:
            out = run_recipe(image, recipe=recipe, settings=settings)
            if isinstance(out, tuple):  # tolerate (alpha, info) style returns
                out = out[0]
            out = getattr(out, "alpha", out)
            return as_alpha(out, image.shape[:2])

        return run

    return build


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("rembg-plain", f"rembg {REMBG_MODEL}, only_mask=True", _build_rembg_plain),
        Method("rembg-matting", f"rembg {REMBG_MODEL}, alpha_matting=True (cutout alpha)", _build_rembg_matting),
        Method("ai-full", 'jewelmask run_recipe(recipe="ai"), no refine: the AI pass alone',
               _build_recipe("ai", refine=False)),
        Method("auto-norefine", 'jewelmask run_recipe(recipe="auto"), refine off (--no-refine)',
               _build_recipe("auto", refine=False)),
        Method("auto", 'jewelmask run_recipe(recipe="auto") (default: refine on)', _build_recipe("auto")),
    )
}
"""The registry, in table order."""


def get(name: str) -> Method:
    """The method called ``name``; ``ValueError`` lists the known names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None


def available() -> dict[str, str | None]:
    """``name -> None`` if the method builds here, else the reason it does not (builds each once)."""
    out: dict[str, str | None] = {}
    for name, m in METHODS.items():
        try:
            m.build()
            out[name] = None
        except MethodUnavailable as exc:
            out[name] = str(exc)
    return out
