"""Captions of digit images, generated in code, for `experiments.clip`
(cheat sheet 7.7.4).

A caption is a template filled with the digit's word in one language and
one case: "a photo of the digit sieben", "Handwritten SEPT", "7". Some
templates and one language are kept out of training, so that zero-shot
classification is judged on wording the text encoder never saw:

- training: the languages of `SEEN_LANGUAGES` (English, French, German,
  Spanish, Italian and the numerals) in the templates of
  `TRAIN_TEMPLATES`, each in lower case, Capitalised and UPPER case
  (the text encoder lowercases, so case teaches nothing new: it is there
  as users type);
- held out: the templates of `HELD_OUT_TEMPLATES`, and Portuguese. The
  Portuguese words are cognates of the Spanish and Italian ones ("sete"
  next to "siete" and "sette", "oito" next to "ocho" and "otto"); four of
  them are spelt exactly as a seen word of the same digit (zero, cinco,
  seis, nove), the other six (um, dois, três, quatro, sete, oito) are new
  ("três" differs from the Spanish "tres" by its accent alone).
"""

import numpy as np

WORDS = {
    "en": "zero one two three four five six seven eight nine",
    "fr": "zéro un deux trois quatre cinq six sept huit neuf",
    "de": "null eins zwei drei vier fünf sechs sieben acht neun",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve",
    "it": "zero uno due tre quattro cinque sei sette otto nove",
    "pt": "zero um dois três quatro cinco seis sete oito nove",
    "numeral": "0 1 2 3 4 5 6 7 8 9",
}
WORDS = {lang: tuple(words.split()) for lang, words in WORDS.items()}
SEEN_LANGUAGES = ("en", "fr", "de", "es", "it", "numeral")
HELD_OUT_LANGUAGES = ("pt",)
TRAIN_TEMPLATES = (
    "{w}",
    "the digit {w}",
    "a photo of the digit {w}",
    "handwritten {w}",
    "a picture of a {w}",
)
HELD_OUT_TEMPLATES = (
    "an image of the number {w}",
    "a drawing of {w}",
    "this is {w}",
)
CASES = (str.lower, str.capitalize, str.upper)

# Zero-shot prompt sets: (languages, templates). "seen" is the training
# wording; the others are held out in template, language or both.
PROMPT_SETS = {
    "seen": (SEEN_LANGUAGES, TRAIN_TEMPLATES),
    "held_out_templates": (SEEN_LANGUAGES, HELD_OUT_TEMPLATES),
    "held_out_language": (HELD_OUT_LANGUAGES, TRAIN_TEMPLATES),
    "held_out_both": (HELD_OUT_LANGUAGES, HELD_OUT_TEMPLATES),
}


def captions(digit, languages, templates, cases=(str.lower,)):
    """Every caption of `digit` in `languages` x `templates` x `cases`."""
    return [
        case(template.format(w=WORDS[lang][digit]))
        for lang in languages
        for template in templates
        for case in cases
    ]


def training_table(num_classes=10):
    """The training captions as a (num_classes, K) array of strings: row
    c holds the K = 6 languages x 5 templates x 3 cases captions of c."""
    return np.array([
        captions(c, SEEN_LANGUAGES, TRAIN_TEMPLATES, CASES)
        for c in range(num_classes)
    ])  # fmt: skip


def prompts(name, num_classes=10):
    """The prompts of one of `PROMPT_SETS`, (num_classes, K) strings."""
    languages, templates = PROMPT_SETS[name]
    return np.array(
        [captions(c, languages, templates) for c in range(num_classes)]
    )


def retrieval_pool(labels, seed):
    """One caption per label for the retrieval test: a held-out template
    in any language, Portuguese included, drawn with `seed`. Returns the
    captions and the language of each."""
    rng = np.random.default_rng(seed)
    languages = SEEN_LANGUAGES + HELD_OUT_LANGUAGES
    drawn = [
        languages[i] for i in rng.integers(len(languages), size=len(labels))
    ]
    templates = rng.integers(len(HELD_OUT_TEMPLATES), size=len(labels))
    pool = [
        captions(int(c), (lang,), (HELD_OUT_TEMPLATES[t],))[0]
        for c, lang, t in zip(labels, drawn, templates)
    ]
    return pool, drawn
