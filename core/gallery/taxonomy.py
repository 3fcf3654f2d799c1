"""The editable category and tag taxonomy (`data/taxonomy.toml`): grouped categories and
tags with colours and descriptions, renames that keep old pictures findable; tag hygiene."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import REPO_ROOT
from core.errors import ConfigError

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_TAGS = 20


@dataclass(frozen=True)
class Group:
    """A group of categories or of tags, with the colour its chips are drawn in."""

    slug: str
    label: str
    colour: str
    description: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    """A gallery category."""

    slug: str
    label: str
    description: str
    group: str = ""


@dataclass(frozen=True)
class Taxonomy:
    """Categories, tags grouped by facet, and renames (old slug -> new slug), so a picture
    filed under an old name is still found under the new one."""

    categories: tuple[Category, ...]
    tag_groups: dict[str, tuple[str, ...]]
    groups: dict[str, Group] = field(default_factory=dict)
    tag_facets: dict[str, Group] = field(default_factory=dict)
    renamed_categories: dict[str, str] = field(default_factory=dict)
    renamed_tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Taxonomy:
        """Read and check the file; ConfigError names the problem."""
        path = path or REPO_ROOT / "data" / "taxonomy.toml"
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            taxonomy = _parse(raw)
        except FileNotFoundError as exc:
            raise ConfigError(f"{path} is missing") from exc
        except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path} is invalid: {type(exc).__name__}: {exc}") from exc
        problems = taxonomy._problems()
        if problems:
            raise ConfigError(f"{path}: {'; '.join(problems)}")
        return taxonomy

    def _problems(self) -> list[str]:
        bad = [c.slug for c in self.categories if not SLUG.match(c.slug)]
        bad += [t for tags in self.tag_groups.values() for t in tags if not SLUG.match(t)]
        bad += [
            old for old in (*self.renamed_categories, *self.renamed_tags) if not SLUG.match(old)
        ]
        problems = [f"not lowercase slugs: {', '.join(bad)}"] if bad else []
        colours = [g.colour for g in (*self.groups.values(), *self.tag_facets.values())]
        problems += [f"not a #rrggbb colour: {c}" for c in colours if not COLOUR.match(c)]
        slugs = {c.slug for c in self.categories}
        problems += [
            f"category {c.slug} is in unknown group {c.group}"
            for c in self.categories
            if self.groups and c.group not in self.groups
        ]
        problems += [
            f"category rename {old} -> {new}: {new} is not a category"
            for old, new in self.renamed_categories.items()
            if new not in slugs or old in slugs
        ]
        tags = set(self.tags)
        problems += [
            f"tag rename {old} -> {new}: {new} is not a tag"
            for old, new in self.renamed_tags.items()
            if new not in tags or old in tags
        ]
        return problems

    @property
    def tags(self) -> list[str]:
        """Every known tag, in file order."""
        return [tag for tags in self.tag_groups.values() for tag in tags]

    def category(self, slug: str | None) -> Category | None:
        """The category with this slug (or renamed to it from this slug), or None."""
        slug = self.renamed_categories.get(slug or "", slug)
        return next((c for c in self.categories if c.slug == slug), None)

    def category_names(self, slug: str) -> tuple[str, ...]:
        """Every slug stored pictures of this category may carry: it and its old names."""
        return (slug, *sorted(old for old, new in self.renamed_categories.items() if new == slug))

    def tag_names(self, tag: str) -> tuple[str, ...]:
        """Every tag stored pictures of this tag may carry: it and its old names."""
        return (tag, *sorted(old for old, new in self.renamed_tags.items() if new == tag))

    def colour_of(self, slug: str) -> str | None:
        """The colour of a category's or a tag's group, or None for a free tag."""
        category = self.category(slug)
        if category is not None and category.group in self.groups:
            return self.groups[category.group].colour
        tag = self.renamed_tags.get(slug, slug)
        return next((g.colour for g in self.tag_facets.values() if tag in g.members), None)


def suggest(
    taxonomy: Taxonomy, prompt: str, muse_tags: Iterable[str] = ()
) -> tuple[str | None, list[str]]:
    """The category and tags to propose for a prompt: the muse's tags that the taxonomy
    knows, then every taxonomy tag whose words appear in the prompt (`golden hour` finds
    `golden-hour`); the first category whose slug or label appears, else None."""
    words = " ".join(re.findall(r"[a-z0-9]+", prompt.lower()))
    padded = f" {words} "

    def mentioned(slug: str) -> bool:
        return f" {slug.replace('-', ' ')} " in padded

    known = set(taxonomy.tags)
    tags = [t for t in normalize_tags(muse_tags) if t in known]
    tags += [t for t in taxonomy.tags if mentioned(t) and t not in tags]
    category = next(
        (
            c.slug
            for c in taxonomy.categories
            if mentioned(c.slug) or mentioned(normalize_tags([c.label])[0] if c.label else c.slug)
        ),
        None,
    )
    return category, tags[:MAX_TAGS]


def _group(slug: object, table: dict[str, Any], members: tuple[str, ...]) -> Group:
    """The group `slug` of the file's `table` (label, colour, description), of `members`."""
    return Group(
        str(slug),
        str(table["label"]),
        str(table.get("colour", "#888888")),
        str(table.get("description", "")),
        members,
    )


def _parse(raw: dict[str, Any]) -> Taxonomy:
    """A Taxonomy from the file's tables (KeyError or TypeError when a table is malformed)."""
    categories = tuple(
        Category(
            str(c["slug"]), str(c["label"]), str(c.get("description", "")), str(c.get("group", ""))
        )
        for c in raw["categories"]
    )
    groups = {
        str(slug): _group(slug, g, tuple(c.slug for c in categories if c.group == slug))
        for slug, g in raw.get("category_groups", {}).items()
    }
    facets = {
        str(slug): _group(slug, g, tuple(str(t) for t in g["tags"]))
        for slug, g in raw.get("tag_groups", {}).items()
    }
    renames = raw.get("renames", {})
    return Taxonomy(
        categories=categories,
        tag_groups={slug: g.members for slug, g in facets.items()},
        groups=groups,
        tag_facets=facets,
        renamed_categories={str(k): str(v) for k, v in renames.get("categories", {}).items()},
        renamed_tags={str(k): str(v) for k, v in renames.get("tags", {}).items()},
    )


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
