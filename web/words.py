"""Words for people: what a page writes instead of a code.

States, journal actions, durations and dates are stored as codes (`accepted`, `silence_account`,
`PT3H`, `2019-03-16`); a page shows them in the reader's language through the one mapping here,
so a new code is named once and every page follows. A code nobody named yet is shown as a neutral
word (« autre » / « other »), never as itself. French typography lives here too: the no-break
space before « : ; ! ? », and elision in phrases built around a name (« de l'Île de Brest »).
Dates and durations are written by archipel/wording.py (re-exported here for the templates).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from archipel import wording
from archipel.errors import ArchipelError
from archipel.fiches import FICHE_SECTIONS, HOWTO_HEADING, LICENCES
from archipel.rendering import Wording, french_moment, render_item
from archipel.wording import FORMATS, colon, duration, iso_date, of_name, zone_place
from web import i18n


def _(message: str) -> str:
    """Marks a French phrase for the catalogue; it is translated when shown (`label`)."""
    return message


# Moderation journal (archipel/audit.py callers): what was decided.
ACTIONS = {
    "accept_proposal": _("Proposition acceptée"),
    "refuse_proposal": _("Proposition refusée"),
    "edit_proposal": _("Proposition retouchée"),
    "report_remote": _("Signalement envoyé à un autre serveur"),
    "resolve_report": _("Signalement traité"),
    "stop_deliveries": _("Livraisons arrêtées"),
    "resume_deliveries": _("Livraisons reprises"),
    "hide_reply": _("Réponse masquée"),
    "unhide_reply": _("Réponse de nouveau visible"),
    "delete_reply": _("Réponse supprimée"),
    "hide_content": _("Contenu masqué"),
    "delete_content": _("Contenu supprimé"),
    "block_account": _("Compte bloqué"),
    "block_domain": _("Serveur bloqué"),
    "silence_account": _("Compte masqué"),
    "silence_domain": _("Serveur masqué"),
    "unblock": _("Blocage levé"),
    "unsilence": _("Masquage levé"),
}

# The states people read, by what they belong to: the same code reads differently for a follow
# (« acceptée ») and a report (« traité »).
STATES = {
    "follow": {"pending": _("en attente de réponse"), "accepted": _("acceptée"), "rejected": _("refusée")},
    "proposal": {"pending": _("en attente de relecture"), "accepted": _("acceptée"), "refused": _("refusée")},
    "report": {"open": _("ouvert"), "resolved": _("traité")},
    "item": {"draft": _("Brouillon"), "proposed": _("Proposée à la relecture"), "published": _("Publiée"),
             "archived": _("Archivée")},
    "block": {"block": _("bloqué"), "silence": _("masqué")},
}
OTHER = _("autre")


# The labels archipel/rendering.py writes in an item's body, for the catalogue (a test checks that
# every one of them has its English translation).
ITEM_LABELS = (*FICHE_SECTIONS.values(), HOWTO_HEADING, _("Porteurs du projet"), _("Territoire"), _("Public"),
               _("Démarré le"), _("Format"), _("Durée"), _("Licence"), _("Objectifs pédagogiques"),
               _("Prérequis"), _("Matériel"), _("Fiches liées"), _("Fiche liée"), _("Atelier"), _("Cours"), _("Tutoriel"),
               _("Vidéo"), _("Jeu"), _("Kit"), _("Guide"), _("Autre"),
               # An event's (archipel/rendering.py _event).
               _("Le %(start)s"), _("Du %(start)s au %(end)s"), _("heure %(de_city)s"), _("Lieu"), _("En ligne"),
               _("Inscription"), _("Organisation"), _("Fiches et ressources utilisées"))


def item_wording(lang: str) -> Wording:
    """How an item's body is written for a reader of `lang` (archipel/rendering.py)."""
    return Wording(label=lambda text: i18n.gettext(lang, text), lang=lang)


BODIES_KEPT = 256
_bodies: OrderedDict[tuple[str, str, str], str] = OrderedDict()


def item_body(item, lang: str, names: dict[str, str] | None = None) -> str:
    """An item's HTML for a reader of `lang`: the stored (French) body, or the same fields rendered
    with the reader's labels. The last BODIES_KEPT are kept, keyed by the item and a digest of its
    stored body (which changes whenever its fields do), so a popular fiche renders once. `names`:
    the names of linked addresses (a resource's related fiches), written instead of the address."""
    body = _body_in(item, lang)
    for uri, name in (names or {}).items():
        link = re.compile(f'(<a href="{re.escape(html.escape(uri))}"[^>]*>)[^<]*(</a>)')
        body = link.sub(lambda match: match.group(1) + html.escape(name) + match.group(2), body)
    return body


def _body_in(item, lang: str) -> str:
    if lang == "fr" or item.kind not in ("fiche", "resource", "event"):
        return item.content or ""
    key = (item.uri, hashlib.sha256((item.content or "").encode()).hexdigest(), lang)
    body = _bodies.get(key)
    if body is None:
        body = _rendered_again(item, lang)
        _bodies[key] = body
        if len(_bodies) > BODIES_KEPT:
            _bodies.popitem(last=False)
    else:
        _bodies.move_to_end(key)
    return body


def _rendered_again(item, lang: str) -> str:
    """The body written from the item's fields with the reader's labels. An event's only when its
    stored body is this software's own French writing of them: an event from Mobilizon carries
    its organiser's HTML, which its fields (times, place, links) could not write again."""
    source, fields = item.source or "", item.fields or {}
    if item.kind == "event" and render_item("event", source, fields, item.licence) != (item.content or ""):
        return item.content or ""
    return render_item(item.kind, source, fields, item.licence, item_wording(lang))


_HTTP_STATUS = re.compile(r"HTTP (\d{3})\b")


def delivery_error(lang: str, error: str | None) -> str:
    """What went wrong with a delivery, in words (federation/delivery.py stores the technical
    form: « HTTP 503: … », « ClientConnectorError: … », « TimeoutError »)."""
    error = error or ""
    status = _HTTP_STATUS.match(error)
    if status:
        code = int(status.group(1))
        message = (_("Le serveur refuse nos envois (erreur %(status)s).") if code < 500
                   else _("Le serveur est en difficulté (erreur %(status)s)."))
        return i18n.gettext(lang, message) % {"status": code}
    if "Timeout" in error:
        return i18n.gettext(lang, _("Le serveur n'a pas répondu à temps."))
    if "Connect" in error or "DNS" in error or "gaierror" in error:
        return i18n.gettext(lang, _("Le serveur est injoignable."))
    return i18n.gettext(lang, _("L'envoi a échoué."))


def written_value(lang: str) -> Callable[[str, str], str]:
    """How a line of a revision diff (archipel/revisions.py, French labels) is written for a
    reader: a start date, a duration, a resource's format, a licence, an event's start and end."""
    def written(label: str, value: str) -> str:
        if label == "Démarrage":
            return iso_date(lang, value)
        if label == "Durée":
            return duration(lang, value)
        if label == "Format":
            return i18n.gettext(lang, FORMATS.get(value, value))
        if label == "Licence":
            return LICENCES.get(value, (value,))[0]
        if label in ("Début", "Fin"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            return french_moment(moment) if lang == "fr" else wording.moment(lang, moment)
        return value
    return written


# Errors that come from another server (federation lookups), not from the domain's rules.
UNREACHABLE = ("FetchError", "ActorError")


def failure(lang: str, error: Exception) -> str:
    """A refusal in the reader's language. A domain error (archipel/errors.py) carries a French
    template that is a message of the catalogue, and its values: the template is translated, then
    filled in; a value that is itself a domain error (a wrapped cause) is translated the same way."""
    if type(error).__name__ in UNREACHABLE:
        return i18n.gettext(lang, _("Ce compte est introuvable, ou son serveur ne répond pas : vérifiez l'adresse."))
    if isinstance(error, ArchipelError) and error.message:
        text = i18n.gettext(lang, error.message)
        if not error.params:
            return text
        return text % {name: failure(lang, value) if isinstance(value, ArchipelError) else value
                       for name, value in error.params.items()}
    return i18n.gettext(lang, _("Ce n'est pas possible : vérifiez ce que vous avez saisi."))


def action_label(lang: str, action: str) -> str:
    return i18n.gettext(lang, ACTIONS.get(action, OTHER))


def state_label(lang: str, of: str, state: str | None) -> str:
    return i18n.gettext(lang, STATES.get(of, {}).get(state or "", OTHER))


def quoted(lang: str, text: str) -> str:
    return f"«\u00a0{text}\u00a0»" if lang == "fr" else f"“{text}”"


__all__ = ["ACTIONS", "ITEM_LABELS", "STATES", "action_label", "colon", "duration", "item_wording", "iso_date",
           "delivery_error", "failure", "item_body", "of_name", "quoted", "state_label", "zone_place"]
