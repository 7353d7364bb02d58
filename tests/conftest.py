import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _dask_scratch_in_pytest_tmp(tmp_path_factory):
    """dask's local clusters keep their scratch folder (and its lock files) in the temp dir;
    point it at pytest's own temp folder so the suite leaves nothing behind."""
    import sys

    os.environ["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path_factory.mktemp("dask"))
    if "dask" in sys.modules:
        sys.modules["dask"].config.refresh()
    yield
