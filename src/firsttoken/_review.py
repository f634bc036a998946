"""A settings review before any call: what will fail or be slow, each finding with an id and a hint.

Framework-free, so each adapter reports the same findings its own way (Django's system checks
map them to `firsttoken.<id>`); `key_name` spells the keys as the user wrote them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._advisor import TINY_OUTPUT
from ._latency import expected_seconds, family_of
from ._profiles import DEFAULT_PROFILES
from ._settings import Settings

__all__ = ["Finding", "review_settings"]


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # "E003": E for a setting no call can succeed with, W for one that works badly
    message: str
    hint: str

    @property
    def is_error(self) -> bool:
        return self.id.startswith("E")


def _plain(key: str) -> str:
    return key.upper()


def review_settings(settings: Settings, *, key_name: Callable[[str], str] = _plain) -> list[Finding]:
    """Profiles a call would fail or be slow with, a retry-less client, and where answers come from."""
    return [
        *_profile_findings(settings, key_name),
        *_upstream_findings(settings, key_name),
        *_streaming_findings(settings, key_name),
        *_dependency_findings(settings, key_name),
    ]


def _dependency_findings(settings: Settings, key_name: Callable[[str], str]) -> list[Finding]:
    """A feature the settings turn on whose optional package is not installed (the engine's
    construction raises the same; here `manage.py check` says it with the others)."""
    if settings.redis_url is None:
        return []
    try:
        import redis  # noqa: F401
    except ImportError:
        return [
            Finding(
                "E006",
                f"{key_name('redis_url')} is set, and the redis package is not installed.",
                "pip install 'firsttoken[redis]'",
            )
        ]
    return []


# nginx's `proxy_read_timeout`, AWS ALB's and most load balancers' idle timeout: a response that
# sends nothing for this long is cut.
PROXY_IDLE_TIMEOUT = 60.0


def _streaming_findings(settings: Settings, key_name: Callable[[str], str]) -> list[Finding]:
    """Timeouts that must agree with the servers and proxies between a stream and its browser."""
    if settings.heartbeat_interval < PROXY_IDLE_TIMEOUT:
        return []
    return [
        Finding(
            "W019",
            f"{key_name('heartbeat_interval')} is {settings.heartbeat_interval:g}s: proxies and load "
            f"balancers (nginx's proxy_read_timeout, cloud load balancers' idle timeout) cut a response "
            f"silent for {PROXY_IDLE_TIMEOUT:g}s, so a long first token can end the stream.",
            f"Keep {key_name('heartbeat_interval')} well under every idle timeout on the way to the "
            "browser (the default, 15s, is a quarter of the usual 60s).",
        )
    ]


def _profile_findings(settings: Settings, key_name: Callable[[str], str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, profile in sorted(settings.profiles.items()):
        where = f"{key_name('profiles')}[{name!r}]"
        if not profile.model.startswith("claude-"):
            findings.append(
                Finding(
                    "E003",
                    f"{where} names the model {profile.model!r}, which is not a Claude model id.",
                    "Use a model id that starts with 'claude-', such as 'claude-haiku-5-5'.",
                )
            )
            continue
        timeout = profile.timeout or settings.timeout
        expected = expected_seconds(profile.model, profile.max_tokens)
        # Only a profile the user wrote: a built-in one left as shipped is sized for streaming,
        # where a long answer never meets the timeout, and a finding the user can only silence
        # (`"TIMEOUT": 60` warning about `deep`, which they never named) teaches them to ignore checks.
        if expected > timeout and profile != DEFAULT_PROFILES.get(name):
            findings.append(
                Finding(
                    "W001",
                    f"{where}: max_tokens={profile.max_tokens} on {profile.model} can take about "
                    f"{expected:.0f}s, longer than its {timeout:g}s timeout; a non-streaming call would "
                    "time out.",
                    "Stream long answers (stream_response), lower max_tokens, or raise the profile's "
                    "timeout.",
                )
            )
        if family_of(profile.model) == "opus" and profile.max_tokens <= TINY_OUTPUT:
            findings.append(
                Finding(
                    "W002",
                    f"{where} uses {profile.model} for answers of at most {profile.max_tokens} tokens.",
                    "Short answers (classification, routing) come several times faster from a Haiku model.",
                )
            )
    if settings.max_retries == 0:
        findings.append(
            Finding(
                "W003",
                f"{key_name('max_retries')} is 0: a 529 overloaded or 429 reaches the user without a retry.",
                f"Leave {key_name('max_retries')} at its default (2) so the SDK retries with backoff.",
            )
        )
    return findings


def _upstream_findings(settings: Settings, key_name: Callable[[str], str]) -> list[Finding]:
    if settings.base_url or (settings.api_key and settings.emulator != "always"):
        return []
    if settings.emulator == "off":
        return [
            Finding(
                "E004",
                "No API key and no base URL, and the embedded emulator is off: no call can be made.",
                f"Set ANTHROPIC_API_KEY (or {key_name('api_key')}), or ANTHROPIC_BASE_URL, "
                f'or allow the emulator with {key_name("emulator")} = "auto".',
            )
        ]
    if settings.emulator == "auto" and not settings.in_development:
        # What the first call would raise (fail closed), said before the server takes traffic.
        return [
            Finding(
                "E005",
                "No API key and no base URL, and this is not a development server: firsttoken "
                "refuses every call rather than answer with simulated text.",
                f"Set ANTHROPIC_API_KEY (or {key_name('api_key')}); for development set "
                f"FIRSTTOKEN_DEVELOPMENT=1 or {key_name('development')} = True (Django's DEBUG and "
                "Flask's debug mode count as development).",
            )
        ]
    if settings.emulator != "always":
        # Development with no key: the emulator answering is the default, nothing the user wrote,
        # and the start-up line says so once; a warning here would come with every runserver start.
        return []
    return [
        Finding(
            "W004",
            f"Answers come from the embedded emulator, not from Claude: {key_name('emulator')} is 'always'.",
            f"Set {key_name('emulator')} to 'auto' for real answers where a key is set; silence "
            "firsttoken.W004 where simulated answers are meant.",
        )
    ]
