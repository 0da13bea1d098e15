"""The synthetic world's vocabulary as a text-check extension (abkit.text never imports the world).

Callers that score the world's own texts (the generators' candidate filter, the simulator, the
world's gold-corruption tests) pass ``world_extension()`` to the checkers, so values the world can
hold but a small sample of items does not show are still known, with their key roles.
"""

from __future__ import annotations

import functools

from abkit.text.extension import TextExtension
from abkit.text.lexicon import LexiconConfig
from abkit.world import vocab

# attribute kinds whose items hold one value: another value of the same key contradicts the item
_SINGLE_VALUED_KINDS = frozenset({"material", "season", "origin", "fit", "binding", "rating", "sales", "color",
                                  "texture", "skin_type", "age_range", "flavour", "storage"})


@functools.lru_cache(maxsize=1)
def world_extension() -> TextExtension:
    """Every value of vocab.value_lexicon(); keys of multi-valued kinds marked multi-valued, 风格 a style key."""
    values = {k: set(v) for k, v in vocab.value_lexicon().items() if k != vocab.PRICE_ATTRIBUTE}
    multi = {k for k, kind in vocab.ATTRIBUTE_KINDS.items()
             if kind not in _SINGLE_VALUED_KINDS and k not in (vocab.PRICE_ATTRIBUTE, vocab.PROMO_ATTRIBUTE)}
    style = {k for k, kind in vocab.ATTRIBUTE_KINDS.items() if kind == "style"}
    return TextExtension(LexiconConfig(values=values, multi_valued_keys=multi, style_keys=style),
                         allow=list(vocab.ALLOWED_COMPOUNDS))


def segment_top_aspect(segment: str, attributes: list[str]) -> str | None:
    """The world persona's top-weighted attribute among ``attributes`` (None for an unknown segment)."""
    return vocab.top_aspect(segment, attributes) if segment in vocab.PERSONAS else None
