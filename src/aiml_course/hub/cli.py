"""`course roster ...` and `course hub`: thin commands over aiml_course.hub."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from aiml_course.cli_support import course_from, db_url, fail_cleanly

HUB_ROOT = click.option("--hub-root", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Hub folders (default: $AIML_HUB_ROOT or /srv/aiml-course/<course id>).")
DB = click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")


def _running_hub(layout: object) -> object | None:
    """The hub's API if a hub for this layout answers now, else None (changes then apply at its next start)."""
    import requests

    from aiml_course.errors import HubError
    from aiml_course.hub.roster import HubAPI
    from aiml_course.hub.settings import HubSettings, token

    settings = HubSettings.from_env()
    api = HubAPI(settings.api_url, token(layout, "admin-token"))  # type: ignore[arg-type]
    try:
        api.call("GET", "/users", timeout=5)
    except (requests.RequestException, HubError):  # not running, or not this course's hub
        return None
    return api


@click.group("roster")
def roster_cli() -> None:
    """Students, TAs and instructors: OS accounts, hub groups (cohort-<name>) and gradebook rows."""


@roster_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prune", is_flag=True, help="Remove everyone not in the file (their grades are kept).")
@HUB_ROOT
@DB
@click.pass_context
@fail_cleanly
def import_cmd(ctx: click.Context, csv_file: Path, prune: bool, hub_root: Path | None, db: str | None) -> None:
    """Create or update everyone in CSV_FILE (columns: username, role, cohort, name, email, password)."""
    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.layout import HubLayout
    from aiml_course.hub.roster import import_roster, read_roster_csv

    course = course_from(ctx)
    layout = HubLayout.for_course(course, hub_root)
    members, passwords = read_roster_csv(csv_file, course)
    hub = _running_hub(layout)
    report = import_roster(course, layout, members, passwords, gradebook=Gradebook(db_url(course, db)),
                           prune=prune, hub=hub)  # type: ignore[arg-type]
    for label, names in (("created", report.created), ("updated", report.updated), ("removed", report.removed)):
        if names:
            click.echo(f"{label}: {', '.join(names)}")
    click.echo(f"roster: {report.summary()}" + ("; hub updated" if hub else "; the hub picks it up when it starts"))


@roster_cli.command("remove")
@click.argument("usernames", nargs=-1, required=True)
@HUB_ROOT
@DB
@click.pass_context
@fail_cleanly
def remove_cmd(ctx: click.Context, usernames: tuple[str, ...], hub_root: Path | None, db: str | None) -> None:
    """Lock accounts and take them off the hub; homes, submissions and grades are kept."""
    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.layout import HubLayout
    from aiml_course.hub.roster import remove_users

    course = course_from(ctx)
    layout = HubLayout.for_course(course, hub_root)
    removed = remove_users(course, layout, list(usernames), gradebook=Gradebook(db_url(course, db)),
                           hub=_running_hub(layout))  # type: ignore[arg-type]
    click.echo(f"removed (grades kept): {', '.join(removed)}")


@roster_cli.command("list")
@HUB_ROOT
@click.pass_context
@fail_cleanly
def list_cmd(ctx: click.Context, hub_root: Path | None) -> None:
    """Everyone in the roster, removed members marked."""
    from aiml_course.hub.layout import HubLayout
    from aiml_course.hub.roster import load_members

    layout = HubLayout.for_course(course_from(ctx), hub_root)
    for m in sorted(load_members(layout).values(), key=lambda m: (m.role, m.cohort, m.username)):
        click.echo(f"{m.username:20} {m.role:10} {m.cohort or '-':8} {m.name}" + ("" if m.active else "  (removed)"))


@click.command("hub")
@click.option("--demo", is_flag=True, help="Add demo people (printed with their passwords) and release Part 2.")
@click.option("--demo-prefix", default="demo", show_default=True, hidden=True,
              help="Demo logins are PREFIX-instr, PREFIX-alice, ... (tests use their own).")
@click.option("--port", type=click.IntRange(1024, 65000), default=18000, show_default=True,
              help="Public port; the hub uses the next ones (+1, +2, +10).")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Address to listen on.")
@HUB_ROOT
@DB
@click.pass_context
@fail_cleanly
def hub_cmd(ctx: click.Context, demo: bool, demo_prefix: str, port: int, ip: str, hub_root: Path | None,
            db: str | None) -> None:
    """Run the course's JupyterHub (proxy, hub, dashboard, idle culler) until Ctrl-C."""
    import os

    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.launch import HubProcess, demo_roster, prepare, roster_summary
    from aiml_course.hub.layout import HubLayout
    from aiml_course.hub.settings import HubSettings

    course = course_from(ctx)
    layout = HubLayout.for_course(course, hub_root)
    os.environ.update({"AIML_COURSE_CONFIG": str((course.root / "course_config.py").resolve()),
                       "AIML_HUB_ROOT": str(layout.root), "AIML_HUB_PORT": str(port), "AIML_HUB_IP": ip})
    gradebook_url = db_url(course, db)
    os.environ["AIML_GRADEBOOK_URL"] = gradebook_url
    stop = _stop_on_signals()   # from here on a closed terminal (SIGHUP) stops the hub, never leaves it running
    locked = prepare(course, layout)
    if locked:
        _say("made instructor-only (no access for students): " + ", ".join(p.name for p in locked))
    passwords = demo_roster(course, layout, gradebook=Gradebook(gradebook_url), prefix=demo_prefix) if demo else {}
    if not roster_summary(layout):
        _say("note: the roster is empty; add people with `course roster import roster.csv` (or --demo)", err=True)
    hub = HubProcess(HubSettings.from_env(), layout.state_dir / "hub.log")
    _say(f"starting JupyterHub for {course.id} (log: {hub.log_path}) ...")
    try:
        hub.start()
        _serve(hub, course, layout, passwords, demo=demo, stop=stop)
    finally:
        took = hub.stop()   # first: printing may fail (a closed terminal, a broken pipe)
        _say(f"hub stopped in {took:.1f} s")


def _say(text: str, *, err: bool = False) -> None:
    """Print, unless the terminal is gone: output failing must never keep the hub from stopping."""
    try:
        click.echo(text, err=err)
    except OSError:  # BrokenPipeError, EIO of a hung-up terminal
        pass


def _stop_on_signals() -> dict[str, bool]:
    """SIGINT, SIGTERM and SIGHUP ask the hub to stop; SIGPIPE is ignored (writes then fail, and are ignored)."""
    stop = {"now": False}

    def ask_stop(*_: object) -> None:
        if stop["now"]:
            return
        stop["now"] = True
        raise KeyboardInterrupt   # leave whatever is running (start, release) and stop the hub

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, ask_stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    return stop


def _serve(hub: object, course: object, layout: object, passwords: dict[str, str], *, demo: bool,
           stop: dict[str, bool]) -> None:
    """Sync the roster, release the demo part, print where to log in, then wait for a stop signal or the hub's end."""
    from aiml_course.hub.launch import roster_summary

    hub.api.sync(course, {m.username: m for m in roster_summary(layout)})  # type: ignore[attr-defined]
    if demo:
        from aiml_course.hub.exchange import release_part
        from aiml_course.hub.launch import DEMO_PART

        _say(f"releasing {DEMO_PART} through nbgrader's exchange ...")
        release_part(course, DEMO_PART, layout)  # type: ignore[arg-type]
    _print_welcome(hub, layout, passwords, started_in=hub.started_in)  # type: ignore[attr-defined]
    proc = hub.proc  # type: ignore[attr-defined]
    try:
        while not stop["now"] and proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return
    if proc.poll() is not None and not stop["now"]:
        _say(f"the hub stopped by itself (status {proc.returncode}); last log lines:\n{hub.log_tail()}",  # type: ignore[attr-defined]
             err=True)
        raise SystemExit(1)


def _print_welcome(hub: object, layout: object, passwords: dict[str, str], *, started_in: float) -> None:
    from aiml_course.hub.launch import roster_summary

    s = hub.settings  # type: ignore[attr-defined]
    lines = [f"\nJupyterHub is up in {started_in:.1f} s.\n  log in:     {s.public_url}/hub/login\n"
             f"  dashboard:  {s.public_url}/services/dashboard/\n"]
    members = roster_summary(layout)  # type: ignore[arg-type]
    if members:
        lines.append(f"  {'user':14} {'role':11} {'cohort':8} password")
        for m in members:
            lines.append(f"  {m.username:14} {m.role:11} {m.cohort or '-':8} {passwords.get(m.username, '(their own)')}")
    lines.append("\nPress Ctrl-C to stop (user servers, dashboard and proxy stop with it).")
    _say("\n".join(lines))
