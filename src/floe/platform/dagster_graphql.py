"""Launch runs on a running Dagster and follow them, through its public GraphQL API only.

What ``floe demo trigger`` talks to: the webserver ``floe dev`` starts, or a deployment's
``dagster-webserver`` Service. Plain HTTP (:func:`floe.platform.dagster_probe.graphql`), so
the CLI needs no Dagster import, and the runs are launched exactly as a click in the UI would
launch them: by code location, repository and job name, with the job's run tags.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from floe.errors import FloeError
from floe.platform.dagster_probe import (
    PASSWORD_ENV,
    TOKEN_ENV,
    USER_ENV,
    CredentialsRefused,
    ProbeError,
    daemons,
    graphql,
    server_info,
)

DEFAULT_URL = "http://127.0.0.1:3000"
URL_ENV = "FLOE_DAGSTER_URL"
TRIGGER_TAG = "floe/trigger"
TRIGGER_BATCH_TAG = "floe/trigger_batch"
FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
# Each answer may take long on a loaded machine; a webserver that stops answering for this
# long while runs are followed is taken for gone.
_REQUEST_TIMEOUT_S = 30.0
_UNANSWERED_LIMIT_S = 120.0
_EVENTS_PAGE = 1000
_EVENTS_MAX_PAGES = 20

_WORKSPACE = """{ workspaceOrError { __typename ... on PythonError { message }
  ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename
    ... on PythonError { message }
    ... on RepositoryLocation { repositories { name jobs { name runTags { key value } } } } } } } } }"""
_LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on Error { message }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidStepError { invalidStepKey }
  ... on InvalidOutputError { stepKey invalidOutputName } } }"""
_RUNS = """query ($ids: [String!]) { runsOrError(filter: {runIds: $ids}) { __typename
  ... on Runs { results { runId status startTime endTime } }
  ... on PythonError { message } ... on InvalidPipelineRunsFilterError { message } } }"""
_EVENTS = """query ($id: ID!, $cursor: String, $limit: Int) {
  logsForRun(runId: $id, afterCursor: $cursor, limit: $limit) { __typename
    ... on EventConnection { cursor hasMore events { __typename
      ... on ExecutionStepFailureEvent { stepKey message error { message } }
      ... on RunFailureEvent { message error { message } } } } } }"""


@dataclass(frozen=True)
class JobTarget:
    """A job as the webserver knows it: where it lives and the tags its runs carry."""

    location: str
    repository: str
    job: str
    run_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunState:
    """One run as Dagster reports it; times are Unix seconds."""

    run_id: str
    status: str
    start_time: float | None = None
    end_time: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def duration_s(self) -> float | None:
        if self.start_time is None:
            return None
        return max(0.0, (self.end_time or time.time()) - self.start_time)


def normalise_url(url: str) -> str:
    """Without a trailing slash; a wildcard listen address (0.0.0.0) becomes the loopback one."""
    parsed = urllib.parse.urlsplit(url.strip().rstrip("/"))
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FloeError(f"not an http(s) URL of a Dagster webserver: {url!r}",
                        hint=f"for example --url {DEFAULT_URL}")
    if parsed.hostname in ("0.0.0.0", "::"):  # a wildcard listen address, not one to connect to
        port = f":{parsed.port}" if parsed.port else ""
        parsed = parsed._replace(netloc=f"127.0.0.1{port}")
    return urllib.parse.urlunsplit(parsed)


def run_url(url: str, run_id: str) -> str:
    """The run's page in the Dagster UI (its logs, step by step)."""
    return f"{url}/runs/{run_id}"


def require_dagster(url: str, *, where: str) -> str:
    """The Dagster version of the webserver at ``url``; a clear error when none answers.

    ``where`` says where the URL came from (an option, an environment variable, floe dev's record).
    """
    try:
        info = server_info(url, timeout_s=_REQUEST_TIMEOUT_S)
    except CredentialsRefused as exc:
        raise _credentials_error(exc, where) from None
    except ProbeError as exc:
        # "<url> does not answer: <urlopen error [Errno 111] Connection refused>" -> "Connection refused"
        reason = str(exc).removeprefix(f"{url} does not answer: ").removeprefix("<urlopen error ").rstrip(">")
        raise FloeError(f"no Dagster answers at {url} ({where}): {reason}",
                        hint="start one for this project with 'floe dev' (or pass the URL of a running "
                             f"Dagster webserver with --url or ${URL_ENV})") from None
    return str(info.get("dagster_version", "?"))


def _credentials_error(exc: CredentialsRefused, where: str) -> FloeError:
    if exc.sent:
        hint = (f"check ${USER_ENV} and ${PASSWORD_ENV} (the Ingress's basic auth), or ${TOKEN_ENV} (a bearer "
                "token the proxy in front of Dagster accepts)")
    else:
        hint = (f"set ${USER_ENV} and ${PASSWORD_ENV} for the Ingress's basic auth, or ${TOKEN_ENV} for a bearer "
                "token your oauth2-proxy accepts; or reach the webserver's Service directly: kubectl "
                "port-forward svc/<release>-dagster-webserver 3000:80, then --url http://127.0.0.1:3000")
    return FloeError(f"the Dagster webserver ({where}): {exc}", hint=hint)


def _ask(url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    try:
        return graphql(url, query, variables, timeout_s=_REQUEST_TIMEOUT_S)
    except CredentialsRefused as exc:
        raise _credentials_error(exc, "asked through GraphQL") from None
    except ProbeError as exc:
        raise FloeError(f"the Dagster at {url}: {exc}",
                        hint="check that it is running ('floe dev --check' for floe dev's stack)") from None


def find_job(url: str, job: str, *, location: str | None = None, prefer: str | None = None) -> JobTarget:
    """The one job named ``job`` in the webserver's workspace.

    Args:
        location: The code location to look in; any location holding the job when None.
        prefer: The location to take when several hold the job (the project's name).

    Raises:
        FloeError: No loaded location holds the job, or several do and none is preferred.
    """
    workspace = _ask(url, _WORKSPACE)["workspaceOrError"]
    if workspace.get("__typename") != "Workspace":
        raise FloeError(f"the Dagster at {url} could not load its workspace: {workspace.get('message')}")
    found: list[JobTarget] = []
    others: list[str] = []
    broken: list[str] = []
    for entry in workspace["locationEntries"]:
        if location is not None and entry["name"] != location:
            continue
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            broken.append(f"{entry['name']}: {str(loaded.get('message')).strip().splitlines()[0]}")
            continue
        if entry.get("loadStatus") != "LOADED" or not loaded:
            broken.append(f"{entry['name']}: still loading")
            continue
        for repository in loaded.get("repositories", []):
            for candidate in repository["jobs"]:
                if candidate["name"] == job:
                    found.append(JobTarget(entry["name"], repository["name"], job,
                                           {tag["key"]: tag["value"] for tag in candidate.get("runTags") or []}))
                elif not candidate["name"].startswith("__"):
                    others.append(f"{entry['name']}:{candidate['name']}")
    if len(found) > 1 and prefer is not None:
        found = [target for target in found if target.location == prefer] or found
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(sorted(target.location for target in found))
        raise FloeError(f"several code locations at {url} have a job '{job}': {names}",
                        hint="say which with --location")
    where = f"code location '{location}'" if location else "code location"
    detail = "; ".join(broken) if broken else ("jobs there: " + ", ".join(sorted(others)) if others
                                               else "it has no job at all")
    raise FloeError(f"no {where} at {url} has a job '{job}' ({detail})",
                    hint="is this the Dagster of this project? pass its URL with --url"
                         + ("" if location else ", or the location with --location"))


def queue_warning(url: str) -> str | None:
    """Why launched runs would wait: the instance queues runs but no daemon takes them."""
    try:
        statuses = daemons(url)
    except (ProbeError, KeyError, TypeError):
        return None
    for daemon in statuses:
        if daemon.kind == "QUEUED_RUN_COORDINATOR" and daemon.required and not daemon.healthy:
            return (f"the runs are still queued, and the run-queue daemon of the Dagster at {url} has no recent "
                    "heartbeat: they wait until a daemon runs ('floe dev' starts one, unless --no-daemon)")
    return None


def launch_run(url: str, target: JobTarget, tags: dict[str, str]) -> RunState:
    """Launch one run of the job (queued, when the instance queues runs); its first state.

    The job's run tags are sent too: a launch through the API gets only the job's definition
    tags otherwise, and floe's run tags (the job's dbt vars) would be lost.
    """
    params = {
        "selector": {"repositoryLocationName": target.location, "repositoryName": target.repository,
                     "jobName": target.job},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": key, "value": value}
                                       for key, value in {**target.run_tags, **tags}.items()]},
    }
    result = _ask(url, _LAUNCH, {"params": params})["launchRun"]
    if result.get("__typename") == "LaunchRunSuccess":
        run = result["run"]
        return RunState(run["runId"], run["status"])
    reason = result.get("message") or "; ".join(e["message"] for e in result.get("errors") or []) \
        or result.get("__typename")
    raise FloeError(f"the Dagster at {url} did not launch job '{target.job}' of {target.location}: {reason}",
                    hint="see the webserver's log ('floe dev' keeps it in .floe/dev/webserver.log)")


def run_states(url: str, run_ids: Sequence[str]) -> dict[str, RunState]:
    """The current state of each run (one request for all of them)."""
    answer = graphql(url, _RUNS, {"ids": list(run_ids)}, timeout_s=_REQUEST_TIMEOUT_S)["runsOrError"]
    if answer.get("__typename") != "Runs":
        raise ProbeError(f"the runs could not be read: {answer.get('message')}")
    return {run["runId"]: RunState(run["runId"], run["status"], run.get("startTime"), run.get("endTime"))
            for run in answer["results"]}


def follow_runs(url: str, run_ids: Sequence[str], on_change: Callable[[RunState], None], *,
                on_stuck: Callable[[str], None] = lambda _: None, poll_s: float = 1.0,
                timeout_s: float | None = None, stuck_after_s: float = 60.0) -> dict[str, RunState]:
    """Poll the runs until every one has finished; ``on_change`` sees each new status.

    When no run has left the queue for ``stuck_after_s`` and the instance's run-queue daemon
    is not healthy, ``on_stuck`` hears why, once.

    Returns the last state of every run (unfinished ones too when ``timeout_s`` passed).

    Raises:
        FloeError: The webserver stopped answering for minutes, or forgot a run.
    """
    seen: dict[str, RunState] = {}
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    unanswered_since: float | None = None
    stuck_told = False
    while True:
        try:
            states = run_states(url, run_ids)
            unanswered_since = None
        except ProbeError as exc:
            # A loaded machine or a restarting webserver: keep asking for a while.
            unanswered_since = unanswered_since or time.monotonic()
            if time.monotonic() - unanswered_since > _UNANSWERED_LIMIT_S:
                raise FloeError(f"the Dagster at {url} stopped answering while the runs were followed: {exc}",
                                hint="the runs may go on; see them in the Dagster UI") from None
            states = {}
        for run_id in run_ids:
            state = states.get(run_id)
            if state is None:
                if states:
                    raise FloeError(f"the Dagster at {url} no longer knows run {run_id}",
                                    hint="was it deleted in the UI, or did the webserver's storage change?")
                continue
            if run_id not in seen or seen[run_id].status != state.status:
                on_change(state)
            seen[run_id] = state
        if len(seen) == len(run_ids) and all(state.finished for state in seen.values()):
            return seen
        if deadline is not None and time.monotonic() >= deadline:
            return seen
        if not stuck_told and time.monotonic() - started > stuck_after_s and seen \
                and all(state.status == "QUEUED" for state in seen.values() if not state.finished):
            stuck_told = True
            if (why := queue_warning(url)) is not None:
                on_stuck(why)
        time.sleep(poll_s)


def failure_messages(url: str, run_id: str) -> list[str]:
    """What failed in a run: each failed step's error (dbt's own lines when dbt failed), else the
    run's own failure (a run that failed before any step)."""
    messages: list[str] = []
    run_failures: list[dict[str, Any]] = []
    cursor: str | None = None
    try:
        for _page in range(_EVENTS_MAX_PAGES):
            answer = graphql(url, _EVENTS, {"id": run_id, "cursor": cursor, "limit": _EVENTS_PAGE},
                             timeout_s=_REQUEST_TIMEOUT_S)["logsForRun"]
            if answer.get("__typename") != "EventConnection":
                break
            for event in answer["events"]:
                kind = event.get("__typename")
                if kind == "RunFailureEvent":
                    run_failures.append(event)
                if kind != "ExecutionStepFailureEvent":
                    continue
                text = ((event.get("error") or {}).get("message") or event.get("message") or "").strip()
                step = event.get("stepKey")
                for line in describe_failure(text) or [kind]:
                    messages.append(f"step {step}: {line}" if step else line)
            cursor = answer.get("cursor")
            if not answer.get("hasMore"):
                break
    except (ProbeError, KeyError, TypeError):
        pass  # the outcome stands without its detail
    # The run's own failure repeats its failed step's error; it says more only when no step failed.
    for event in run_failures if not messages else []:
        text = (event.get("error") or {}).get("message") or event.get("message") or ""
        messages.extend(describe_failure(text) or ["RunFailureEvent"])
    return list(dict.fromkeys(messages))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DBT_ERRORS = "Errors parsed from dbt logs:"
_DBT_LOG = re.compile(r"view the dbt debug log: (\S+?)\.?$", re.MULTILINE)
_DBT_NOISE = re.compile(r"^(\d+ of \d+ |LINE \d+|[\s^]*$|Did you mean)")


def describe_failure(text: str) -> list[str]:
    """The lines of an error worth a terminal: dbt's own error lines and its log file when
    dagster-dbt's "The dbt CLI process ... failed" carries them, else the first line."""
    text = _ANSI.sub("", text).strip()
    if not text:
        return []
    if _DBT_ERRORS not in text:
        return [text.splitlines()[0]]
    head, _, parsed = text.partition(_DBT_ERRORS)
    lines = [line.strip() for line in parsed.splitlines() if not _DBT_NOISE.match(line.strip())]
    log = _DBT_LOG.search(head)
    return lines[:3] + ([f"dbt's log: {log.group(1)}"] if log else [])
