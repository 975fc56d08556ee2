"""How guessable a secret chosen by a person is: words, repeats, sequences and keyboard rows.

A generated secret (`secrets.token_urlsafe(48)`, `openssl rand -base64 32`) is a run of
characters drawn at random; what a hurried operator types instead is made of words, repeats
and sequences, which a guesser tries first. `estimate` prices a value as such a guesser would:
each pattern costs a few bits, every other character the bits of the alphabet it uses, and the
cheapest reading wins. Generated values of 32 characters or more come out above 3.4 bits per
character and 110 bits; phrases, however long, below 3 bits per character (a word of six letters
costs 11 bits).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MIN_BITS = 100.0
MIN_BITS_PER_CHARACTER = 3.0
# Only the beginning is read: a long value that starts at random is random enough, and the
# search below grows with the square of the length.
ANALYSED_LENGTH = 256
MIN_PATTERN_LENGTH = 4
# A word of a few thousand common ones; a repeat names where and how long; a sequence, its
# first character, step and length.
WORD_BITS = 11.0
REPEAT_BITS = 8.0
SEQUENCE_EXTRA_BITS = 4.0
# A separator used before (the spaces or dashes between words) is nearly free.
REPEATED_SEPARATOR_BITS = 2.0

_VOWELS = frozenset("aeiouy")
# Letters that are rare in words and common in random text.
_RARE_LETTERS = frozenset("jkqvwxz")
_MAX_CONSONANTS_IN_A_ROW = 3
# Runs of letters: a lowercase run with an optional capital (camelCase splits there), or a
# run of capitals standing alone (THE-SECRET); capitals inside random text are not words.
_LETTER_RUN = re.compile(r"[A-Z]?[a-z]+|(?<![A-Za-z0-9])[A-Z]+(?![A-Za-z0-9])")
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True)
class Estimate:
    bits: float
    characters: int  # how many were read

    @property
    def bits_per_character(self) -> float:
        return self.bits / self.characters if self.characters else 0.0


@dataclass(frozen=True)
class _Pattern:
    start: int
    end: int
    bits: float


def looks_random(secret: str) -> bool:
    """Enough bits in all, and per character (words, repeats and sequences have few)."""
    found = estimate(secret)
    return found.bits >= MIN_BITS and found.bits_per_character >= MIN_BITS_PER_CHARACTER


def estimate(secret: str) -> Estimate:
    """Bits a guesser must cover to find `secret` (its first ANALYSED_LENGTH characters)."""
    text = secret[:ANALYSED_LENGTH]
    if not text:
        return Estimate(bits=0.0, characters=0)
    char_bits = _alphabet_bits(text)
    patterns = [*_words(text), *_sequences(text, char_bits), *_keyboard_runs(text, char_bits)]
    patterns += _repeats(text)
    ending_at: dict[int, list[_Pattern]] = {}
    for pattern in patterns:
        ending_at.setdefault(pattern.end, []).append(pattern)
    # cheapest[i]: the cheapest reading of text[:i].
    cheapest = [0.0] * (len(text) + 1)
    for i in range(1, len(text) + 1):
        char = text[i - 1]
        seen_separator = not char.isalnum() and char in text[: i - 1]
        cost = cheapest[i - 1] + (REPEATED_SEPARATOR_BITS if seen_separator else char_bits)
        for pattern in ending_at.get(i, ()):
            cost = min(cost, cheapest[pattern.start] + pattern.bits)
        cheapest[i] = cost
    return Estimate(bits=cheapest[-1], characters=len(text))


def _alphabet_bits(text: str) -> float:
    """Bits per character of the smallest usual alphabet that holds every character."""
    size = 0
    if any(char.islower() for char in text):
        size += 26
    if any(char.isupper() for char in text):
        size += 26
    if any(char.isdigit() for char in text):
        size += 10
    if any(not char.isalnum() for char in text):
        size += 33
    return math.log2(size)


def _words(text: str) -> list[_Pattern]:
    return [
        _Pattern(run.start(), run.end(), WORD_BITS)
        for run in _LETTER_RUN.finditer(text)
        if _reads_as_a_word(run.group().lower())
    ]


def _reads_as_a_word(letters: str) -> bool:
    """Pronounceable: vowels, short consonant clusters, at most one rare letter."""
    if len(letters) < MIN_PATTERN_LENGTH or not _VOWELS.intersection(letters):
        return False
    if sum(letter in _RARE_LETTERS for letter in letters) > 1:
        return False
    consonants = 0
    for letter in letters:
        consonants = 0 if letter in _VOWELS else consonants + 1
        if consonants > _MAX_CONSONANTS_IN_A_ROW:
            return False
    return True


def _sequences(text: str, char_bits: float) -> list[_Pattern]:
    """Runs whose characters step by -1, 0 or +1: aaaa, abcd, 4321."""
    found = []
    start = 0
    while start < len(text) - 1:
        step = ord(text[start + 1]) - ord(text[start])
        end = start + 2
        if step in (-1, 0, 1):
            while end < len(text) and ord(text[end]) - ord(text[end - 1]) == step:
                end += 1
            if end - start >= MIN_PATTERN_LENGTH:
                found.append(_Pattern(start, end, char_bits + SEQUENCE_EXTRA_BITS))
        start = end - 1
    return found


def _keyboard_runs(text: str, char_bits: float) -> list[_Pattern]:
    lowered = text.lower()
    found = []
    for row in _KEYBOARD_ROWS:
        for direction in (row, row[::-1]):
            for start in range(len(text)):
                end = start
                while end < len(text) and lowered[start : end + 1] in direction:
                    end += 1
                if end - start >= MIN_PATTERN_LENGTH:
                    found.append(_Pattern(start, end, char_bits + SEQUENCE_EXTRA_BITS))
    return found


def _repeats(text: str) -> list[_Pattern]:
    """At each position, the longest run that already occurred earlier (it may overlap)."""
    found = []
    for start in range(1, len(text)):
        length = 0
        while start + length < len(text) and text.find(text[start : start + length + 1]) < start:
            length += 1
        if length >= MIN_PATTERN_LENGTH:
            found.append(_Pattern(start, start + length, REPEAT_BITS))
    return found
