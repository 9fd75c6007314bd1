"""The poller's cadence on a simulated clock (issue 24): nothing sleeps, a simulated day runs in seconds.

100 hubs, jobs arriving at random over a day (one active job per hub, as IoT Hub allows: a job that arrives
while another runs starts when it ends), half of them created by an internal app that asks get_job about the
job straight away (a nudge), half without. Three schedules over the same day, in the same run:
  - the cadence: the timer every 30 s, busy hubs every run, idle ones every 300 s, nudges honoured;
  - fixed 5 minutes: every hub on every run of a 5-minute timer (the schedule before issue 24);
  - fixed 30 seconds: every hub on every run of a 30 s timer.

What is real and what is simulated: the decisions are the app's own pure code (shared/poller/cadence.py:
due_hubs, claimed, finished, nudged), with its settings as the app reads them (MONITOR_IDLE_LIST_SECONDS,
MONITOR_RECENT_END_MINUTES, POLL_SCHEDULE through schedule_interval_seconds). Simulated: the hubs (each job's
creation, start and end times), the list call (it shows each job as it is at the run's time, and takes no time),
and the writes (a run that lists a job first sees it, records its snapshot; a run that lists it ended writes its
report; writes never fail). The nudge is the get_job answer's, one second after the job's creation. Running 100
hubs against the hub simulator and Azurite for a simulated day does not fit this machine; the cadence is tested
against them in tests/poller/test_cadence.py and the soak.

Reports, per schedule: p50 and p95 from a job's end to its report; p95 from a job's creation to its first snapshot
(all jobs, nudged jobs, jobs without a nudge); hub list calls per idle hub-hour and per busy hub-hour (a hub is busy
while it has an active job).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from bench.common import verdict
from shared.poller.budget import schedule_interval_seconds
from shared.poller.cadence import CadenceRecord, CadenceSettings, Listing, claimed, due_hubs, finished, nudged
from shared.settings import AppSettings

HUBS = 100
DAY = 24 * 3600.0
JOBS_PER_HUB_PER_DAY = 6.0
NUDGED_SHARE = 0.5
NUDGE_AFTER_SECONDS = 1.0  # the internal app asks get_job about its job straight away
QUEUED_SECONDS = (5.0, 60.0)  # from creation to running
RUNNING_SECONDS = (60.0, 1800.0)
SEED = 20240917
BASE = {"IOTHUB_HUBS": "devhub", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}


@dataclass
class Job:
    hub: str
    created: float
    ended: float
    nudged: bool
    first_snapshot: float | None = None
    report: float | None = None


@dataclass
class Schedule:
    name: str
    timer_seconds: float
    settings: CadenceSettings
    lists: dict[str, list[float]] = field(default_factory=dict)


def make_jobs(rng: random.Random) -> list[Job]:
    jobs = []
    for number in range(HUBS):
        hub, t, free_at = f"hub{number:03d}", 0.0, 0.0
        while True:
            t += rng.expovariate(JOBS_PER_HUB_PER_DAY / DAY)
            if t >= DAY:
                break
            created = max(t, free_at)  # one active job per hub: it waits for the one before it
            ended = created + rng.uniform(*QUEUED_SECONDS) + rng.uniform(*RUNNING_SECONDS)
            free_at = ended
            jobs.append(Job(hub=hub, created=created, ended=ended, nudged=rng.random() < NUDGED_SHARE))
    return jobs


def settings_for(environ: dict[str, str]) -> tuple[float, CadenceSettings]:
    """The app's own reading of the settings: the timer's interval and the cadence's settings."""
    poller = AppSettings.from_environ({**BASE, **environ}).poller
    interval = schedule_interval_seconds(poller.schedule)
    assert interval is not None
    return interval, CadenceSettings(idle_seconds=poller.idle_list_seconds, recent_seconds=poller.recent_end_seconds,
                                     schedule_seconds=interval)


def run(schedule: Schedule, jobs: list[Job]) -> list[Job]:
    jobs = [Job(hub=j.hub, created=j.created, ended=j.ended, nudged=j.nudged) for j in jobs]
    by_hub: dict[str, list[Job]] = {}
    for job in jobs:
        by_hub.setdefault(job.hub, []).append(job)
    nudges = sorted((j.created + NUDGE_AFTER_SECONDS, j.hub) for j in jobs if j.nudged)
    record, next_nudge = CadenceRecord(), 0
    hubs = sorted(by_hub) + [f"hub{n:03d}" for n in range(HUBS) if f"hub{n:03d}" not in by_hub]
    now = 0.0
    while now < DAY + 3600:  # an hour past the day: the last jobs' reports
        while next_nudge < len(nudges) and nudges[next_nudge][0] <= now:
            at, hub = nudges[next_nudge]
            if schedule.settings.idle_seconds > 0:
                record = nudged(record, hub, now=at) or record
            next_nudge += 1
        due = due_hubs(record, hubs, now=now, settings=schedule.settings)
        record = claimed(record, due, now=now)
        listings = {}
        for hub in due:
            schedule.lists.setdefault(hub, []).append(now)
            active = False
            for job in by_hub.get(hub, []):
                if job.created <= now:
                    if job.first_snapshot is None:
                        job.first_snapshot = now
                    if job.ended <= now and job.report is None:
                        job.report = now
                    active = active or now < job.ended
            listings[hub] = Listing(ok=True, active=active)
        record = finished(record, listings, looked=now)
        now += schedule.timer_seconds
    return jobs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def calls_per_hub_hour(schedule: Schedule, jobs: list[Job], *, after_end: float) -> tuple[float, float]:
    """List calls per idle hub-hour and per busy hub-hour, over the simulated day. A hub is busy from a job's
    creation to `after_end` seconds past its end (the issue's "ended in the last few minutes" counts as busy
    with the recently-ended window; 0 counts only active jobs)."""
    busy_calls = idle_calls = 0
    busy_seconds = 0.0
    by_hub: dict[str, list[tuple[float, float]]] = {}
    for job in jobs:
        spans = by_hub.setdefault(job.hub, [])
        start, end = job.created, job.ended + after_end
        if spans and start <= spans[-1][1]:  # overlapping busy spans of one hub merge (jobs come in order)
            start = spans.pop()[0]
        spans.append((start, end))
    for spans in by_hub.values():
        busy_seconds += sum(min(end, DAY) - min(start, DAY) for start, end in spans)
    for hub, times in schedule.lists.items():
        spans = by_hub.get(hub, [])
        starts = [s for s, _ in spans]
        for t in times:
            if t >= DAY:
                continue
            i = bisect.bisect_right(starts, t) - 1
            if i >= 0 and t < spans[i][1]:
                busy_calls += 1
            else:
                idle_calls += 1
    idle_seconds = HUBS * DAY - busy_seconds
    return idle_calls / (idle_seconds / 3600), busy_calls / (busy_seconds / 3600)


def main() -> None:
    rng = random.Random(SEED)
    jobs = make_jobs(rng)
    cadence = settings_for({})  # the defaults: the cadence as deployed
    five = settings_for({"POLL_SCHEDULE": "0 */5 * * * *", "MONITOR_IDLE_LIST_SECONDS": "0"})
    thirty = settings_for({"POLL_SCHEDULE": "*/30 * * * * *", "MONITOR_IDLE_LIST_SECONDS": "0"})
    schedules = [Schedule("cadence (30 s timer, idle 300 s)", *cadence), Schedule("fixed 5 minutes", *five),
                 Schedule("fixed 30 seconds", *thirty)]
    nudged_count = sum(j.nudged for j in jobs)
    print(f"simulated day: {HUBS} hubs, {len(jobs)} jobs ({nudged_count} created with a get_job nudge, "
          f"{len(jobs) - nudged_count} without), seed {SEED}; decisions by shared/poller/cadence.py, hubs and "
          "list calls simulated (see the module's docstring)")
    figures = {}
    for schedule in schedules:
        done = run(schedule, jobs)
        to_report = [j.report - j.ended for j in done if j.report is not None]
        to_snapshot = [j.first_snapshot - j.created for j in done if j.first_snapshot is not None]
        nudged_first = [j.first_snapshot - j.created for j in done if j.first_snapshot is not None and j.nudged]
        plain_first = [j.first_snapshot - j.created for j in done if j.first_snapshot is not None and not j.nudged]
        assert len(to_report) == len(done), "a job without its report"
        recent = cadence[1].recent_seconds
        idle_rate, busy_rate = calls_per_hub_hour(schedule, done, after_end=recent)
        idle_strict, busy_strict = calls_per_hub_hour(schedule, done, after_end=0.0)
        figures[schedule.name] = (percentile(to_report, 0.95), idle_rate, percentile(nudged_first, 0.95))
        print(f"\n{schedule.name}")
        print(f"  end -> report: p50 {percentile(to_report, 0.5):6.1f} s, p95 {percentile(to_report, 0.95):6.1f} s")
        print(f"  creation -> first snapshot p95: all {percentile(to_snapshot, 0.95):6.1f} s, nudged "
              f"{percentile(nudged_first, 0.95):6.1f} s, without a nudge {percentile(plain_first, 0.95):6.1f} s")
        total = sum(len(v) for v in schedule.lists.values())
        print(f"  list calls per idle hub-hour {idle_rate:6.2f}, per busy hub-hour {busy_rate:6.2f} (busy: an active "
              f"job, or one ended in the last {recent / 60:g} min); total {total}")
        print(f"  (busy counted as an active job only: per idle hub-hour {idle_strict:6.2f}, per busy hub-hour "
              f"{busy_strict:6.2f})")
    p95, idle_rate, nudged_p95 = figures[schedules[0].name]
    print("\ntargets (the cadence):")
    print(f"  p95 end -> report {p95:.1f} s ({verdict(p95, target=60, at_most=True)})")
    print(f"  idle hub list calls an hour {idle_rate:.2f} ({verdict(idle_rate, target=12, at_most=True)})")
    print(f"  nudged job's first snapshot p95 {nudged_p95:.1f} s ({verdict(nudged_p95, target=60, at_most=True)})")


if __name__ == "__main__":
    main()
