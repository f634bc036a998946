"""Test tooling: the Messages API emulator and the pytest plugin.

    from firsttoken.testing.emulator import Emulator, EmulatorProcess

    with Emulator(time_scale=0.0) as emulator:
        client = anthropic.Anthropic(base_url=emulator.base_url, api_key="test")

`firsttoken.testing.emulator` is the emulator (`firsttoken.emulator` is its former home, kept as
an alias). `firsttoken.testing.plugin` is the pytest plugin, loaded through the `pytest11` entry
point: the `anthropic_emulator` and `anthropic_emulator_factory` fixtures.

Nothing is imported here: pytest loads the plugin in every run, and the emulator's server stack
is loaded only by the code that starts one (an engine with no key starts its embedded emulator
at its first call, see `firsttoken._upstream.resolve`).
"""
