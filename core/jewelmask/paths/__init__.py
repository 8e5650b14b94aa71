"""Vector paths: data model, readers/writers, exact rasteriser, mask tracing.

See ``docs/paths.md`` for the user-facing description.
"""

from .model import (  # noqa: F401
    FILL_RULES,
    ROLES,
    Path,
    Subpath,
    ellipse_path,
    from_gimp_stroke,
    from_gimp_strokes,
    polygon_path,
    rectangle_path,
    to_gimp_strokes,
)
from .raster import FLATTEN_TOLERANCE, path_to_mask, polygons_to_mask  # noqa: F401
