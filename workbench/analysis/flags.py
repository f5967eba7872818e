"""Quality flags: cheap rule-based signals per example, each one a short name a curator can filter on.

Every flag is defined in :data:`FLAG_DEFINITIONS` (the README copies that table). Rules look at
the normalised view (system, prompt, response) and, when given, the turn structure. A response
is *expected* for rows whose role is ``train``, ``eval`` or ``reference``; production inputs are
prompts only and never get response flags.

Length outliers are relative to the dataset: over all non-empty expected responses, with
median length ``m`` (characters, trimmed), a response is ``very_short_response`` when it is
shorter than both the 0.5th percentile and ``m / 5``, and ``very_long_response`` when it is
longer than both the 99.5th percentile and ``5 * m``. So a dataset of one-word labels flags
nothing, and in a dataset of essays at most the extreme half percent on each side is flagged.

Speed: the text rules (PII, refusal, encoding, template) scan each column joined into one string
with a cheap gate (literal substrings or a simple regex) and run the full pattern only on the
rows that pass it; system prompts are checked once per distinct text. 100k rows take a few
seconds.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.analysis.textnorm import normalise

FLAG_DEFINITIONS: dict[str, str] = {
    "empty_prompt": "The prompt (user turn) is empty or whitespace only.",
    "empty_response": "A response is expected (train/eval/reference) but it is empty or whitespace only.",
    "very_short_response": "Response shorter than 1/5 of the dataset's median response length and than "
                           "its 0.5th percentile.",
    "very_long_response": "Response longer than 5x the dataset's median response length and than its "
                          "99.5th percentile.",
    "truncated": "Response looks cut off: an unclosed ``` code fence, or it ends on a comma, colon, "
                 "semicolon, hyphen or opening bracket, or (4+ words) on a word that cannot end a "
                 "sentence (and/or/the/a/of/to/with/...). A missing final full stop alone is not "
                 "flagged: people often write short answers without one.",
    "refusal": "Response contains refusal or AI-disclaimer boilerplate (\"As an AI language model\", "
               "\"I cannot help with\", \"I'm sorry, but I can't\").",
    "echoes_prompt": "Response repeats the prompt verbatim (after normalisation) instead of answering it.",
    "role_error": "Turn structure is wrong: two consecutive turns of the same role, the first "
                  "non-system turn is not the user's, a system turn after the start, or (train/eval/"
                  "reference) the last turn is not the assistant's.",
    "repeated_turn": "Two turns of the same role in one conversation have identical normalised text.",
    "repetitive_response": "Response of 300+ characters that compresses to under 20% of its size "
                           "(a generation loop: the same sentence or line over and over).",
    "pii_email": "An e-mail address in the prompt, response or system text.",
    "pii_phone": "A phone number: +country code followed by 8-14 digits, or a (555) 555-5555 / "
                 "555-555-5555 style number.",
    "pii_card": "A 13-19 digit payment card number that passes the Luhn check.",
    "pii_iban": "An IBAN (country code, check digits, account) that passes the mod-97 check.",
    "pii_secret": "An API key or secret: OpenAI/Anthropic (sk-...), AWS (AKIA...), GitHub (ghp_...), "
                  "Slack (xox?-...), Google (AIza...), private-key blocks, or key=/token=/password= "
                  "assignments with a long value.",
    "encoding_garbage": "Mojibake (UTF-8 read as Latin-1: \"Ã©\", \"â€™\"), the U+FFFD replacement "
                        "character, or control characters other than tab/newline.",
    "template_artifact": "Left-over chat-template or placeholder tokens: <|im_start|>, <|endoftext|>, "
                         "[INST], <s>, {{...}}, [INSERT ...], Lorem ipsum.",
    "script_mismatch": "Prompt and response (20+ letters each) are written mainly in different scripts "
                       "(e.g. Latin vs Cyrillic vs CJK): an answer in the wrong language.",
    "mismatched_response": "The response does not answer its own prompt: its mismatch score is >= 0.45, i.e. "
                           "other prompts of the dataset fit the response, and other responses fit the "
                           "prompt, clearly better than the pair as given (rows shifted in a join, "
                           "copy-paste errors; see analysis.mismatch; needs 50+ rows with responses).",
}

RESPONSE_ROLES = frozenset({"train", "eval", "reference"})

_REFUSAL = re.compile(
    r"\b(?:as an ai(?: language model| assistant| model)?\b"
    r"|i(?: am|['’]m) (?:just )?an ai\b"
    r"|i(?:['’]m| am) sorry,? but i (?:can ?not|can['’]t|am unable|won['’]t)"
    r"|i (?:can ?not|can['’]t|am unable to|am not able to|won['’]t be able to) "
    r"(?:help|assist|provide|fulfil|comply|answer|do that|create|generate|support)"
    r"|i (?:must|have to) (?:respectfully )?decline\b)",
    re.IGNORECASE,
)
_END_OK = set(".!?…\"'”’)]}`*>;|~=")
_DANGLING = frozenset("and or but nor the a an of to with for from because than such whose whether "
                      "my your their our his its is are was were very".split())
_EMAIL = re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?!\w)"
                    r"|(?<![\w(])\(\d{3}\)\s?\d{3}[\s.-]\d{4}(?!\w)|(?<![\w-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w-])")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SECRET = re.compile(
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[baprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{35}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\b(?:api[_-]?key|secret|token|password|passwd)\b\s*[:=]\s*['\"]?[A-Za-z0-9_\-/+]{16,}",
    re.IGNORECASE,
)
_GARBAGE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]|Ã[\x80-\xbf©¨§ª«¼½¶¤]|â€[™œ\x9d”“˜¦]|Â[\xa0©®°±·»«]")
_TEMPLATE = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id)\|>"
                       r"|\[/?INST\]|</?s>|\{\{[^{}]{1,40}\}\}|\[INSERT[^\]]*\]|lorem ipsum", re.IGNORECASE)


_NON_LATIN = re.compile("[\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0900-\u0dff\u0e00-\u0e7f"
                        "\u3040-\u9fff\uac00-\ud7af]")


def _luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def _card_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn_ok(digits)


def _iban_ok(match: str) -> bool:
    s = match.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


# Each rule: (flag, gate, pattern, validator). The gate is a list of literals (searched in the
# lower-cased text) or a cheap regex; only rows that pass the gate run the full pattern.
_DIGIT_GATE = re.compile(r"[0-9]{3}(?:[-.) ] ?[0-9]|[0-9][ -]?[0-9]{4})|\+[0-9]")
_TEXT_RULES: list[tuple[str, Any, re.Pattern, Any]] = [
    ("pii_email", ["@"], _EMAIL, None),
    ("pii_phone", _DIGIT_GATE, _PHONE, None),
    ("pii_card", _DIGIT_GATE, _CARD, _card_ok),
    ("pii_iban", re.compile(r"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}"), _IBAN, _iban_ok),
    ("pii_secret", ["sk-", "akia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "aiza", "private key",
                    "api_key", "api-key", "apikey", "secret", "token", "passw"],
     _SECRET, None),
    ("encoding_garbage", re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\u00c2\u00c3\u00e2]"), _GARBAGE, None),
    ("template_artifact", ["<|", "[inst", "[/inst", "<s>", "</s>", "{{", "[insert", "lorem ipsum"], _TEMPLATE, None),
]
_REFUSAL_GATE = ["as an ai", "an ai", "sorry", "cannot", "can't", "can’t", "can not", "unable to", "not able to",
                 "decline", "won't be able", "won’t be able"]
_SEP = "\n\n"


class _Column:
    """One text column joined into a single string (and lower-cased), for fast gated scans."""

    def __init__(self, texts: Sequence[str]):
        self.texts = texts
        self.lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        self.starts = np.concatenate([[0], np.cumsum(self.lens + len(_SEP))[:-1]]).astype(np.int64)
        self.big = _SEP.join(texts)
        self._low: tuple[str, np.ndarray] | None = None
        self._gates: dict[int, np.ndarray] = {}

    def _lower(self) -> tuple[str, np.ndarray]:
        if self._low is None:
            low = [t.lower() for t in self.texts]  # per text: lower() may change a text's length
            lens = np.fromiter((len(t) for t in low), dtype=np.int64, count=len(low))
            starts = np.concatenate([[0], np.cumsum(lens + len(_SEP))[:-1]]).astype(np.int64)
            self._low = (_SEP.join(low), starts)
        return self._low

    def gate(self, gate: Any) -> np.ndarray:
        """Rows that pass ``gate`` (literal list on lower-cased text, or a regex on the original)."""
        key = id(gate)
        if key not in self._gates:
            self._gates[key] = self._gate(gate)
        return self._gates[key].copy()

    def _gate(self, gate: Any) -> np.ndarray:
        hit = np.zeros(len(self.texts), bool)
        if not len(self.texts):
            return hit
        if isinstance(gate, re.Pattern):
            pos = [m.start() for m in gate.finditer(self.big)]
            starts = self.starts
        else:
            big, starts = self._lower()
            pos = []
            for lit in gate:
                i = big.find(lit)
                while i >= 0:
                    pos.append(i)
                    row = int(np.searchsorted(starts, i, side="right"))  # next row's start
                    if row >= len(starts):
                        break
                    i = big.find(lit, int(starts[row]))
        if pos:
            hit[np.searchsorted(starts, np.asarray(pos, dtype=np.int64), side="right") - 1] = True
        return hit

    def scan(self, gate: Any, pattern: re.Pattern, validate=None) -> np.ndarray:
        hit = self.gate(gate)
        for i in np.nonzero(hit)[0]:
            ok = False
            for m in pattern.finditer(self.texts[i]):
                if validate is None or validate(m.group()):
                    ok = True
                    break
            hit[i] = ok
        return hit


def _column_flags(texts: Sequence[str], cancel: CancelToken) -> dict[str, np.ndarray]:
    col = _Column(texts)
    out = {}
    for name, gate, pattern, validate in _TEXT_RULES:
        cancel.check()
        out[name] = col.scan(gate, pattern, validate)
    return out


def _truncated(text: str) -> bool:
    if text.count("```") % 2 == 1:
        return True
    stripped = text.rstrip()
    if not stripped:
        return False
    if stripped[-1] in ",:;(-[{" and not stripped.endswith(("--", ":-)", ":)")):
        return True
    if stripped[-1] in _END_OK or stripped[-1].isdigit():
        return False
    words = stripped.split()
    return len(words) >= 4 and words[-1].lower() in _DANGLING


def _script(text: str) -> str | None:
    """'latin', 'cyrillic', 'greek', 'arabic', 'hebrew', 'cjk', 'other' for >= 20 letters, else None."""
    counts: dict[str, int] = {}
    n = 0
    for ch in text:
        if not ch.isalpha():
            continue
        n += 1
        o = ord(ch)
        if o < 0x250 or 0x1E00 <= o < 0x1F00:
            s = "latin"
        elif 0x370 <= o < 0x400:
            s = "greek"
        elif 0x400 <= o < 0x530:
            s = "cyrillic"
        elif 0x590 <= o < 0x600:
            s = "hebrew"
        elif 0x600 <= o < 0x700:
            s = "arabic"
        elif 0x3040 <= o < 0xA000 or 0xAC00 <= o < 0xD7B0:
            s = "cjk"
        else:
            s = "other"
        counts[s] = counts.get(s, 0) + 1
    if n < 20:
        return None
    return max(counts.items(), key=lambda kv: kv[1])[0]


def is_refusal(text: str) -> bool:
    """Refusal / AI-disclaimer boilerplate."""
    return _REFUSAL.search(text) is not None


def refusal_rows(texts: Sequence[str]) -> np.ndarray:
    """Bool per text: refusal boilerplate (gated column scan, fast on 100k rows)."""
    return _Column(texts).scan(_REFUSAL_GATE, _REFUSAL)


def _turn_role_content(t: Any) -> tuple[str, str]:
    if isinstance(t, (tuple, list)):
        return str(t[0]), str(t[1] or "")
    if isinstance(t, dict):
        return str(t.get("role", "")), str(t.get("content") or "")
    return t.role, t.content or ""


def _turn_flags(turns: Sequence[Any], expects_response: bool) -> list[str]:
    out = []
    pairs = [_turn_role_content(t) for t in turns]
    roles = [r for r, _ in pairs]
    error = False
    if any(r == "system" for r in roles[1:]):
        error = True
    body = [r for r in roles if r != "system"]
    if body and body[0] != "user":
        error = True
    if any(a == b for a, b in zip(body, body[1:])):
        error = True
    if expects_response and body and body[-1] != "assistant":
        error = True
    if error:
        out.append("role_error")
    if len(body) == len(set(body)):  # every role at most once: nothing can repeat
        return out
    seen = set()
    for r, c in pairs:
        if r == "system":
            continue
        key = (r, normalise(c))
        if key[1] and key in seen:
            out.append("repeated_turn")
            break
        seen.add(key)
    return out


@dataclass
class QualityFlags:
    """Per-row flags. ``flags[i]`` is a tuple of flag names (see :data:`FLAG_DEFINITIONS`)."""

    flags: list[tuple[str, ...]]
    counts: dict[str, int]
    length_stats: dict[str, float] = field(default_factory=dict)

    @property
    def n_flags(self) -> np.ndarray:
        return np.fromiter((len(f) for f in self.flags), dtype=np.int32, count=len(self.flags))

    def has(self, name: str) -> np.ndarray:
        return np.fromiter((name in f for f in self.flags), dtype=bool, count=len(self.flags))

    def with_flag(self, name: str, rows: np.ndarray) -> "QualityFlags":
        """A copy with flag ``name`` added where the bool array ``rows`` is true (a flag that a
        later analysis step decides, e.g. ``mismatched_response``)."""
        rows = np.asarray(rows, dtype=bool)
        flags = [f + (name,) if r and name not in f else f for f, r in zip(self.flags, rows)]
        counts = dict(self.counts)
        added = sum(1 for f in flags if name in f)
        if added:
            counts[name] = added
        return QualityFlags(flags, counts, dict(self.length_stats))

    def summary(self) -> dict[str, Any]:
        """JSON-able: counts per flag (most frequent first) with definitions, and the length rule."""
        return {
            "counts": [{"flag": k, "count": v, "definition": FLAG_DEFINITIONS[k]}
                       for k, v in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))],
            "length_stats": self.length_stats,
        }


def _length_bounds(responses: Sequence[str], expects: np.ndarray) -> tuple[float, float, dict[str, float]]:
    lens = np.fromiter((len(r.strip()) if r else 0 for r in responses), dtype=np.float64, count=len(responses))
    sel = lens[(lens > 0) & expects]
    if len(sel) < 20:  # too few to say what "typical" is
        return 0.0, math.inf, {}
    med = float(np.median(sel))
    lo = min(float(np.quantile(sel, 0.005)), med / 5)
    hi = max(float(np.quantile(sel, 0.995)), med * 5)
    return lo, hi, {"median_chars": round(med, 1), "short_below_chars": round(lo, 1),
                    "long_above_chars": round(hi, 1)}


def quality_flags(
    prompts: Sequence[str],
    responses: Sequence[str],
    systems: Sequence[str] | None = None,
    roles: Sequence[str] | np.ndarray | None = None,
    turns: Sequence[Sequence[Any]] | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> QualityFlags:
    """Flag every row. ``turns[i]`` (optional) is row i's turns: ``Turn`` objects, ``(role, content)``
    pairs or ``{"role", "content"}`` dicts, system turn included or not; ``None`` entries skip the
    turn checks for that row. ``roles`` defaults to all ``"train"``."""
    progress, cancel = ensure(progress, cancel)
    n = len(prompts)
    if len(responses) != n or (systems is not None and len(systems) != n) or (roles is not None and len(roles) != n):
        from workbench.core.errors import AnalysisError
        raise AnalysisError("quality flags: prompts, responses, systems and roles must have the same length")
    roles_arr = np.asarray(roles if roles is not None else ["train"] * n, dtype=object)
    expects = np.fromiter((r in RESPONSE_ROLES for r in roles_arr), dtype=bool, count=n)
    lo, hi, stats = _length_bounds(responses, expects)
    prompts = [p or "" for p in prompts]
    responses = [r or "" for r in responses]
    progress(0, n, "quality flags")
    pf = _column_flags(prompts, cancel)
    rcol = _Column(responses)
    rf = {name: rcol.scan(gate, pattern, validate) for name, gate, pattern, validate in _TEXT_RULES}
    refusal = rcol.scan(_REFUSAL_GATE, _REFUSAL)
    sf: dict[str, np.ndarray] = {}
    sys_index = None
    if systems is not None:
        uniq: dict[str, int] = {}
        sys_index = np.fromiter((uniq.setdefault(x or "", len(uniq)) for x in systems), dtype=np.int64, count=n)
        sf = {k: v[sys_index] for k, v in _column_flags(list(uniq), cancel).items()}
    text_hits = {name: pf[name] | rf[name] | (sf[name] if sf else False) for name, *_ in _TEXT_RULES}
    progress(n // 2, n, "quality flags")
    out: list[tuple[str, ...]] = []
    counts: dict[str, int] = {}
    any_text = np.zeros(n, bool)
    for name in text_hits:
        any_text |= text_hits[name]
    for i in range(n):
        if i % 8192 == 0:
            cancel.check()
        p = prompts[i]
        r = responses[i]
        f: list[str] = []
        if not p.strip():
            f.append("empty_prompt")
        exp = expects[i]
        rs = r.strip()
        if exp and not rs:
            f.append("empty_response")
        if rs:
            ln = len(rs)
            if ln < lo:
                f.append("very_short_response")
            elif ln > hi:
                f.append("very_long_response")
            if _truncated(r):
                f.append("truncated")
            if refusal[i]:
                f.append("refusal")
            lp = len(p)
            if lp and abs(ln - lp) <= 0.2 * lp + 3 and normalise(r) == normalise(p) != "":
                f.append("echoes_prompt")
            if ln >= 300:
                raw = rs.encode("utf-8", "surrogatepass")
                if len(zlib.compress(raw, 1)) < 0.2 * len(raw):
                    f.append("repetitive_response")
        if turns is not None and turns[i] is not None:
            f.extend(_turn_flags(turns[i], exp))
        if any_text[i]:
            f.extend(name for name in text_hits if text_hits[name][i])
        if rs and not (p.isascii() and r.isascii()) and (_NON_LATIN.search(p) or _NON_LATIN.search(r)):
            sp, sr = _script(p), _script(r)
            if sp and sr and sp != sr:
                f.append("script_mismatch")
        for name in f:
            counts[name] = counts.get(name, 0) + 1
        out.append(tuple(f))
    progress(n, n, "quality flags")
    return QualityFlags(out, counts, stats)
