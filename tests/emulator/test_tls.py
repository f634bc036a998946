"""The emulator over HTTPS: a certificate made at start, its CA printed and handed to clients."""

from __future__ import annotations

import os
import ssl

import anthropic
import httpx2
import pytest

from firsttoken.testing.emulator import Emulator
from firsttoken.testing.emulator.process import EmulatorProcess


def _client(base_url: str, ca_path: str) -> anthropic.Anthropic:
    verify = ssl.create_default_context(cafile=ca_path)
    return anthropic.Anthropic(api_key="k", base_url=base_url, http_client=httpx2.Client(verify=verify))


def test_the_cli_serves_https_and_prints_its_ca() -> None:
    with EmulatorProcess(time_scale=0.0, tls=True) as emu:
        assert emu.base_url.startswith("https://127.0.0.1:")
        assert emu.ca_path is not None and os.path.isfile(emu.ca_path)
        with _client(emu.base_url, emu.ca_path) as client:
            message = client.messages.create(
                model="claude-haiku-5", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
            )
        assert message.stop_reason == "max_tokens"
        ca = emu.ca_path
    # Stopping removes the throwaway certificate.
    assert not os.path.exists(ca)


def test_an_https_emulator_refuses_clients_that_do_not_trust_it() -> None:
    with Emulator(time_scale=0.0, tls=True) as emu:
        assert emu.ca_path is not None
        with (
            anthropic.Anthropic(
                api_key="k",
                base_url=emu.base_url,
                max_retries=0,
                http_client=httpx2.Client(verify=ssl.create_default_context()),
            ) as bare,
            pytest.raises(anthropic.APIConnectionError),
        ):
            bare.models.list()
        with _client(emu.base_url, emu.ca_path) as client:
            assert client.models.list(limit=1).data
        ca = emu.ca_path
    assert not os.path.exists(ca)
