"""The public API re-exported from ``seqlm``: every name resolves, lazily."""
import subprocess
import sys

import pytest

import seqlm


@pytest.mark.parametrize("name", seqlm.__all__)
def test_every_public_name_resolves(name):
    assert getattr(seqlm, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        seqlm.nope  # noqa: B018


def test_import_does_not_load_torch():
    # `seqlm --help` must stay fast: torch is imported on first use only.
    code = "import sys, seqlm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

