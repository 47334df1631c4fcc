"""The reconciliation's two sides on an estate, for tests: the source as the DMS user through the production
endpoint, the warehouse as its owner."""

from __future__ import annotations

import pymysql

from cdc_runbooks.reconcile.compared_table import Side
from cdc_runbooks.reconcile.row_checksum import Dialect
from rehearsal.net import LOOPBACK


def sides(estate) -> tuple[Side, Side]:
    def source(sql, params=None):
        with pymysql.connect(host=LOOPBACK, port=estate.source.prod_endpoint.port, user=estate.source.dms.user,
                             password=estate.source.dms.password, charset="utf8mb4") as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    return Side(Dialect.MYSQL, "shop", source), Side(Dialect.POSTGRES, "shop", estate.warehouse.query)
