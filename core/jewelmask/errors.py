"""Exceptions that carry a message a retoucher can act on."""


class JewelmaskError(Exception):
    """Base class: every jewelmask error says what went wrong and what to do."""


class ImageReadError(JewelmaskError):
    """An input image could not be read (missing, corrupt, truncated, unsupported)."""


class ImageWriteError(JewelmaskError):
    """An output could not be written; nothing half-written is left behind."""


class ModelUnavailableError(JewelmaskError):
    """The AI model is not installed and could not be fetched."""


class PathDataError(JewelmaskError):
    """Vector path data is malformed (truncated, inconsistent counts, out of range)."""
