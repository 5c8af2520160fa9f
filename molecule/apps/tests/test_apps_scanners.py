"""gixy-ng on the configuration this scenario's nginx loads (nginx -T, includes resolved)."""

from tools.testing import test_gixy_finds_nothing_in_the_loaded_configuration

__all__ = ["test_gixy_finds_nothing_in_the_loaded_configuration"]
