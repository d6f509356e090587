"""
### Partner platform job feeds

Pulls the job postings of the 12 partner recruitment platforms for each data interval, lands the raw
pages, normalises them to the canonical posting, validates, and merges them into the warehouse; links
the same job seen on several platforms (deterministic cluster at load, fuzzy links across platforms).

| | |
|---|---|
| **Owner** | data-engineering |
| **Schedule** | hourly, on data intervals (`[start, end)` of each hour, UTC; Beijing = UTC+8) |
| **Inputs** | each platform's feed (`include/config/platforms.yaml`; base URL in the entry; connection `feed_<code>`: password = bearer token, an optional host overrides the base URL) |
| **Outputs** | raw pages `<data>/raw/feeds/<platform>/<interval>.jsonl.gz`; `stg_posting`, `stg_posting_seen`, `core_posting`, `core_posting_seen`, `core_posting_version`, `core_posting_link`, `audit_feed_quarantine`, `audit_quality_run`, `audit_load`; the Asset `job_postings` |

**Tasks.** `platforms` lists the configured platforms; `extract` (mapped, one per platform, labelled by
platform code) pulls `updated_since`/`updated_until` = the data interval with retries that honour
`Retry-After`, and lands every page unchanged before anything else; `load` (mapped) normalises,
validates (`include/expectations/job_posting.json`), stages (COPY on PostgreSQL) and merges set-based
(an item identical to the one a posting was last delivered as only moves when it was seen);
`link` recomputes the fuzzy links between deterministic clusters (`feeds/linkage.py`: same employer and
province, different platforms, similar title, agreeing city, salary, education, employment type and
openings) for the postings the loads touched and everything sharing an employer block or a match group
with them, into `core_posting_link` (the param `relink` rebuilds every link);
`report` logs each platform's received / new / updated / unchanged / quarantined counts and duplicate
rate (by match group: the fuzzy link, else the cluster) and the link counts, and emits the Asset.

**Rerun.** Clear any task instance (one platform) or the whole run: the interval is pulled and merged
again and the warehouse ends as after one run. A manual run can pull any window with the params `since`
and `until` (ISO-8601) — the first pull of a new deployment, for instance. No catch-up of missed runs is
needed: a scheduled pull starts where the platform's last load ended when that is earlier than its
interval (the scheduler was down), so no posting modified in between is skipped. Clearing `link`
recomputes the same links; a run with `relink` = true rebuilds them all (after a change to the matching
rules), giving what the incremental runs gave.

**When it fails.** `extract[<platform>]`: the platform kept failing after the retries (5xx, 429, timeouts,
a page that is not the API) — the log names the URL (never the token) and the last error; check the
platform's status and its connection, then clear the task. A `FeedLimitError` names the limit a
platform went past (`limits.*` in `include/config/platforms.yaml`: page bytes as received or inflated,
request deadline, extraction budget); nothing is landed and the next run pulls the window again — check
the platform, or raise that limit for it. `load`: the warehouse refused (check
`warehouse`) — the raw pages are already landed, so clearing `load` alone suffices. A `FeedShapeError`
(most of the load quarantined: postings without id, title, employer or modification time) names the
rule and sample ids; see `audit_feed_quarantine`, fix the `field_map` or tell the platform. `link`: the
warehouse refused (it is one transaction: nothing is half written) — the postings are loaded, the reports
count by the previous links meanwhile; clear `link` (it recomputes what this run's loads touched, and
whatever earlier failed runs left unlinked whose cluster changed).
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from recruitment_month.assets import POSTINGS
from recruitment_month.dag_defaults import DEFAULT_ARGS
from recruitment_month.tags import Tag


def _all(loads) -> list[dict]:
    """Every mapped load's result in one request: a slice, where iterating the lazy sequence would ask
    for one item past its end (logged by the task SDK as an error) to learn it has ended."""
    return list(loads[:])


@dag(
    dag_id="job_feeds",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2022, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=[Tag.FEEDS, Tag.QUALITY, Tag.WAREHOUSE],
    doc_md=__doc__,
    params={
        "since": Param(
            None, type=["null", "string"], description="window start (ISO-8601); default: the data interval"
        ),
        "until": Param(
            None, type=["null", "string"], description="window end (ISO-8601); default: the data interval"
        ),
        "relink": Param(False, type="boolean", description="rebuild every fuzzy link, not only this run's"),
    },
)
def job_feeds():
    @task(execution_timeout=timedelta(minutes=2))
    def platforms() -> list[str]:
        from recruitment_month import config

        return [p.code for p in config.platforms()]

    @task(map_index_template="{{ platform_code }}", execution_timeout=timedelta(minutes=40))
    def extract(platform_code: str, params=None, data_interval_start=None, data_interval_end=None) -> dict:
        from recruitment_month.feeds import pipeline

        since, until = pipeline.window(params, data_interval_start, data_interval_end)
        if not (params or {}).get("since"):  # scheduled: start where the last load ended, if earlier
            since = pipeline.watermark_since(platform_code, since, until)
        return pipeline.extract(platform_code, since, until)

    @task(map_index_template="{{ extracted['platform_code'] }}", execution_timeout=timedelta(minutes=40))
    def load(extracted: dict, run_id=None) -> dict:
        from recruitment_month.feeds import pipeline

        return pipeline.load(extracted, run_id=run_id)

    @task(execution_timeout=timedelta(minutes=50))
    def link(loads: list[dict], params=None) -> dict:
        from recruitment_month.feeds import pipeline

        return pipeline.link(_all(loads), full=bool((params or {}).get("relink")))

    @task(outlets=[POSTINGS], execution_timeout=timedelta(minutes=10))
    def report(loads: list[dict], links: dict, run_id=None, outlet_events=None) -> dict:
        from recruitment_month.feeds import pipeline

        summary = pipeline.report(_all(loads), run_id=run_id or "", links=links)
        outlet_events[POSTINGS].extra = {"new": summary["new"], "updated": summary["updated"]}
        return summary

    extracted = extract.expand(platform_code=platforms())
    loads = load.expand(extracted=extracted)
    report(loads, link(loads))


job_feeds()
