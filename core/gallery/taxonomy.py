"""The editable category and tag taxonomy (`data/taxonomy.toml`), and tag hygiene."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.config import REPO_ROOT
from core.errors import ConfigError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TAGS = 20


@dataclass(frozen=True)
class Category:
    """A gallery category."""

    slug: str
    label: str
    description: str


@dataclass(frozen=True)
class Taxonomy:
    """Categories, and tags grouped by facet."""

    categories: tuple[Category, ...]
    tag_groups: dict[str, tuple[str, ...]]

    @classmethod
    def load(cls, path: Path | None = None) -> Taxonomy:
        """Read and check the file; ConfigError names the problem."""
        path = path or REPO_ROOT / "data" / "taxonomy.toml"
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            categories = tuple(
                Category(str(c["slug"]), str(c["label"]), str(c.get("description", "")))
                for c in raw["categories"]
            )
            groups = {str(k): tuple(str(t) for t in v) for k, v in raw.get("tags", {}).items()}
        except FileNotFoundError as exc:
            raise ConfigError(f"{path} is missing") from exc
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is invalid: {type(exc).__name__}: {exc}") from exc
        bad = [c.slug for c in categories if not SLUG.match(c.slug)]
        bad += [t for tags in groups.values() for t in tags if not SLUG.match(t)]
        if bad:
            raise ConfigError(f"{path}: not lowercase slugs: {', '.join(bad)}")
        return cls(categories, groups)

    @property
    def tags(self) -> list[str]:
        """Every known tag, in file order."""
        return [tag for tags in self.tag_groups.values() for tag in tags]

    def category(self, slug: str | None) -> Category | None:
        """The category with this slug, or None."""
        return next((c for c in self.categories if c.slug == slug), None)


def normalize_tags(raw: Iterable[str]) -> list[str]:
    """Free tags as slugs: lowercased, spaces to dashes, junk dropped, deduplicated, at most 20.

    Tags outside the taxonomy are allowed (people invent useful ones); they are only cleaned.
    """
    tags: list[str] = []
    for item in raw:
        slug = re.sub(r"[^a-z0-9-]", "", re.sub(r"[\s_]+", "-", item.strip().lower()))[:32]
        slug = slug.strip("-")
        if slug and SLUG.match(slug) and slug not in tags:
            tags.append(slug)
    return tags[:MAX_TAGS]
