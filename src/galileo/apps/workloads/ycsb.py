"""``ycsb``: a YCSB-A/B-like read/update mix against a built-in record cache.

The cache holds ``RECORDS`` records ``user<i>``, each ``FIELDS`` fields of ``FIELD_BYTES`` bytes
(1 KiB, as YCSB's defaults), generated at start-up. ``POST /ycsb/a`` or ``/ycsb/b`` with an
optional body ``{"ops": n}`` (default 1000) runs ``n`` operations on zipfian-chosen keys: workload
A is 50 % reads / 50 % updates, B is 95 % / 5 %. A read touches every field of the record; an
update replaces one field. Answers ``{"ops", "reads", "updates", "bytes"}``. Resource signature:
cache-bound (random access over ~60 MiB of small objects; little arithmetic).
"""

from __future__ import annotations

import itertools
from typing import Final

import msgspec

from galileo.apps.http import Handler, Request, Response, error_response, json_response
from galileo.apps.router import Router

RECORDS: Final = 50_000
FIELDS: Final = 10
FIELD_BYTES: Final = 100
ZIPF_THETA: Final = 0.99
DEFAULT_OPS: Final = 1000
MAX_OPS: Final = 10_000
READ_SHARE: Final = {"a": 0.5, "b": 0.95}
_PLAN_LEN: Final = 1 << 18


class Ops(msgspec.Struct, forbid_unknown_fields=True):
    ops: int = DEFAULT_OPS


_decode = msgspec.json.Decoder(Ops).decode


class Cache:
    """Records plus a precomputed zipfian key sequence and read/update coin flips."""

    def __init__(self, records: int = RECORDS, seed: int = 2) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        blob = rng.bytes(FIELDS * FIELD_BYTES + records)
        self.records: dict[str, list[bytes]] = {
            f"user{i}": [blob[i + f * FIELD_BYTES:i + (f + 1) * FIELD_BYTES] for f in range(FIELDS)]
            for i in range(records)}
        weights = 1.0 / np.arange(1, records + 1) ** ZIPF_THETA
        order = rng.permutation(records)  # hot keys spread over the key space, as YCSB hashes
        picks = rng.choice(records, size=_PLAN_LEN, p=weights / weights.sum())
        self.keys = [f"user{order[k]}" for k in picks.tolist()]
        self.coins = rng.random(_PLAN_LEN).tolist()
        self.fields = rng.integers(0, FIELDS, _PLAN_LEN).tolist()
        self.new_value = rng.bytes(FIELD_BYTES)
        self._pos = itertools.count()

    def run(self, workload: str, ops: int) -> dict[str, int]:
        """Execute ``ops`` operations of ``workload`` (``a`` or ``b``)."""
        read_share = READ_SHARE[workload]
        reads = nbytes = 0
        records, keys, coins, fields = self.records, self.keys, self.coins, self.fields
        for _ in range(ops):
            i = next(self._pos) % _PLAN_LEN
            record = records[keys[i]]
            if coins[i] < read_share:
                nbytes += len(b"".join(record))
                reads += 1
            else:
                record[fields[i]] = self.new_value
        return {"ops": ops, "reads": reads, "updates": ops - reads, "bytes": nbytes}


def make_handler(cache: Cache, workload: str) -> Handler:
    async def handler(req: Request) -> Response:
        try:
            ops = _decode(req.body).ops if req.body else DEFAULT_OPS
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            return error_response(400, f'invalid ycsb request (expected {{"ops": n}}): {e}.')
        if not 1 <= ops <= MAX_OPS:
            return error_response(400, f'"ops" must be between 1 and {MAX_OPS}.')
        return json_response(cache.run(workload, ops))

    return handler


def install(router: Router) -> None:
    """Build the cache (~1 s) and add ``POST /ycsb/a`` and ``POST /ycsb/b``."""
    cache = Cache()
    for workload in READ_SHARE:
        router.post(f"/ycsb/{workload}", make_handler(cache, workload))
