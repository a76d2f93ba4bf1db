"""The admins' page of accounts (/espace/comptes): every account with its role and state, a
role changed, an account deactivated (its sessions end, its items stay) or reactivated, and
invitation links made (shown once; mailed too when the island sends e-mail), the pending ones
listed (role, expiry, who invited) and revoked."""

from __future__ import annotations

from aiohttp import web

from archipel import account_links, accounts, mail
from archipel.accounts import AccountRefused
from archipel.storage.tables import User
from web import appkeys, auth
from web.i18n import gettext, negotiate_language
from web.pages import page
from web.wake import mail_queued

routes = web.RouteTableDef()
PATH = "/espace/comptes"


def refusal(lang: str, reason: str) -> str:
    """The sentence a page shows for an AccountRefused."""
    messages = {
        "last admin": gettext(lang, "L'île doit garder au moins un compte admin actif."),
        "self deactivation": gettext(lang, "Vous ne pouvez pas désactiver votre propre compte."),
        "email invalid": gettext(lang, "Cette adresse e-mail n'est pas valide."),
        "email taken": gettext(lang, "Cette adresse e-mail est déjà celle d'un autre compte."),
        "password short": gettext(lang, "Le mot de passe doit compter au moins 8 caractères."),
        "password long": gettext(lang, "Ce mot de passe est trop long."),
        "passwords differ": gettext(lang, "Les deux mots de passe ne sont pas identiques."),
        "role invalid": gettext(lang, "Ce rôle n'existe pas."),
    }
    return messages.get(reason, reason)


def role_names(lang: str) -> dict[str, str]:
    return {"admin": gettext(lang, "Admin"), "moderator": gettext(lang, "Modération"),
            "author": gettext(lang, "Autrice ou auteur")}


async def _listing(request: web.Request, *, status: int = 200, error: str | None = None,
                   new_link: str | None = None, mailed_to: str = "") -> web.Response:
    lang = negotiate_language(request)
    async with request.app[appkeys.SESSIONS]() as session:
        members = await accounts.list_users(session)
        invitations = await account_links.pending_invitations(session)
    return await page(request, "members.html", status=status, members=members, roles=accounts.ROLES,
                      invitations=invitations,
                      role_names=role_names(lang), error=error, new_link=new_link, mailed_to=mailed_to,
                      can_mail=request.app[appkeys.SETTINGS].can_send_mail,
                      done=request.query.get("fait", ""))


@routes.get(PATH)
async def listing(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    return await _listing(request)


async def _change(request: web.Request, change) -> web.Response:
    me = await auth.require_user(request, "admin")
    form = await request.post()
    async with request.app[appkeys.SESSIONS]() as session:
        target = await session.get(User, int(request.match_info["user_id"]))
        if target is None:
            raise web.HTTPNotFound()
        admin = await session.get(User, me.user_id)
        try:
            done = await change(session, target, admin, form)
        except AccountRefused as refused:
            await session.rollback()
            return await _listing(request, status=409, error=refusal(negotiate_language(request), refused.reason))
        await session.commit()
        still_admin = target.id != me.user_id or (target.role == "admin" and target.active)
    # An admin who just gave up their own role no longer sees this page: back to their space.
    raise web.HTTPSeeOther(f"{PATH}?fait={done}" if still_admin else "/espace")


@routes.post(PATH + r"/{user_id:\d{1,9}}/role")
async def change_role(request: web.Request) -> web.Response:
    async def change(session, target, admin, form):
        await accounts.set_role(session, target, str(form.get("role", "")))
        return "role"
    return await _change(request, change)


@routes.post(PATH + r"/{user_id:\d{1,9}}/desactiver")
async def deactivate(request: web.Request) -> web.Response:
    async def change(session, target, admin, form):
        await accounts.set_active(session, target, False, by=admin)
        return "deactivated"
    return await _change(request, change)


@routes.post(PATH + r"/{user_id:\d{1,9}}/reactiver")
async def reactivate(request: web.Request) -> web.Response:
    async def change(session, target, admin, form):
        await accounts.set_active(session, target, True, by=admin)
        return "reactivated"
    return await _change(request, change)


def invitation_mail(lang: str, island: str, link: str) -> tuple[str, str]:
    subject = gettext(lang, "Invitation à créer un compte sur %(island)s") % {"island": island}
    body = gettext(lang, "Bonjour,\n\nVous êtes invité·e à créer un compte sur %(island)s. Ouvrez ce lien "
                         "pour choisir votre nom d'utilisateur·ice et votre mot de passe :\n\n%(link)s\n\n"
                         "Le lien ne sert qu'une fois et expire dans 7 jours.\n") % {"island": island,
                                                                                     "link": link}
    return subject, body


@routes.post(PATH + "/invitations")
async def invite(request: web.Request) -> web.Response:
    me = await auth.require_user(request, "admin")
    form = await request.post()
    settings = request.app[appkeys.SETTINGS]
    lang = negotiate_language(request)
    role = str(form.get("role", "author"))
    email = str(form.get("email", "")) if settings.can_send_mail else ""
    try:
        email = accounts.check_email(email)
        async with request.app[appkeys.SESSIONS]() as session:
            admin = await session.get(User, me.user_id)
            link = await account_links.create_invitation(session, role=role, created_by=admin)
            url = f"{settings.url}/invitation/{link.token}"
            if email:
                subject, body = invitation_mail(lang, settings.name, url)
                await mail.queue(session, to=email, subject=subject, body=body)
            await session.commit()
    except AccountRefused as refused:
        return await _listing(request, status=400, error=refusal(lang, refused.reason))
    if email:
        mail_queued(request.app)
    # Shown once, in this answer: only its hash is kept.
    response = await _listing(request, new_link=url, mailed_to=email)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post(PATH + r"/invitations/{invitation_id:\d{1,9}}/retirer")
async def revoke(request: web.Request) -> web.Response:
    await auth.require_user(request, "admin")
    async with request.app[appkeys.SESSIONS]() as session:
        revoked = await account_links.revoke_invitation(session, int(request.match_info["invitation_id"]))
        await session.commit()
    if not revoked:
        raise web.HTTPNotFound(text="no pending invitation")
    raise web.HTTPSeeOther(f"{PATH}?fait=revoked")
