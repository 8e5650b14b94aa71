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
from .roles import apply_path_roles, paths_to_mask, role_from_name  # noqa: F401,E402
from .svg import (  # noqa: F401,E402
    parse_transform,
    path_from_svg_d,
    paths_from_krita_svg,
    paths_from_svg,
    subpaths_from_svg_d,
)
from .photoshop import (  # noqa: F401,E402
    EmbeddedPaths,
    PathInfo,
    embed_paths_jpeg,
    list_paths,
    photoshop_app13_payloads,
    photoshop_resources_for_paths,
    read_paths,
    tiff_with_paths,
    write_tiff_with_paths,
)
from .trace import trace_mask  # noqa: F401,E402
from .demo import demo_paths, write_demo_files  # noqa: F401,E402
