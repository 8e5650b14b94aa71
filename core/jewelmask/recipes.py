"""Recipes: named ways of combining the engine's methods into one mask.

A recipe takes the photo and returns a float32 alpha in [0, 1] the size of
the photo. The CLI, the batch and the editors all go through
:func:`run_recipe`, so a recipe gives the same mask everywhere.

Recipes now:

``ai``
    The full-detail AI pass (:func:`jewelmask.ai.ai_alpha`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ai import AISettings, ai_alpha

__all__ = ["RECIPES", "DEFAULT_RECIPE", "RecipeSettings", "run_recipe"]

RECIPES = {
    "ai": "the full-detail AI pass: a global look, then crops at a finer scale",
}
DEFAULT_RECIPE = "ai"


@dataclass(frozen=True)
class RecipeSettings:
    """Settings of every step a recipe may use; each front end builds one."""

    ai: AISettings = field(default_factory=AISettings)


def run_recipe(image, *, recipe: str = DEFAULT_RECIPE,
               settings: RecipeSettings | None = None, model: str | None = None,
               progress=None) -> np.ndarray:
    """Run a recipe on a photo.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 4) array, uint8, uint16 or float
    recipe : str
        One of :data:`RECIPES`.
    settings : RecipeSettings, optional
    model : str, optional
        Shortcut that overrides ``settings.ai.model``.
    progress : callable(float), optional
        Fraction done; may raise to cancel.

    Returns
    -------
    (H, W) float32 array in [0, 1]
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe={recipe!r} is not known; choose one of: {', '.join(RECIPES)}")
    settings = settings or RecipeSettings()
    ai_settings = settings.ai
    if model is not None and model != ai_settings.model:
        from dataclasses import replace

        ai_settings = replace(ai_settings, model=model)
    return ai_alpha(image, settings=ai_settings, progress=progress)
