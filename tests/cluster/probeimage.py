"""A tiny test image (``probe``: idle, DNS lookup, file write, HTTP serve/get) built from the Go
source beside this file, tagged by a digest of it."""

from __future__ import annotations

from pathlib import Path

from helm_mgmt.localcluster.imagearchive import GoBinaryImage

PROBE = GoBinaryImage("probe", Path(__file__).with_name("probe"))
IMAGE = PROBE.reference
archive = PROBE.archive
