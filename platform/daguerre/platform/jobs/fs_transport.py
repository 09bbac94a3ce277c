"""kombu's filesystem transport, with messages that appear atomically.

kombu 5.7's filesystem ``_put`` creates the message file and then writes it, and ``_get`` moves
any ``*.msg`` file it lists: a consumer that lists the folder between the two moves an empty file
away, fails to decode it, and the message is lost (seen here: about one job in a few hundred never
ran). This subclass writes each message to a temporary name and renames it into place, and takes a
message by renaming it into the processed folder of the same broker directory (atomic on one
filesystem, so two workers can never both take it), then reads and deletes it.

Selected by :mod:`.celery_app` for ``filesystem://`` broker URLs.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # noqa: ANN001, ANN202 - kombu's signature
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        tmp = final + ".tmp"  # ignored by readers: its suffix is not ".msg"
        try:
            with open(tmp, "wb") as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):  # noqa: ANN001, ANN202 - kombu's signature
        wanted = f"{queue}.msg"
        processed = self.processed_folder
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = os.path.join(processed, f"{os.getpid()}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another consumer took it first
            try:
                with open(taken, "rb") as fh:
                    payload = fh.read()
                os.remove(taken)
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


# Longest one wait for a message lasts. Celery's solo-pool loop waits 2 s per cycle and checks for
# a shutdown only between cycles, once more after the one that saw it: a stopping worker took 4 s
# to notice. With short waits it notices within about half a second.
DRAIN_SLICE_SECONDS = 0.25


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection, timeout=None):  # noqa: ANN001, ANN201 - kombu's signature
        if timeout is not None and timeout > DRAIN_SLICE_SECONDS:  # None: block, as asked
            timeout = DRAIN_SLICE_SECONDS
        return super().drain_events(connection, timeout=timeout)
