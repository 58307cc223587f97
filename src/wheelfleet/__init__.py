"""wheelfleet: multi-architecture wheel builds as infrastructure as code."""

__version__ = "0.1.0"
