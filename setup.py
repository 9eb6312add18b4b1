"""Package discovery: `vlmdata` from its folder, `vlmdata_plugins` from the top-level `plugins/` folder."""

from setuptools import find_packages, setup

plugin_packages = ["vlmdata_plugins"] + [f"vlmdata_plugins.{name}" for name in find_packages("plugins")]

setup(
    packages=find_packages(include=["vlmdata", "vlmdata.*"]) + plugin_packages,
    package_dir={"vlmdata_plugins": "plugins"},
)
