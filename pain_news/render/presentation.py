"""What the templates show beyond the model's own fields: headings, the review line, the clinic's contact.

Kept out of the templates so the email, the web page and the text part say the same thing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from pain_news.config.reviewers import find_reviewer

if TYPE_CHECKING:
    from pain_news.config.reviewers import Reviewer
    from pain_news.config.settings import NewsletterSettings
    from pain_news.issue.loader import Issue, Piece

DEFAULT_CLINIC = "TriState Pain Institute"
#: After the preheader: zero-width non-joiners and spaces, so the inbox line shows nothing more
#: instead of running on into "View in browser Pain News ..." (about 90 characters' worth).
PREHEADER_FILLER = Markup("&zwnj;&nbsp;" * 90)
_EYEBROW = re.compile(r"^\s*condition\s+spotlight\s*[:\u2013\u2014-]\s*", re.I)
_SALUTATION = re.compile(r"\A\s*<p>([^<]*)</p>\s*", re.S)


@dataclass(frozen=True)
class Contact:
    """The clinic's name and phone; `tel` is the phone as a tel: URL (digits and a leading +)."""

    clinic: str
    phone: str
    tel: str


def contact(newsletter: NewsletterSettings) -> Contact:
    """The clinic's name and phone number as the templates show them."""
    phone = newsletter.phone.strip()
    return Contact(newsletter.from_name or DEFAULT_CLINIC, phone, tel_url(phone, newsletter.phone_region))


# Regions of the North American Numbering Plan whose numbers this module writes in E.164 itself.
NANP_REGIONS = frozenset({"US", "CA", "PR", "VI", "GU", "AS", "MP"})


def tel_url(phone: str, region: str = "US") -> str:
    """The phone as an E.164 tel: URL, whatever way it is written: `(555) 010-0199` → `tel:+15550100199`.

    A number with a leading + is taken as written; one without is read in `region`: the +1 plan here
    (10 digits, or 11 with the leading 1), any other country through phonenumbers (national prefix,
    country code). A number that cannot be read keeps its digits. '' when empty.
    """
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return ""
    if phone.lstrip().startswith("+"):
        return f"tel:+{digits}"
    region = region.upper()
    if region in NANP_REGIONS:
        if len(digits) == 10:
            return f"tel:+1{digits}"
        if len(digits) == 11 and digits.startswith("1"):
            return f"tel:+{digits}"
        return f"tel:{digits}"
    import phonenumbers  # lazy: ~130 ms, needed only for a clinic outside the +1 plan

    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return f"tel:{digits}"
    if not phonenumbers.is_possible_number(number):
        return f"tel:{digits}"
    return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A byline naming one of these is a group, not a person: "From the front desk team", not "By Front desk team".
TEAM_WORDS = frozenset({"team", "staff", "desk", "office", "nurses", "department", "clinicians"})


def byline(author: str) -> str:
    """An article's byline as a person would write it: `By Dr. Jane Doe`, or for a group
    `From the care team at TriState Pain Institute` / `From the front desk team`."""
    name = author.strip()
    words = name.split()
    if not words or words[0].lower() in ("by", "from"):
        return name  # already written as a byline
    if not any(word.lower().strip(".,") in TEAM_WORDS for word in words):
        return f"By {name}"
    lead, rest = words[0], name[len(words[0]) :]
    plain_word = lead[1:] == lead[1:].lower()  # "Front", "The"; not "TriState" or "ICU"
    if lead.lower() in ("the", "our", "your"):
        return f"From {lead.lower()}{rest}"
    return f"From the {lead.lower() if plain_word else lead}{rest}"


def spotlight_heading(piece: Piece) -> Markup:
    """The spotlight's title without a leading "Condition spotlight:" (the eyebrow above says so)."""
    title = str(piece.title.html)
    stripped = _EYEBROW.sub("", title)
    if stripped == title or not stripped:
        return Markup(title)
    return Markup(stripped[0].upper() + stripped[1:])


def spotlight_heading_text(piece: Piece) -> str:
    """The same heading for the plain-text part."""
    title = piece.title.text
    stripped = _EYEBROW.sub("", title)
    return stripped[0].upper() + stripped[1:] if stripped and stripped != title else title


def next_review(reviewed_on: dt.date) -> dt.date:
    """A year after the medical review (February 29 → February 28)."""
    try:
        return reviewed_on.replace(year=reviewed_on.year + 1)
    except ValueError:
        return reviewed_on.replace(year=reviewed_on.year + 1, day=28)


def review_line(piece: Piece, reviewers: tuple[Reviewer, ...] = ()) -> str:
    """ "Medically reviewed by Dr X, MD, … · reviewed November 2, 2026 · next review by November 2027".

    `reviewed_by` names a [reviewers] key: the name and credentials come from pain-news.toml. An
    unknown value is shown as written (`check` refuses it: pain_news/checks/review.py); the " · "
    keeps the credentials from running into the date.
    """
    found = find_reviewer(reviewers, piece.reviewed_by)
    who = (found.shown if found else piece.reviewed_by).strip().rstrip(".,;")
    if piece.reviewed_on is None:  # only in a forced build of a draft whose review date is still a prompt
        return f"Medically reviewed by {who} · review date not yet filled in"
    return (
        f"Medically reviewed by {who} · reviewed {piece.reviewed_on.strftime('%B %-d, %Y')}"
        f" · next review by {next_review(piece.reviewed_on).strftime('%B %Y')}"
    )


def without_salutation(intro_html: str) -> Markup:
    """The intro without an opening "Dear …," line: a public web page greets no one by name.

    A salutation is a first paragraph of at most six words that ends with a comma.
    """
    match = _SALUTATION.match(intro_html)
    if match and match.group(1).strip().endswith(",") and len(match.group(1).split()) <= 6:
        return Markup(intro_html[match.end() :])
    return Markup(intro_html)


def page_description(issue: Issue) -> str:
    """The web page's meta description: the preheader, else the subject."""
    return issue.preheader or issue.subject


def page_image(issue: Issue) -> str:
    """An absolute image URL for Open Graph (the first piece with one), or ''."""
    for piece in issue.pieces:
        if piece.image and piece.image.url.startswith(("https://", "http://")):
            return piece.image.url
    return ""


def issue_date(issue: Issue) -> str:
    """The issue's date as the header shows it ("January 1, 2027"), or "" when the title already
    names that month and year ("January 2027"): the header should not say the month twice."""
    month_year = issue.date.strftime("%B %Y").lower()
    return "" if month_year in " ".join(issue.title.lower().split()) else issue.date.strftime("%B %-d, %Y")
