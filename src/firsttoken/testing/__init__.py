"""Test tooling: the Messages API emulator (`firsttoken.testing.emulator`) and the pytest plugin
(`firsttoken.testing.plugin`, loaded through the `pytest11` entry point).

Nothing is imported here: pytest loads the plugin in every run, and the emulator's server stack
is loaded only by the code that starts one.
"""
