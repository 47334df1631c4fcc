"""Application write traffic on the production endpoint, surviving switchovers like an app.

Each worker inserts customers and orders, updates and deletes orders through
the cluster endpoint as the DML-only ``app`` user. When the endpoint refuses or
drops it (a switchover's write block, ``read_only`` during the fence), the
worker reconnects and retries with a short backoff, as a well-behaved
application does. Randomness is seeded, so a run's mix of operations repeats.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pymysql


@dataclass
class TrafficStats:
    committed: int = 0
    retried: int = 0


class TrafficGenerator:
    def __init__(self, connect: Callable[[], pymysql.Connection], workers: int = 2,
                 ops_per_second: float = 40, seed: int = 7) -> None:
        self._connect = connect
        self._interval = workers / ops_per_second
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.stats = TrafficStats()
        self._threads = [threading.Thread(target=self._work, args=(random.Random(seed + n),),
                                          name=f"traffic-{n}", daemon=True) for n in range(workers)]

    def start(self) -> TrafficGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> TrafficStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.stats

    def _work(self, rng: random.Random) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                conn = conn or self._connect()
                with conn.cursor() as cur:
                    self._one_operation(cur, rng)
                with self._lock:
                    self.stats.committed += 1
                self._stop.wait(self._interval)
            except pymysql.err.MySQLError:
                with self._lock:
                    self.stats.retried += 1
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(0.05 + rng.random() * 0.1)
        if conn is not None:
            conn.close()

    @staticmethod
    def _one_operation(cur, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.15:
            cur.execute("INSERT INTO customers (name, email) VALUES (%s, %s)",
                        (f"customer-{rng.randrange(10**9)}", None if rng.random() < 0.2 else "c@example.com"))
        elif roll < 0.6:
            cur.execute("INSERT INTO orders (customer_id, amount, status, note) VALUES (%s, %s, 'new', %s)",
                        (rng.randrange(1, 200), round(rng.uniform(1, 500), 2),
                         None if rng.random() < 0.5 else "gift wrap"))
        elif roll < 0.9:
            cur.execute("UPDATE orders SET status = %s, updated_at = NOW(6) WHERE id = %s",
                        (rng.choice(["paid", "shipped", "refunded"]), _recent_id(cur, rng)))
        else:
            cur.execute("DELETE FROM orders WHERE id = %s", (_recent_id(cur, rng),))


def _recent_id(cur, rng: random.Random) -> int:
    cur.execute("SELECT COALESCE(MAX(id), 1) FROM orders")
    (top,) = cur.fetchone()
    return max(1, int(top) - rng.randrange(50))


def seed_rows(conn: pymysql.Connection, customers: int = 200, orders: int = 1000) -> None:
    """The rows production already has before a rehearsal starts."""
    rng = random.Random(1)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO customers (name, email) VALUES (%s, %s)",
                        [(f"seed-{n}", None if n % 7 == 0 else f"seed-{n}@example.com") for n in range(customers)])
        cur.executemany("INSERT INTO orders (customer_id, amount, status, note) VALUES (%s, %s, %s, %s)",
                        [(rng.randrange(1, customers), round(rng.uniform(1, 500), 2), "new",
                          None if n % 3 else "seeded") for n in range(orders)])

