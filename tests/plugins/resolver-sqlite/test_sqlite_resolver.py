"""resolver-sqlite with real sidecars sharing one real SQLite file."""
import os
import re
import sqlite3
import time
from contextlib import closing

from harness import invoke_url, requests, wait_until


def rows(db):
    # Closed at once: a connection kept alive (by a failed attempt's traceback in wait_until) holds
    # a lock on the file that keeps sidecars from switching it to WAL.
    with closing(sqlite3.connect(db, timeout=5)) as conn:
        return conn.execute("SELECT app_id, namespace, address, last_update FROM hosts ORDER BY app_id").fetchall()


def test_two_sidecars_share_one_file_and_find_each_other(order_cart, cluster):
    order, cart = order_cart
    registered = rows(cluster.db_path)
    assert [(r[0], r[2]) for r in registered] == [("cart", f"127.0.0.1:{cart.internal_port}"),
                                                  ("order", f"127.0.0.1:{order.internal_port}")]
    with sqlite3.connect(cluster.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert requests.get(invoke_url(order, "cart", "echo"), timeout=10).status_code == 200


def test_heartbeats_keep_rows_fresh(order_cart, cluster):
    first = {r[0]: r[3] for r in rows(cluster.db_path)}
    wait_until(lambda: all(r[3] > first[r[0]] for r in rows(cluster.db_path)), timeout=5, what="heartbeats")


def test_graceful_stop_removes_the_row(order_cart, cluster):
    _, cart = order_cart
    assert cart.stop() == 0
    assert [r[0] for r in rows(cluster.db_path)] == ["order"]


def test_a_deleted_live_row_is_registered_again(order_cart, cluster):
    order, _ = order_cart
    with sqlite3.connect(cluster.db_path, timeout=5) as conn:
        conn.execute("DELETE FROM hosts WHERE app_id = 'cart'")
    wait_until(lambda: any(r[0] == "cart" for r in rows(cluster.db_path)), timeout=5, what="re-registration")
    wait_until(lambda: requests.get(invoke_url(order, "cart", "echo"), timeout=10).status_code == 200,
               timeout=5, what="calls after re-registration")


def test_expired_rows_are_removed_and_live_ones_kept(cluster):
    cluster.sidecar("order")  # runs the cleanup at start
    cart_app = cluster.app("cart")
    config = '[resolver.config]\nttl = "2s"\ncleanup_interval = "200ms"\n'
    cart = cluster.sidecar("cart", app_port=cart_app.port, config=config)
    with sqlite3.connect(cluster.db_path, timeout=5) as conn:
        conn.execute("INSERT INTO hosts VALUES ('stale', '127.0.0.1:1', 'ghost', 'default', 1000)")
    wait_until(lambda: all(r[0] != "ghost" for r in rows(cluster.db_path)), timeout=5, what="cleanup")
    # live rows survive many cleanup rounds
    first = {r[0]: r[3] for r in rows(cluster.db_path)}
    wait_until(lambda: all(r[3] > first[r[0]] + 1500 for r in rows(cluster.db_path)), timeout=10,
               what="several heartbeats")
    assert sorted(r[0] for r in rows(cluster.db_path)) == ["cart", "order"]
    assert cart.running()


def test_killed_sidecar_is_not_resolved_after_its_ttl(cluster):
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order")
    cart.kill()
    # the row stays until its heartbeat is older than the ttl (5 s), then the app is unknown
    wait_until(lambda: "couldn't find service" in requests.get(invoke_url(order, "cart", "x"), timeout=10).text,
               timeout=15, what="the dead instance to expire")


def test_a_file_that_is_not_a_database_is_a_clear_error(cluster, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not an SQLite database, just some text that is long enough" * 4)
    output, checked = cluster.refused("order", config=f'[resolver.config]\npath = "{bad}"\n')
    assert f"{bad}: file is not a database" in output
    assert f"{bad}: file is not a database" in checked


def test_many_sidecars_starting_together_share_a_new_file(cluster):
    # All open and initialise the same new file at once (WAL switch, schema creation).
    sidecars = [cluster.sidecar(f"app{i}", wait_ready=False) for i in range(6)]
    for s in sidecars:
        wait_until(lambda: "skiffd ready" in s.output() or not s.running(), what="sidecar ready")
        assert s.running(), s.output()
    assert sorted(r[0] for r in rows(cluster.db_path)) == [f"app{i}" for i in range(6)]


# ---- the file deleted or replaced under running sidecars ----
# Sidecars check the file's identity (device and inode of the path) on every heartbeat (1 s by
# default); the waits below allow several heartbeats and the ttl.

def file_fault_warning(db):
    return re.compile(rf"{re.escape(str(db))} was (deleted|replaced)")


def answers(sidecar, app):
    return requests.get(invoke_url(sidecar, app, "echo"), timeout=10).status_code == 200


def fresh_database(path):
    """A valid SQLite file as another program would create it (rollback journal, one table)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
        conn.commit()


def test_a_deleted_file_is_reported_and_created_again(cluster):
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    os.unlink(cluster.db_path)
    # Nothing else recreates the file here, so the sidecar sees it gone.
    wait_until(lambda: f"{cluster.db_path} was deleted" in cart.output(), timeout=5, what="the warning")
    wait_until(lambda: cluster.db_path.exists() and [r[0] for r in rows(cluster.db_path)] == ["cart"],
               timeout=5, what="the registration in a new file")
    assert cart.running()


def test_a_sidecar_started_after_the_file_was_deleted_finds_the_running_ones(order_cart, cluster):
    order, cart = order_cart
    os.unlink(cluster.db_path)  # the -wal and -shm files stay, as after a plain `rm nameresolution.db`
    late = cluster.sidecar("late")
    wait_until(lambda: answers(late, "cart"), timeout=10, what="calls from the new sidecar to cart")
    wait_until(lambda: answers(order, "cart"), timeout=10, what="calls from order to cart")
    for s in (cart, order):
        wait_until(lambda: file_fault_warning(cluster.db_path).search(s.output()), timeout=5,
                   what="the warning")
    wait_until(lambda: sorted(r[0] for r in rows(cluster.db_path)) == ["cart", "late", "order"], timeout=5,
               what="every sidecar registered in the file at the path")


def test_a_file_replaced_by_an_empty_database_is_reopened(order_cart, cluster):
    order, cart = order_cart
    replacement = cluster.tmp / "fresh.db"
    fresh_database(replacement)
    os.replace(replacement, cluster.db_path)
    late = cluster.sidecar("late")  # at once: before the running ones notice
    wait_until(lambda: answers(late, "cart"), timeout=10, what="calls from the new sidecar to cart")
    wait_until(lambda: answers(order, "cart"), timeout=10, what="calls from order to cart")
    for s in (cart, order):
        wait_until(lambda: f"{cluster.db_path} was replaced" in s.output(), timeout=5, what="the warning")
    # The file put there is the one in use (with its own table), not one created over it.
    with closing(sqlite3.connect(cluster.db_path, timeout=5)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'unrelated'").fetchone()
    wait_until(lambda: sorted(r[0] for r in rows(cluster.db_path)) == ["cart", "late", "order"], timeout=5,
               what="every sidecar registered in the file at the path")


def test_a_file_replaced_by_garbage_keeps_the_sidecars_serving_until_a_database_is_back(order_cart, cluster):
    order, cart = order_cart
    garbage = cluster.tmp / "garbage"
    garbage.write_bytes(b"not a database, but a text file written over it\n" * 100)
    os.replace(garbage, cluster.db_path)
    error = f"cannot reopen {cluster.db_path}: file is not a database"
    for s in (cart, order):
        wait_until(lambda: error in s.output(), timeout=5, what="the error")
    # Over several heartbeats the sidecars keep calling each other, retry the file on each one
    # and log the error once (rate-limited), not once per heartbeat.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert answers(order, "cart")
    assert cart.running() and order.running()
    assert cart.output().count(error) == 1 and order.output().count(error) == 1
    # A database put back is picked up on the next heartbeat, and a new sidecar finds the old ones.
    replacement = cluster.tmp / "fresh.db"
    fresh_database(replacement)
    os.replace(replacement, cluster.db_path)
    wait_until(lambda: sorted(r[0] for r in rows(cluster.db_path)) == ["cart", "order"], timeout=5,
               what="both sidecars registered in the file put back")
    late = cluster.sidecar("late")
    wait_until(lambda: answers(late, "cart"), timeout=10, what="calls from the new sidecar to cart")
    assert answers(order, "cart")
