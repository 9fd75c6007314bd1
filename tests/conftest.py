"""Fixtures for the whole suite: each stand-in starts once per session on free ports."""

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.identity",
    "tests.fixtures.funchost",
    "tests.fixtures.hubsim",
    "tests.fixtures.storagefront",
]
