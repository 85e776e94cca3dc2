"""Message catalogues for the web pages: one JSON file per locale (``en.json``,
``zh-Hans.json``) mapping a key to a message with ``{name}`` placeholders, loaded once at start.

The locale is the ``lang`` cookie when it names a catalogue, else the best match of
``Accept-Language``, else the default. Shared by the player app and the operator console.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = ["LANG_COOKIE", "Translations"]

LANG_COOKIE = "lang"
log = logging.getLogger(__name__)

# Primary subtags whose written form we can serve from one catalogue. Traditional Chinese
# (zh-Hant, zh-TW, zh-HK) is deliberately absent: Simplified is not what those readers want.
_SCRIPT_OF = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans"}
_NOT_SIMPLIFIED = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


class Translations:
    """Every locale's catalogue from ``directory`` (``<locale>.json``)."""

    def __init__(self, directory: Path, default: str = "en") -> None:
        self.catalogues: dict[str, dict[str, str]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(directory.glob("*.json"))
        }
        if default not in self.catalogues:
            raise ValueError(f"no catalogue for the default locale {default!r} in {directory}")
        self.default = default
        self._lower = {locale.lower(): locale for locale in self.catalogues}

    @property
    def locales(self) -> list[str]:
        return list(self.catalogues)

    def negotiate(self, cookie: str | None, accept_language: str | None) -> str:
        """The locale for a request: the ``lang`` cookie, else Accept-Language, else default."""
        if cookie in self.catalogues:
            return cookie
        for tag in _by_quality(accept_language or ""):
            found = self._match(tag)
            if found is not None:
                return found
        return self.default

    def _match(self, tag: str) -> str | None:
        if tag in self._lower:
            return self._lower[tag]
        if tag.startswith(_NOT_SIMPLIFIED):
            return None
        mapped = _SCRIPT_OF.get(tag) or _SCRIPT_OF.get(tag.split("-", maxsplit=1)[0])
        if mapped in self.catalogues:
            return mapped
        primary = tag.split("-", maxsplit=1)[0]
        return self._lower.get(primary)

    def message(self, locale: str, key: str, **params: object) -> str:
        """The message for ``key`` in ``locale`` (the default locale's when missing there),
        with ``{name}`` placeholders filled in."""
        catalogue = self.catalogues.get(locale, self.catalogues[self.default])
        text = catalogue.get(key)
        if text is None:
            text = self.catalogues[self.default].get(key)
        if text is None:
            log.warning("no message for %r", key)
            return key
        return text.format(**params) if params else text

    def has(self, key: str) -> bool:
        return key in self.catalogues[self.default]


def _by_quality(header: str) -> list[str]:
    """The language tags of an Accept-Language header, best first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]
