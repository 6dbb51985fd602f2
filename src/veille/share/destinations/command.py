"""Any program: it reads the share as JSON on stdin; a URL it prints is the post's.

Not retry-safe: veille cannot know what a command did before it was cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from typing import ClassVar

from veille.clients.errors import RemoteError
from veille.domain.share import Delivery, Share
from veille.net.httputil import clean_message
from veille.share.destinations.base import BaseDestination, SendContext, SendResult
from veille.util.urls import is_safe_link

COMMAND_TIMEOUT = 60.0


def share_json(share: Share, delivery: Delivery) -> bytes:
    """What a command destination reads on stdin."""
    data = share.to_dict()
    data.pop("deliveries", None)
    data["destination"] = delivery.destination
    data["text"] = delivery.text
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


class CommandDestination(BaseDestination):
    kind: ClassVar[str] = "command"
    retry_safe: ClassVar[bool] = False

    async def send(self, delivery: Delivery, share: Share, ctx: SendContext) -> SendResult:
        argv = shlex.split(self.account.command)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise RemoteError(
                f"cannot run {argv[0]!r}: {exc.strerror or exc}", permanent=True
            ) from None
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(share_json(share, delivery)), COMMAND_TIMEOUT
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise RemoteError(
                f"the command took more than {COMMAND_TIMEOUT:.0f} s and was stopped",
                permanent=True,
            ) from None
        if proc.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            reason = clean_message(ctx.redact(lines[-1])) if lines else "no message"
            raise RemoteError(
                f"the command exited with status {proc.returncode}: {reason}", permanent=True
            )
        for line in out.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if is_safe_link(line):
                return SendResult(clean_message(line))
        return SendResult(None)
