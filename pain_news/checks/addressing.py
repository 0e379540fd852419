"""What the subject and preheader say to the reader: never their health ("your sciatica", "your pain").

A lock screen, a shared inbox or a family computer shows these lines to anyone nearby; written
about the reader, they tell that person the reader has a condition. Written about the topic they
say the same to the reader and nothing about them ("Sciatica: what helps"). A warning whatever
the audience (docs/checks.md, `addresses-health`).
"""

from __future__ import annotations

import re

from pain_news.checks import CheckInput, Finding, warning
from pain_news.issue.model import line_containing, line_of_key

# Words naming a condition, a body part in pain or its care, after "your" (English) or "tu/su" (Spanish).
HEALTH_WORDS = {
    "en": frozenset(
        "pain pains ache aches sciatica arthritis migraine migraines headache headaches neuropathy "
        "fibromyalgia condition conditions diagnosis symptoms symptom injury injuries surgery "
        "operation spine back neck knee knees hip hips joints disc discs nerve nerves treatment "
        "treatments medication medications medicine prescription prescriptions flare flare-ups "
        "flare-up recovery illness disease".split()
    ),
    "es": frozenset(
        "dolor dolores ciática artritis migraña migrañas neuropatía fibromialgia afección "
        "enfermedad diagnóstico síntomas lesión lesiones cirugía operación columna espalda cuello "
        "rodilla rodillas cadera articulaciones disco nervio tratamiento medicación medicamentos "
        "receta recuperación".split()
    ),
}
POSSESSIVES = {"en": frozenset({"your"}), "es": frozenset({"tu", "tus", "su", "sus"})}
# Words that end the phrase after "your": "your guide to pain relief" is about pain, not the reader's.
STOP = frozenset(
    "to for of about on in with at from and or the a an as by para de del sobre con y o la el".split()
)
LOOK_AHEAD = 3  # "your lower back pain": the health word may follow a few describing words
_WORD = re.compile(r"[\w'-]+")
HINT = "write about the topic, not the reader: 'Sciatica: what helps', not 'your sciatica' (a lock screen shows this line)"


def health_phrases(text: str, language: str) -> list[str]:
    """The phrases in `text` that name the reader's own health ("your sciatica"), in order."""
    words = _WORD.findall(text)
    lowered = [w.lower() for w in words]
    health = HEALTH_WORDS.get(language, HEALTH_WORDS["en"])
    mine = POSSESSIVES.get(language, POSSESSIVES["en"])
    found = []
    for at, word in enumerate(lowered):
        if word not in mine:
            continue
        for ahead in range(at + 1, min(at + 1 + LOOK_AHEAD, len(words))):
            if lowered[ahead] in STOP:
                break
            if lowered[ahead] in health:
                end = ahead + 1
                while end < len(words) and lowered[end] in health:  # "your back pain", not "your back"
                    end += 1
                found.append(" ".join(words[at:end]))
                break
    return found


def check_addressing(data: CheckInput) -> list[Finding]:
    """A subject or preheader (of any edition) that addresses the reader's health directly."""
    issue, text, path = data.loaded.issue, data.loaded.toml_text, data.loaded.toml_path
    if issue is None:
        return []
    findings = []
    for edition in issue.all_editions:
        for key, value in (("subject", edition.subject), ("preheader", edition.preheader)):
            phrases = health_phrases(value, edition.language)
            if not phrases:
                continue
            line = line_of_key(text, key) if edition is issue else line_containing(text, value)
            said = ", ".join(repr(p) for p in phrases)
            where = key if edition is issue else f"{key} of the {edition.language} edition"
            findings.append(
                warning(
                    "addresses-health",
                    f"the {where} addresses the reader's health directly ({said}): anyone who sees the inbox reads it",
                    path,
                    line,
                    HINT,
                )
            )
    return findings
