"""Subscriptions to the island's letter, without an account: an address and its choices (themes,
a territory — a commune and a radius, or regions —, a language, weekly or monthly).

Double opt-in: a subscription counts once its confirmation link was opened; unconfirmed ones
expire. The random token of a subscription is the proof in every link of its letters (confirm,
change the choices, unsubscribe); unsubscribing deletes the row. Addresses are never federated,
shown, exported nor logged: nothing here logs, and no page ever prints one.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from archipel import communes
from archipel.errors import InvalidInput
from archipel.queue_states import MailStates
from archipel.storage.tables import LetterDelivery, LetterSubscriber, OutgoingMail, utcnow
from archipel.themes import theme_key

FREQUENCIES = ("weekly", "monthly")
MAX_EMAIL = 254
MAX_THEMES = 20
MAX_RADIUS_KM = 1000
UNCONFIRMED_LIFETIME = timedelta(days=2)
EXPIRE_BATCH = 500
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,64}"
_EMAIL = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+$")


class SubscriptionRefused(InvalidInput):
    """A choice that cannot be kept; `reason` names which (the page says it in words)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Choices:
    themes: tuple[str, ...] = ()        # theme keys; none: every theme
    regions: tuple[str, ...] = ()       # region names; none: the place and radius, or everywhere
    place: str = ""                     # a commune's name
    latitude: float | None = None
    longitude: float | None = None
    radius_km: int = 0
    language: str = ""                  # "": every language
    frequency: str = "weekly"

    @classmethod
    def of(cls, subscriber: LetterSubscriber) -> Choices:
        return cls(themes=tuple(subscriber.themes or ()), regions=tuple(subscriber.regions or ()),
                   place=subscriber.place, latitude=subscriber.latitude, longitude=subscriber.longitude,
                   radius_km=subscriber.radius_km, language=subscriber.language, frequency=subscriber.frequency)


def check_email(value: str) -> str:
    address = value.strip()
    if not address or len(address) > MAX_EMAIL or not address.isprintable() or not _EMAIL.match(address):
        raise SubscriptionRefused("email")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _place(text: str) -> communes.Commune:
    """The commune typed: the biggest one spelled exactly so, else the biggest whose name starts so."""
    found = communes.lookup(text, limit=50)
    wanted = communes.fold(text)
    exact = [commune for commune in found if communes.fold(commune.name) == wanted]
    if not (exact or found):
        raise SubscriptionRefused("place")
    return (exact or found)[0]


def check_choices(*, languages, themes=(), regions=(), place: str = "", radius: str = "", language: str = "",
                  frequency: str = "weekly") -> Choices:
    """The choices of the form, checked and bounded; unknown themes are only keys (they match
    nothing until an item has them), regions and languages (among `languages`, the codes the
    item form offers) outside the lists are refused."""
    keys = tuple(dict.fromkeys(key for key in (theme_key(str(t))[:100] for t in themes) if key))
    if len(keys) > MAX_THEMES:
        raise SubscriptionRefused("themes")
    known = set(communes.regions())
    chosen_regions = tuple(dict.fromkeys(str(r) for r in regions if str(r)))
    if any(region not in known for region in chosen_regions):
        raise SubscriptionRefused("regions")
    if language and language not in languages:
        raise SubscriptionRefused("language")
    if frequency not in FREQUENCIES:
        raise SubscriptionRefused("frequency")
    place = " ".join(str(place).split())[:communes.MAX_QUERY]
    radius = str(radius).strip()
    if not place:
        return Choices(themes=keys, regions=chosen_regions, language=language, frequency=frequency)
    if not radius.isascii() or not radius.isdigit() or not 1 <= int(radius) <= MAX_RADIUS_KM:
        raise SubscriptionRefused("radius")
    commune = _place(place)
    return Choices(themes=keys, regions=chosen_regions, place=commune.name, latitude=commune.lat,
                   longitude=commune.lon, radius_km=int(radius), language=language, frequency=frequency)


def _apply(subscriber: LetterSubscriber, choices: Choices) -> None:
    subscriber.themes, subscriber.regions = list(choices.themes), list(choices.regions)
    subscriber.place, subscriber.latitude, subscriber.longitude = choices.place, choices.latitude, choices.longitude
    subscriber.radius_km, subscriber.language, subscriber.frequency = choices.radius_km, choices.language, choices.frequency


@dataclass(frozen=True)
class Subscribed:
    """What to mail after a subscription: a confirmation link (new or unconfirmed) or, for an
    address already confirmed, a reminder with the link to change its choices (the page says the
    same either way: nobody learns from it whether an address is subscribed)."""
    token: str
    already_confirmed: bool


async def subscribe(session: AsyncSession, email: str, choices: Choices) -> Subscribed:
    subscriber = await session.scalar(select(LetterSubscriber).where(LetterSubscriber.email == email))
    if subscriber is not None and subscriber.confirmed_at is not None:
        return Subscribed(subscriber.token, True)  # its choices change only through its own link
    if subscriber is None:
        subscriber = LetterSubscriber(email=email, token=secrets.token_urlsafe(32), created_at=utcnow())
        session.add(subscriber)
    subscriber.created_at = utcnow()  # a new confirmation link: a new delay before expiry
    _apply(subscriber, choices)
    await session.flush()
    return Subscribed(subscriber.token, False)


async def by_token(session: AsyncSession, token: str) -> LetterSubscriber | None:
    if not re.fullmatch(TOKEN_PATTERN, token or ""):
        return None
    subscriber = await session.scalar(select(LetterSubscriber).where(LetterSubscriber.token == token))
    if subscriber is not None and subscriber.confirmed_at is None and expired(subscriber):
        return None
    return subscriber


def expired(subscriber: LetterSubscriber) -> bool:
    return subscriber.confirmed_at is None and subscriber.created_at <= utcnow() - UNCONFIRMED_LIFETIME


async def confirm(session: AsyncSession, token: str) -> LetterSubscriber | None:
    subscriber = await by_token(session, token)
    if subscriber is not None and subscriber.confirmed_at is None:
        subscriber.confirmed_at = utcnow()
    return subscriber


async def change(session: AsyncSession, token: str, choices: Choices) -> LetterSubscriber | None:
    subscriber = await by_token(session, token)
    if subscriber is not None:
        _apply(subscriber, choices)
        subscriber.confirmed_at = subscriber.confirmed_at or utcnow()  # its link came by mail: it is theirs
    return subscriber


async def unsubscribe(session: AsyncSession, token: str) -> bool:
    """Delete the address (its letters' rows go with it). True if there was one."""
    if not re.fullmatch(TOKEN_PATTERN, token or ""):
        return False
    subscriber_id = await session.scalar(select(LetterSubscriber.id).where(LetterSubscriber.token == token))
    if subscriber_id is None:
        return False
    # Its letters not sent yet go too: the address must not outlive the subscription in the queue.
    letters = select(LetterDelivery.mail_id).where(LetterDelivery.subscriber_id == subscriber_id,
                                                   LetterDelivery.mail_id.is_not(None))
    await session.execute(delete(OutgoingMail).where(OutgoingMail.id.in_(letters),
                                                     OutgoingMail.state == MailStates.PENDING))
    await session.execute(delete(LetterSubscriber).where(LetterSubscriber.id == subscriber_id))
    return True


async def expire_unconfirmed(session: AsyncSession) -> int:
    """Delete a batch of subscriptions never confirmed in time; returns how many."""
    ids = list(await session.scalars(
        select(LetterSubscriber.id).where(LetterSubscriber.confirmed_at.is_(None),
                                          LetterSubscriber.created_at <= utcnow() - UNCONFIRMED_LIFETIME)
        .limit(EXPIRE_BATCH)))
    if ids:
        await session.execute(delete(LetterSubscriber).where(LetterSubscriber.id.in_(ids),
                                                             LetterSubscriber.confirmed_at.is_(None)))
    return len(ids)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))
