"""gcp-storage-emulator with GCS's `objects.move` (moveTo) route, which it lacks.

gcsfs moves an object with `moveTo` first; the emulator answers 501, which gcsfs retries with
backoff for about half a minute before it falls back to copy and delete. Every published output
of a run is one move, so a single `kedro run --env cloud` spent minutes waiting. Here a move is
the emulator's own copy followed by its own delete, within one bucket as in GCS.

    python tests/emulators/gcs_emulator.py start --host 127.0.0.1 --port N --in-memory ...
"""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any

from gcp_storage_emulator import server, settings
from gcp_storage_emulator.__main__ import main
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects

MOVE_ROUTE = (
    rf"^{settings.API_ENDPOINT}/b/(?P<bucket_name>[-.\w]+)/o/(?P<object_id>.*[^/]+)/moveTo/o/"
    r"(?P<dest_object_id>.*[^/]+)$"
)


def move(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> None:
    """POST .../o/{source}/moveTo/o/{destination}: the destination's resource, source gone."""
    bucket, source = request.params["bucket_name"], request.params["object_id"]
    try:
        moved = objects._copy(
            request.base_url, storage, bucket, source, bucket, request.params["dest_object_id"]
        )
    except NotFound:
        response.status = HTTPStatus.NOT_FOUND
        return
    objects._delete(storage, bucket, source)
    response.json(moved)


# More specific than the generic object route, so it goes first.
server.HANDLERS = ((MOVE_ROUTE, {server.POST: move}), *server.HANDLERS)

if __name__ == "__main__":
    sys.exit(main())
