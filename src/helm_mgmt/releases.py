"""Chart releases: a semantic version per chart, bumped whenever what `helm package` packs changes.

CI checks a clean clone with nothing to compare against, so the last released version of every
chart and a digest of its packaged content are committed in ``helm/released.json``. A chart whose
digest differs from the record must carry a greater version; `helm-mgmt package --record` checks
that, writes the chart's CHANGELOG.md entry and updates the record.

The digest covers the files `helm package` includes (the chart's .helmignore read as Helm reads
it), with the committed dependency archives counted by their content: a library change reaches
every chart that packages it through its rebuilt ``charts/*.tgz``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from helm_mgmt.charts import Chart, _tgz_files, application_charts, dependency_order, load_charts, sync_dependencies
from helm_mgmt.helm import Helm
from helm_mgmt.paths import CHARTS_DIR

RECORD_FILE = CHARTS_DIR.parent / "released.json"
RECORD_COMMAND = "./helm/helm-mgmt.sh package --record"
AMEND_COMMAND = "./helm/helm-mgmt.sh package --record --amend"
CHANGELOG = "CHANGELOG.md"


class ReleaseError(RuntimeError):
    """A release that cannot be recorded; the message names the chart and what to do."""


_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def semver_key(version: str) -> tuple:
    """A sort key that orders SemVer 2.0.0 versions by precedence (a pre-release comes before its
    release, numeric identifiers compare as numbers, build metadata is ignored)."""
    match = _SEMVER.fullmatch(version)
    if not match:
        raise ValueError(f"{version!r} is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])")
    core = tuple(int(match.group(i)) for i in (1, 2, 3))
    if match.group(4) is None:
        return (*core, (1,))
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in match.group(4).split("."))
    return (*core, (0, ids))


# --- what `helm package` includes -------------------------------------------------------------


def _go_glob(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match as a regular expression: `*` and `?` never cross a `/`, `[...]` classes
    negate with `^`, a backslash escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    whole_path: bool

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path if self.whole_path else path.rsplit("/", 1)[-1]) is not None


class HelmIgnore:
    """The rules of a chart's .helmignore, applied as Helm applies them: a pattern with a `/`
    matches the whole relative path, one without only the base name, a trailing `/` only
    directories; `templates/.?*` is always added; a `!` rule ignores whatever it does not match."""

    def __init__(self, text: str = "") -> None:
        self.rules: list[_Rule] = []
        for line in [*text.splitlines(), "templates/.?*"]:
            rule = line.strip()
            if not rule or rule.startswith("#"):
                continue
            negate = rule.startswith("!")
            rule = rule[1:] if negate else rule
            dir_only = rule.endswith("/")
            rule = rule.rstrip("/") if dir_only else rule
            whole_path = "/" in rule
            self.rules.append(_Rule(_go_glob(rule.lstrip("/")), negate, dir_only, whole_path))

    def ignored(self, path: str, is_dir: bool) -> bool:
        for rule in self.rules:
            if rule.negate:
                if (rule.dir_only and not is_dir) or not rule.matches(path):
                    return True
            elif not (rule.dir_only and not is_dir) and rule.matches(path):
                return True
        return False


def packaged_files(chart_dir: Path) -> list[str]:
    """The chart's files that `helm package` includes, relative, sorted."""
    ignore_file = chart_dir / ".helmignore"
    rules = HelmIgnore(ignore_file.read_text() if ignore_file.is_file() else "")
    found = []
    for top, dirs, files in os.walk(chart_dir, followlinks=True):
        rel_top = Path(top).relative_to(chart_dir).as_posix()
        prefix = "" if rel_top == "." else rel_top + "/"
        dirs[:] = [d for d in dirs if not rules.ignored(prefix + d, is_dir=True)]
        found += [prefix + f for f in files if not rules.ignored(prefix + f, is_dir=False)]
    return sorted(found)


def content_digest(chart_dir: Path) -> str:
    """sha256 over the packaged files' names and contents; a dependency archive under charts/
    counts by the files inside it, since its own bytes carry build timestamps."""
    entries: dict[str, bytes] = {}
    for rel in packaged_files(chart_dir):
        data = (chart_dir / rel).read_bytes()
        if rel.startswith("charts/") and rel.endswith(".tgz"):
            entries.update({f"{rel}!{name}": content for name, content in _tgz_files(data).items()})
        else:
            entries[rel] = data
    total = hashlib.sha256()
    for name in sorted(entries):
        total.update(name.encode() + b"\0" + hashlib.sha256(entries[name]).digest())
    return "sha256:" + total.hexdigest()


# --- the record ---------------------------------------------------------------------------------


def load_record(path: Path = RECORD_FILE) -> dict[str, dict[str, str]]:
    return json.loads(path.read_text())["charts"] if path.is_file() else {}


def save_record(record: dict[str, dict[str, str]], path: Path = RECORD_FILE) -> None:
    body = {
        "about": f"Last released version and packaged-content digest of each chart; written by `{RECORD_COMMAND}`.",
        "charts": {name: record[name] for name in sorted(record)},
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


@dataclass(frozen=True)
class ChartState:
    name: str
    version: str
    digest: str
    recorded_version: str | None
    recorded_digest: str | None

    @property
    def changed(self) -> bool:
        return self.digest != self.recorded_digest

    def problem(self) -> str | None:
        """Why this chart does not match its record, and the command that fixes it; None if it does."""
        if not self.changed:
            return None
        chart_yaml = f"helm/charts/{self.name}/Chart.yaml"
        if self.recorded_version is None:
            return f"chart {self.name} {self.version} has no release record: run `{RECORD_COMMAND}`"
        try:
            bumped = semver_key(self.version) > semver_key(self.recorded_version)
        except ValueError as err:
            return f"chart {self.name}: {err}; fix `version` in {chart_yaml}"
        if bumped:
            return (
                f"chart {self.name} is bumped to {self.version} but not recorded yet "
                f"(record: {self.recorded_version}): run `{RECORD_COMMAND}`"
            )
        return (
            f"chart {self.name} changed since {self.recorded_version} was released, but its version is "
            f"{self.version}: raise `version` in {chart_yaml} (patch for a fix, minor for a feature, major "
            f"for a breaking change), then run `{RECORD_COMMAND}`. If {self.recorded_version} was never "
            f"pushed to a registry, `{AMEND_COMMAND}` records the change under {self.recorded_version} instead"
        )


def chart_states(
    charts: dict[str, Chart] | None = None, record: dict[str, dict[str, str]] | None = None
) -> list[ChartState]:
    """Every chart (leaf first) with its current and its recorded version and digest."""
    charts = charts if charts is not None else load_charts()
    record = record if record is not None else load_record()
    states = []
    for chart in dependency_order(charts):
        recorded = record.get(chart.name, {})
        states.append(
            ChartState(
                chart.name,
                str(chart.version),
                content_digest(chart.path),
                recorded.get("version"),
                recorded.get("digest"),
            )
        )
    return states


# --- changelogs ---------------------------------------------------------------------------------

_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?[ \t]*$", re.M)
UNRELEASED = "Unreleased"


def new_changelog(chart: str) -> str:
    return (
        "# Changelog\n\n"
        f"Notable changes to the `{chart}` chart, newest first. The format follows\n"
        "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/); versions follow\n"
        "[Semantic Versioning](https://semver.org/spec/v2.0.0.html). Write what changed under\n"
        f"`[Unreleased]`, raise `version` in Chart.yaml, then run `{RECORD_COMMAND}`: it dates\n"
        "the entry and records the release (helm/README.md, Releasing).\n\n"
        f"## [{UNRELEASED}]\n"
    )


def changelog_entries(text: str) -> dict[str, tuple[str | None, str]]:
    """version -> (date, body) of each `## [version] - date` section, in file order."""
    headings = list(_HEADING.finditer(text))
    entries = {}
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        entries[heading["version"]] = (heading["date"], text[heading.end() : end].strip())
    return entries


def _with_notes(body: str, notes: Iterable[str]) -> str:
    bullets = "".join(f"- {note}\n" for note in notes)
    if not bullets:
        return body
    if "### Changed\n" in body + "\n":
        return (body + "\n").replace("### Changed\n", "### Changed\n" + bullets, 1).strip()
    return (body + "\n\n### Changed\n" + bullets).strip()


def _rewrite(text: str, version: str, date: str, body: str) -> str:
    """The changelog with an empty [Unreleased] section on top, then ``version``'s entry, then the
    older entries."""
    entries = changelog_entries(text)
    first = _HEADING.search(text)
    preamble = text[: first.start()] if first else text.rstrip() + "\n\n"
    sections = [f"## [{UNRELEASED}]", f"## [{version}] - {date}\n{body}"]
    for old, (old_date, old_body) in entries.items():
        if old not in (UNRELEASED, version):
            heading = f"## [{old}]" + (f" - {old_date}" if old_date else "")
            sections.append(f"{heading}\n{old_body}".rstrip())
    return preamble + "\n\n".join(sections) + "\n"


def changelog_with_release(text: str, chart: str, version: str, date: str, notes: Iterable[str] = ()) -> str:
    """Move the [Unreleased] notes (plus ``notes``) into a new entry ``version`` dated ``date``; an
    entry that exists already (an amended release) keeps its date and gets the new notes appended."""
    entries = changelog_entries(text)
    unreleased = entries.get(UNRELEASED, (None, ""))[1]
    if version in entries:
        old_date, old_body = entries[version]
        body = _with_notes(old_body + ("\n\n" + unreleased if unreleased else ""), notes)
        return _rewrite(text, version, old_date or date, body)
    body = _with_notes(unreleased, notes)
    if not body:
        raise ReleaseError(
            f"chart {chart} {version}: nothing to put in its changelog entry; write what changed under "
            f"`## [{UNRELEASED}]` in helm/charts/{chart}/{CHANGELOG}, or pass --note"
        )
    return _rewrite(text, version, date, body)


def package_all(helm: Helm, dist_dir: Path, charts: dict[str, Chart] | None = None) -> list[tuple[Chart, Path]]:
    """`helm package` every application chart into ``dist_dir``, leaf first; (chart, archive) pairs."""
    dist_dir.mkdir(parents=True, exist_ok=True)
    packages = []
    for chart in application_charts(charts):
        helm.run(["package", str(chart.path), "--destination", str(dist_dir)])
        packages.append((chart, dist_dir / f"{chart.name}-{chart.version}.tgz"))
    return packages


# --- recording ----------------------------------------------------------------------------------


def record(
    helm: Helm | None = None,
    charts_root: Path = CHARTS_DIR,
    record_path: Path | None = None,
    notes: Iterable[str] = (),
    amend: bool = False,
    today: datetime.date | None = None,
    sync: Callable[..., list[Path]] = sync_dependencies,
) -> list[str]:
    """Record a release of every chart whose packaged content differs from the record: refuse
    (before writing anything) a chart whose version is not greater than its recorded one (with
    ``amend``: equal is accepted, for a version never pushed), add its changelog entry, rebuild the
    dependency archives (they pack the changelogs too), store version and digest. Returns one line
    per recorded chart; a chart that no longer exists leaves the record."""
    record_path = record_path or charts_root.parent / RECORD_FILE.name
    notes = list(notes)
    date = (today or datetime.date.today()).isoformat()
    sync(helm, load_charts(charts_root))
    charts = load_charts(charts_root)
    saved = load_record(record_path)
    changed = [s for s in chart_states(charts, saved) if s.changed]
    gone = sorted(set(saved) - set(charts))
    if not changed and not gone:
        return ["every chart matches its release record: nothing to record"]
    refusals = [p for s in changed if (p := _refusal(s, amend))]
    if refusals:
        raise ReleaseError("\n".join(refusals))
    texts = {}
    for state in changed:
        path = charts[state.name].path / CHANGELOG
        text = path.read_text() if path.is_file() else new_changelog(state.name)
        texts[path] = changelog_with_release(text, state.name, state.version, date, notes)
    for path, text in texts.items():
        path.write_text(text)
    sync(helm, load_charts(charts_root))
    after = {s.name: s for s in chart_states(load_charts(charts_root), saved)}
    lines = [f"{name} removed from the record: there is no such chart" for name in gone]
    for name in gone:
        del saved[name]
    for state in changed:
        digest = after[state.name].digest
        saved[state.name] = {"version": state.version, "digest": digest}
        verb = "amended" if state.version == state.recorded_version else "recorded"
        lines.append(f"{state.name} {state.version} {verb} ({digest[:19]}…), changelog entry in {CHANGELOG}")
    late = sorted(s.name for s in after.values() if s.changed and s.name not in {c.name for c in changed})
    if late:
        raise ReleaseError(f"charts {', '.join(late)} changed while recording; run `{RECORD_COMMAND}` again")
    save_record(saved, record_path)
    return lines


def _refusal(state: ChartState, amend: bool) -> str | None:
    try:
        version = semver_key(state.version)
        recorded = semver_key(state.recorded_version) if state.recorded_version else None
    except ValueError as err:
        return f"chart {state.name}: {err}; fix `version` in helm/charts/{state.name}/Chart.yaml"
    if recorded is None or version > recorded or (amend and version == recorded):
        return None
    return (
        f"chart {state.name} {state.version} is not recorded: its content changed since {state.recorded_version} "
        f"was released; raise `version` in helm/charts/{state.name}/Chart.yaml above {state.recorded_version}"
        + ("" if amend or version < recorded else f" (or, if {state.recorded_version} was never pushed, use --amend)")
    )
