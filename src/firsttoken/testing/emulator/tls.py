"""A self-signed certificate for the emulator's HTTPS, made at start with `trustme`.

Against the real API the first call pays a TLS handshake; an emulator on plain HTTP would hide
it from every measurement of a cold start. `SelfSigned()` makes a throwaway CA and a server
certificate for the loopback names in a temporary directory: the server serves `cert_path`
(key and chain in one PEM), clients trust `ca_path` (`SSL_CERT_FILE=<ca_path>` for the SDK's
httpx, or `ssl.create_default_context(cafile=ca_path)`). `close()` removes both.
"""

from __future__ import annotations

import os
import shutil
import tempfile

__all__ = ["SelfSigned"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class SelfSigned:
    def __init__(self, names: tuple[str, ...] = LOOPBACK_NAMES) -> None:
        try:
            import trustme
        except ImportError:
            raise RuntimeError("the emulator's HTTPS needs trustme: pip install trustme") from None
        self.directory = tempfile.mkdtemp(prefix="firsttoken-emulator-tls-")
        ca = trustme.CA(organization_name="firsttoken emulator")
        self.ca_path = os.path.join(self.directory, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self.cert_path = os.path.join(self.directory, "server.pem")
        ca.issue_cert(*names).private_key_and_cert_chain_pem.write_to_path(self.cert_path)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
