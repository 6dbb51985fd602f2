"""Your own site through Micropub: a bookmark with your comment.

Not retry-safe: Micropub has no idempotency key, so a send cut off mid-way is
failed with a note to check the site rather than risk a second post.
"""

from __future__ import annotations

from typing import ClassVar

from veille.clients.errors import RemoteError
from veille.clients.micropub import post_bookmark
from veille.domain.share import Delivery, Share
from veille.render.hygiene import clean_line, clean_text
from veille.share.destinations.base import BaseDestination, SendContext, SendResult


class MicropubDestination(BaseDestination):
    kind: ClassVar[str] = "micropub"
    retry_safe: ClassVar[bool] = False

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        token = self.secret(ctx, "token")
        try:
            location = await post_bookmark(
                self.account.endpoint,
                token,
                url=share.link,
                comment=clean_text(share.comment, strip_bom=True).strip(),
                title=clean_line(share.title, strip_bom=True),
                categories=[t.lstrip("#") for t in share.hashtags],
            )
        except RemoteError as exc:
            if "update the account's endpoint" in exc.message:
                exc.message = exc.message.replace(
                    "update the account's endpoint",
                    f"update `endpoint` in [accounts.{self.account.name}] of config.toml",
                )
                exc.args = (exc.message,)
            raise
        return SendResult(location or None)
