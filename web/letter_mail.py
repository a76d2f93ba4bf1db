"""The letter's e-mails, in the reader's language: the confirmation of a subscription, the
reminder to an address already subscribed, and each subscriber's letter (plain text and HTML,
one-click unsubscribe headers of RFC 8058). Templates in web/templates/mail/."""

from __future__ import annotations

from dataclasses import dataclass, replace

from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import cards
from archipel.letter_issues import Letter
from archipel.storage.tables import LetterIssue, LetterSubscriber, StoredObject
from web import event_dates, i18n, words
from web.pages import page_url


@dataclass(frozen=True)
class LetterItem:
    title: str
    pitch: str
    island: str
    published: object
    cover: str | None  # absolute URL of the cover, served by the island
    link: str          # absolute URL of the item's page on the island
    language: str
    when: str = ""     # an event's dates, written out in the reader's language and its own zone
    place: str = ""    # an event's place, or « en ligne »


def links(base_url: str, token: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {"choices": f"{base}/lettre/{token}", "unsubscribe": f"{base}/lettre/{token}/desabonnement",
            "confirm": f"{base}/lettre/{token}/confirmer"}


def reader_language(subscriber: LetterSubscriber | None) -> str:
    language = subscriber.language if subscriber is not None else ""
    return language if language in i18n.LANGUAGE_NAMES else i18n.DEFAULT_LANGUAGE


def _absolute(base_url: str, url: str | None) -> str | None:
    if not url:
        return None
    return base_url.rstrip("/") + url if url.startswith("/") and not url.startswith("//") else url


async def letter_items(session: AsyncSession, base_url: str, island_name: str,
                       items: list[StoredObject]) -> list[LetterItem]:
    """What a letter shows of each item (its island by name: cards.py, a few queries in all)."""
    shown = []
    for card in await cards.cards_for(session, cards.Here(base_url, island_name), items):
        item = card.item
        pitch = (item.fields or {}).get("pitch") or item.summary or ""
        shown.append(LetterItem(item.name, str(pitch)[:500], card.island.name, item.published,
                                _absolute(base_url, card.cover), _absolute(base_url, page_url(item)) or "",
                                item.language or ""))
    return shown


async def letter_events(session: AsyncSession, base_url: str, island_name: str, events: list[StoredObject],
                        lang: str) -> list[LetterItem]:
    """What a letter shows of each event coming up: an item, with when and where."""
    shown = await letter_items(session, base_url, island_name, events)
    for position, (entry, event) in enumerate(zip(shown, events)):
        fields = event.fields or {}
        territory = fields.get("territory") or {}
        place = ", ".join(part for part in (territory.get("place"), territory.get("region")) if part)
        if not place and fields.get("online"):
            place = i18n.gettext(lang, "en ligne")
        shown[position] = replace(entry, when=event_dates.when(event, lang), place=place)
    return shown


def _of(lang: str, island_name: str) -> str:
    """« de l'Île de Brest » in French (elision), the name alone in English."""
    return words.of_name(island_name) if lang == "fr" else island_name


def _render(templates: Environment, name: str, **context) -> str:
    return templates.get_template(name).render(**context)


def issue_title(lang: str, island_name: str, issue: LetterIssue) -> str:
    year, _, week = issue.period.partition("-W")
    return i18n.gettext(lang, "La lettre %(de_nom)s, semaine %(week)s de %(year)s") % {
        "de_nom": _of(lang, island_name), "week": week.lstrip("0"), "year": year}


class LetterMail:
    def __init__(self, templates: Environment, settings):
        self.templates = templates
        self.settings = settings

    def confirmation(self, token: str, *, lang: str, already: bool) -> tuple[str, str]:
        """(subject, text) of the mail that confirms a subscription, or of the reminder to an
        address already subscribed (with the link to change its choices)."""
        name = self.settings.name
        subject = (i18n.gettext(lang, "Votre abonnement à la lettre %(de_nom)s") if already else
                   i18n.gettext(lang, "Confirmez votre abonnement à la lettre %(de_nom)s")) % {"de_nom": _of(lang, name)}
        text = _render(self.templates, "mail/letter_confirm.txt", lang=lang, island_name=name, already=already,
                       links=links(self.settings.url, token))
        return subject, text

    async def compose(self, session: AsyncSession, issue: LetterIssue, subscriber: LetterSubscriber,
                      items: list[StoredObject], events: list[StoredObject]) -> Letter:
        lang = reader_language(subscriber)
        name = self.settings.name
        context = dict(lang=lang, island_name=name, base_url=self.settings.url, issue=issue,
                       title=issue_title(lang, name, issue), editorial=issue.editorial,
                       items=await letter_items(session, self.settings.url, name, items),
                       events=await letter_events(session, self.settings.url, name, events, lang),
                       links=links(self.settings.url, subscriber.token))
        unsubscribe = context["links"]["unsubscribe"]
        return Letter(subject=context["title"], text=_render(self.templates, "mail/letter.txt", **context),
                      html=_render(self.templates, "mail/letter.html", **context),
                      headers={"List-Unsubscribe": f"<{unsubscribe}>",
                               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                               "List-Id": f"<lettre.{self.settings.host.split(':')[0] or 'localhost'}>"})
