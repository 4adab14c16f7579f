"""Screening rules: terms and regular expressions checked against every new message.

Regular expressions run on RE2 (google-re2), which matches in time linear in the text: a
pattern such as `(a+)+$` that makes a backtracking engine run for minutes cannot hurt here.
What RE2 cannot compile (backreferences, lookaround) is refused when the rule is saved,
with RE2's reason, so a rule never fails at run time. Texts are also capped in length.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable, Optional

import re2

from sanctum.models import ScreeningRule

MAX_PATTERN = 1000
MAX_TEXT = 20_000  # characters of a message that screening reads
MAX_PROGRAM = 5_000  # RE2 program size: refuses patterns that would compile to huge automata


class RuleError(ValueError):
    """A rule that cannot be saved; the message says why, for the form."""


def _options() -> "re2.Options":
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is reported to the admin, not to stderr
    options.max_mem = 8 << 20
    return options


@functools.lru_cache(maxsize=512)
def compile_rule(kind: str, pattern: str):
    """The compiled matcher for a rule. Terms match as whole words, case-insensitively."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise RuleError("Write a term or a pattern.")
    if len(pattern) > MAX_PATTERN:
        raise RuleError(f"Patterns can be at most {MAX_PATTERN} characters.")
    if kind == "term":
        words = r"\s+".join(re.escape(word) for word in pattern.split())
        source = rf"(?:^|\W){words}(?:\W|$)"
    elif kind == "regex":
        source = pattern
    else:
        raise RuleError("A rule is a term or a regular expression.")
    try:
        compiled = re2.compile(source, options=_options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RuleError(f"This regular expression cannot be used: {detail}. Backreferences and "
                        "lookaround are not supported, so that every rule runs in linear time.") from None
    if compiled.programsize > MAX_PROGRAM:
        raise RuleError("This regular expression is too large; split it into several rules.")
    return compiled


def check_rule(kind: str, pattern: str) -> None:
    """Raise RuleError when the rule could not run."""
    compile_rule(kind, pattern)


@dataclass(frozen=True)
class Hit:
    rule_id: int
    name: str
    category: str
    action: str
    block_message: Optional[str]
    matched: str


def screen(text: str, rules: Iterable[ScreeningRule], *, role: str) -> list[Hit]:
    """Every active rule for this author role that matches `text`, strongest action first."""
    text = (text or "")[:MAX_TEXT]
    hits = []
    for rule in rules:
        if not rule.is_active or rule.applies_to not in (role, "both"):
            continue
        try:
            found = compile_rule(rule.kind, rule.pattern).search(text)
        except RuleError:  # saved before a stricter check existed: skip it rather than fail the send
            continue
        if found:
            hits.append(Hit(rule.id, rule.name, rule.category, rule.action, rule.block_message,
                            found.group(0).strip()[:200]))
    order = {"block": 0, "hold": 1, "flag": 2}
    return sorted(hits, key=lambda hit: order.get(hit.action, 3))
