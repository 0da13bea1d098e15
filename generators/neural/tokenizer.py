"""Character tokenizer for Chinese reasons plus control tokens for the conditioning prefix.

A prompt reads (one token per control, one per character of a value):

    <bos> <cat:美妆> <len:M> <seg:学生党> <sub> 面 霜 <brand> 澜 屿 <a:功效> 补 水 保 湿 ... <sep>

Attributes appear in the tokenizer's canonical attribute order (not the persona's), so choosing
and ordering what to mention for a persona is what the model learns. The reason follows <sep>
and ends with <eos>.

Slot tokens: in the reason, an attribute value is written as its slot token <v:功效> (and the
brand / sub-category as <brand> / <sub>), which `decode` replaces with the item's own verbatim
value (delexicalized data-to-text generation, as in the E2E NLG systems). The model decides
which facts to mention, in which order and with which template; the values themselves are
copied by construction, so they cannot be garbled. Imports only the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

PAD, BOS, EOS, SEP, UNK, SUB, BRAND = "<pad>", "<bos>", "<eos>", "<sep>", "<unk>", "<sub>", "<brand>"
SPECIALS = [PAD, BOS, EOS, SEP, UNK, SUB, BRAND]
NO_SEGMENT = "none"
LENGTHS = ("S", "M", "L")


class CharTokenizer:
    """Maps characters and control tokens to ids (0 = <pad>)."""

    def __init__(self, chars: Iterable[str], categories: Sequence[str], segments: Sequence[str],
                 attributes: Sequence[str]) -> None:
        self.categories = list(categories)
        self.segments = list(segments)
        self.attributes = list(attributes)
        controls = ([f"<cat:{c}>" for c in self.categories] + [f"<seg:{s}>" for s in self.segments]
                    + [f"<seg:{NO_SEGMENT}>"] + [f"<len:{n}>" for n in LENGTHS]
                    + [f"<a:{a}>" for a in self.attributes] + [f"<v:{a}>" for a in self.attributes])
        self.chars = sorted({c for c in chars if len(c) == 1 and not c.isspace()})
        self.tokens = SPECIALS + controls + self.chars
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.n_control = len(SPECIALS) + len(controls)
        self._attr_rank = {a: i for i, a in enumerate(self.attributes)}

    # -- ids ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return self.index[PAD]

    @property
    def eos_id(self) -> int:
        return self.index[EOS]

    @property
    def sep_id(self) -> int:
        return self.index[SEP]

    @property
    def unk_id(self) -> int:
        return self.index[UNK]

    def is_text_token(self, token_id: int) -> bool:
        return token_id >= self.n_control

    # -- text ---------------------------------------------------------------------------
    def encode_text(self, text: str) -> list[int]:
        """One id per non-space character (<unk> for characters outside the vocabulary)."""
        unk = self.unk_id
        return [self.index.get(c, unk) for c in text if not c.isspace()]

    def slot_id(self, attribute: str) -> int:
        return self.index[f"<v:{attribute}>"]

    def slot_ids(self) -> dict[int, str]:
        """Output slot token id -> token string (<v:...>, <sub>, <brand>)."""
        out = {self.index[f"<v:{a}>"]: f"<v:{a}>" for a in self.attributes}
        out.update({self.index[SUB]: SUB, self.index[BRAND]: BRAND})
        return out

    @staticmethod
    def slot_values(facts: Mapping[str, str], subcategory: str = "", brand: str = "") -> dict[str, str]:
        """The substitutions `decode` uses for one item."""
        out = {f"<v:{a}>": str(v) for a, v in facts.items()}
        out.update({SUB: subcategory, BRAND: brand})
        return out

    def decode(self, ids: Iterable[int], slots: Mapping[str, str] | None = None) -> str:
        """Characters up to the first <eos>; slot tokens become `slots[token]` (dropped when
        absent); other control tokens and padding are dropped."""
        out = []
        slots = slots or {}
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i >= self.n_control and i < len(self.tokens):
                out.append(self.tokens[i])
            elif 0 <= i < len(self.tokens) and self.tokens[i] in slots:
                out.append(slots[self.tokens[i]])
        return "".join(out)

    def mentions(self, ids: Iterable[int], slots: Mapping[str, str]) -> list[list[str]]:
        """[attribute, value] for each attribute slot before the first <eos> (gold mention labels)."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            t = self.tokens[i] if 0 <= i < len(self.tokens) else ""
            if t.startswith("<v:") and t in slots:
                out.append([t[3:-1], slots[t]])
        return out

    def output_mask(self) -> list[bool]:
        """Per token id: True when it may never be generated (controls other than slots)."""
        slot = set(self.slot_ids())
        return [i < self.n_control and i != self.eos_id and i not in slot for i in range(self.vocab_size)]

    def covers(self, text: str) -> bool:
        return all(c in self.index for c in text if not c.isspace())

    # -- prompts ------------------------------------------------------------------------
    def encode_prompt(self, *, category: str, subcategory: str, brand: str, facts: Mapping[str, str],
                      segment: str | None, length: str) -> list[int]:
        """The conditioning prefix, ending with <sep>. Unknown attributes are skipped."""
        if length not in LENGTHS:
            raise ValueError(f"unknown length bucket {length!r}; expected one of {LENGTHS}")
        seg = NO_SEGMENT if segment is None or segment not in self.segments else segment
        ids = [self.index[BOS], self.index.get(f"<cat:{category}>", self.unk_id), self.index[f"<len:{length}>"],
               self.index[f"<seg:{seg}>"], self.index[SUB], *self.encode_text(subcategory),
               self.index[BRAND], *self.encode_text(brand)]
        for attr in sorted((a for a in facts if a in self._attr_rank), key=self._attr_rank.__getitem__):
            ids.append(self.index[f"<a:{attr}>"])
            ids.extend(self.encode_text(str(facts[attr])))
        ids.append(self.sep_id)
        return ids

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"chars": "".join(self.chars), "categories": self.categories, "segments": self.segments,
                "attributes": self.attributes}

    @classmethod
    def from_dict(cls, d: Mapping) -> CharTokenizer:
        return cls(list(d["chars"]), d["categories"], d["segments"], d["attributes"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
