"""Shared fixtures: the Penn Treebank is loaded once per test session."""

import pytest


@pytest.fixture(scope="session")
def ptb():
    from perplex.corpus import load_splits

    return load_splits()
