"""The C extension; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "yamlcount._yamlcount",
            sources=["src/yamlcount/_yamlcount.c"],
            libraries=["yaml"],
        )
    ]
)
