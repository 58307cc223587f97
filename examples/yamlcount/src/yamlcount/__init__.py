"""Count the events libyaml's parser emits for a YAML document."""

from yamlcount._yamlcount import count_events, libyaml_version

__all__ = ["count_events", "libyaml_version"]
