"""Portal users: sign-in upserts, roles from SSO groups, look-ups."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import User, utcnow
from app.resources import Resources
from app.services import audit
from app.settings import Settings

BASE_ROLE = "user"


@dataclass(frozen=True, slots=True)
class LoginIdentity:
    """Who the identity provider says signed in."""

    provider: str
    subject: str
    username: str
    email: str
    full_name: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)


def roles_from_groups(groups: Iterable[str], role_groups: Mapping[str, str]) -> list[str]:
    """Portal roles for a set of SSO groups; `user` is always one of them."""
    roles = {BASE_ROLE} | {role_groups[g] for g in groups if g in role_groups}
    return sorted(roles)


async def get(*, session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def sign_in(*, resources: Resources, identity: LoginIdentity) -> User:
    """Record a sign-in from any identity provider; never fails because of LiteLLM."""
    async with resources.sessions() as session:
        return await _upsert_from_login(
            session=session, settings=resources.settings, identity=identity
        )


async def _upsert_from_login(
    *, session: AsyncSession, settings: Settings, identity: LoginIdentity
) -> User:
    """Find the user by (provider, subject), else by e-mail; create or update; commit."""
    matches = (
        await session.exec(
            select(User).where(
                or_(
                    (col(User.oauth_provider) == identity.provider)
                    & (col(User.oauth_subject) == identity.subject),
                    col(User.email) == identity.email,
                )
            )
        )
    ).all()
    user = next(
        (
            u
            for u in matches
            if (u.oauth_provider, u.oauth_subject) == (identity.provider, identity.subject)
        ),
        matches[0] if matches else None,
    )
    now = utcnow()
    if user is None:
        user = User(
            username=identity.username,
            email=identity.email,
            full_name=identity.full_name,
            oauth_provider=identity.provider,
            oauth_subject=identity.subject,
            max_budget=settings.default_user_max_budget,
            tpm_limit=settings.default_user_tpm_limit,
            rpm_limit=settings.default_user_rpm_limit,
        )
        session.add(user)
    user.username = identity.username
    user.email = identity.email
    user.full_name = identity.full_name or user.full_name
    user.oauth_provider = identity.provider
    user.oauth_subject = identity.subject
    user.roles = roles_from_groups(identity.groups, settings.role_groups)
    user.last_login_at = now
    user.updated_at = now
    await session.flush()
    audit.record(
        session,
        actor_id=user.id,
        action="user.login",
        resource_type="user",
        resource_id=str(user.id),
        details={"provider": identity.provider},
    )
    await session.commit()
    return user
