"""Job feeds on PostgreSQL: extraction against a plain download, loading against a raw COPY.

Everything runs in one process against the local PostgreSQL (a schema of its own, dropped at the end)
and the feed simulator, and every figure is a ratio to a baseline measured in the same run:

* ``extract_vs_download``: postings/s of the extraction (client with retries, cursor guard, landing
  raw pages) / postings/s of a plain ``requests`` download of the same pages;
* ``load_vs_copy``: rows/s of normalise → validate → stage → merge into an empty core layer / rows/s of
  ``COPY … CSV`` of the same rows into an empty unlogged table (the physical limit here: after a
  checkpoint, the best of three);
* ``reload_vs_copy``: the same postings delivered again with 20 % of them changed, into a core layer
  that holds them all.

    python bench/feeds.py [--postings 1000000] [--extract 200000]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"
SINCE = datetime(2022, 11, 1, tzinfo=UTC)
UNTIL = datetime(2023, 1, 2, tzinfo=UTC)


def _plain_download(base_url: str, token: str, limit: int) -> int:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    cursor, count = None, 0
    while True:
        params = {"updated_since": SINCE.isoformat(), "updated_until": UNTIL.isoformat(), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = session.get(f"{base_url}/jobs", params=params, timeout=60).json()
        count += len(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return count


def bench_extract(sim, platforms, raw_dir: Path, postings: int) -> float:
    from recruitment_month.feeds import client

    # The platforms' politeness limit (requests per second) is policy, not overhead: lifted here so
    # that both sides pull as fast as the simulator serves.
    chosen = [
        p.model_copy(update={"rate_limit_per_second": 1e6})
        for p in platforms[: max(1, round(postings / sim.postings_per_platform))]
    ]
    start = time.perf_counter()
    plain = sum(_plain_download(sim.base_url(p.code), sim.token, p.page_size) for p in chosen)
    plain_rate = plain / (time.perf_counter() - start)
    start = time.perf_counter()
    pulled = 0
    for p in chosen:
        settings = client.ClientSettings.for_platform(p, base_url=sim.base_url(p.code), token=sim.token)
        result = client.extract(settings, SINCE, UNTIL, raw_dir / "x")
        pulled += result.items_received
    client_rate = pulled / (time.perf_counter() - start)
    print(
        f"extract: plain download {plain_rate:,.0f} postings/s, client {client_rate:,.0f} postings/s ({pulled:,} postings)"
    )
    return client_rate / plain_rate


def _land_all(sim, platforms, raw_dir: Path) -> dict[str, tuple[Path, dict]]:
    """Each platform's landed pages and the postings repeated in them, as the extract task hands them to
    the load task (which then reads the pages once)."""
    from recruitment_month.feeds import client

    landed = {}
    for p in platforms:
        p = p.model_copy(update={"rate_limit_per_second": 1e6})
        settings = client.ClientSettings.for_platform(p, base_url=sim.base_url(p.code), token=sim.token)
        result = client.extract(settings, SINCE, UNTIL, raw_dir)
        landed[p.code] = (Path(result.raw_path), result.winners)
    return landed


def _changed_copy(path: Path, target: Path, share: float = 0.2) -> int:
    """The landed pages again, with ``share`` of the postings changed (title and modification time)."""
    changed = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "rb") as src, gzip.open(target, "wb", compresslevel=1) as out:
        for n, line in enumerate(src):
            page = json.loads(line)
            for i, item in enumerate(page["data"]):
                if (n * 7919 + i) % int(1 / share) == 0:
                    for key in ("title", "job_name"):
                        if key in item and isinstance(item[key], str):
                            item[key] += "（更新）"
                    if "dateModified" in item:
                        later = datetime.fromisoformat(item["dateModified"]) + timedelta(minutes=30)
                        item["dateModified"] = later.isoformat()
                    if "update_time" in item:
                        later = datetime.fromisoformat(item["update_time"]) + timedelta(minutes=30)
                        item["update_time"] = later.strftime("%Y-%m-%d %H:%M:%S")
                    changed += 1
            out.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")
    return changed


def _load_one(url: str, code: str, path: str, winners: dict, until: datetime) -> int:
    from recruitment_month import config, warehouse
    from recruitment_month.feeds import landing, load

    warehouse._engine.cache_clear()  # a worker process opens its own connections
    platform = config.platform(code)
    items = landing.iter_item_texts(path, platform, winners=winners)
    report = load.load(warehouse.engine(url), platform, items, since=SINCE, until=until)
    return report.staged + report.quarantined


def _load_all(
    url: str, platforms, landed: dict[str, tuple[Path, dict]], until: datetime, workers: int
) -> tuple[int, str]:
    """Load every platform's landed pages, ``workers`` platforms at a time — as the DAG's mapped load
    tasks run side by side on the executor's slots: (rows, where the CPU time went)."""
    import resource
    from concurrent.futures import ProcessPoolExecutor

    busy, children, start = _busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [
            pool.submit(_load_one, url, p.code, str(landed[p.code][0]), landed[p.code][1], until)
            for p in platforms
        ]
        rows = sum(job.result() for job in jobs)
    # Where the time went (the pool's processes are reaped on leaving the block, so their CPU is counted).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    loads = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    if busy is None:
        return rows, f"    CPU: load processes {loads:.1f} core-s"
    total, wall = _busy_seconds() - busy, time.perf_counter() - start
    return rows, (
        f"    CPU: {total:.1f} core-s, the machine {total / wall / (os.cpu_count() or 1):.0%} busy; "
        f"load processes {loads:.1f}, PostgreSQL and the rest {total - loads:.1f}"
    )


def _busy_seconds() -> float | None:
    """The machine's busy CPU time so far, all cores (Linux's /proc/stat), or None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _copy_baseline(schema: str) -> float:
    import psycopg

    from recruitment_month.feeds.normalise import canonical_columns

    columns = ", ".join([*canonical_columns, "content_hash", "cluster_id"])
    with psycopg.connect(PG, autocommit=True, options=f"-csearch_path={schema}") as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy(
            f"COPY (SELECT {columns} FROM core_posting) TO STDOUT WITH (FORMAT csv)"
        ) as copy:
            for block in copy:
                buffer.write(block)
        conn.execute(
            f"CREATE UNLOGGED TABLE copy_baseline AS SELECT {columns} FROM core_posting WITH NO DATA"
        )
        data = buffer.getvalue()
        rows = conn.execute("SELECT count(*) FROM core_posting").fetchone()[0]
        # The limit, not a moment: the loads' dirty pages written out first, then the best of three.
        conn.execute("CHECKPOINT")
        times = []
        for _ in range(3):
            conn.execute("TRUNCATE copy_baseline")
            start = time.perf_counter()
            with conn.cursor().copy(f"COPY copy_baseline ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                for i in range(0, len(data), 1 << 20):
                    copy.write(data[i : i + (1 << 20)])
            times.append(time.perf_counter() - start)
    rates = sorted(rows / seconds for seconds in times)
    print(
        f"baseline: COPY CSV of {rows:,} rows into an empty unlogged table: {rates[-1]:,.0f} rows/s "
        f"(best of {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    return rates[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--extract", type=int, default=200_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="load tasks running side by side (default: the 2 cores here)"
    )
    args = parser.parse_args()

    import psycopg

    from recruitment_devkit import environment
    from recruitment_devkit.feed_simulator import FeedSimulator
    from recruitment_month import config, warehouse

    environment.apply()
    platforms = config.platforms()
    schema = f"bench_{secrets.token_hex(4)}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with (
            TemporaryDirectory() as tmp,
            FeedSimulator(postings_per_platform=-(-args.postings // len(platforms)), seed=2022) as sim,
        ):
            raw = Path(tmp)
            extract_ratio = bench_extract(sim, platforms, raw, args.extract)
            landed = _land_all(sim, platforms, raw / "landed")
            warehouse.migrate(url)
            warehouse.load_reference_data(url)

            start = time.perf_counter()
            rows, cpu = _load_all(url, platforms, landed, UNTIL, args.workers)
            load_rate = rows / (time.perf_counter() - start)
            print(
                f"(a) initial load: {rows:,} postings in {rows / load_rate:.1f} s = {load_rate:,.0f} rows/s"
            )
            print(cpu)

            changed = {
                p.code: (raw / "changed" / p.code / landed[p.code][0].name, landed[p.code][1])
                for p in platforms
            }
            n_changed = sum(_changed_copy(landed[p.code][0], changed[p.code][0]) for p in platforms)
            start = time.perf_counter()
            rows, cpu = _load_all(url, platforms, changed, UNTIL + timedelta(hours=1), args.workers)
            reload_rate = rows / (time.perf_counter() - start)
            print(
                f"(b) reload with {n_changed:,} changed: {rows:,} postings in {rows / reload_rate:.1f} s = "
                f"{reload_rate:,.0f} rows/s"
            )
            print(cpu)
            copy_rate = _copy_baseline(schema)
    finally:
        warehouse._engine.cache_clear()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    print(f"load_vs_copy: {load_rate / copy_rate:.3f}")
    print(f"reload_vs_copy: {reload_rate / copy_rate:.3f}")
    print(f"extract_vs_download: {extract_ratio:.3f}")


if __name__ == "__main__":
    main()
