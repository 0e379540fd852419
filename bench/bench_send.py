"""List sends: SendGrid (to the loopback stand-in) at 10k/100k(/1M) with the ledger, against the floor;
SMTP to a local aiosmtpd sink against the `mailmerge` CLI sending the same message to the same sink.

Each send runs in its own process (its peak RSS is read there); the stand-in and the SMTP sink run
in their own processes too, so they do not share the sender's GIL. mailmerge is a bench-only tool:
it is installed into the venv with pip the first time this bench runs (never a runtime dependency).
The 1,000,000-subscriber run (whole process) takes a few minutes; PAIN_NEWS_BENCH_MILLION=0 skips it.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# The list send's gates refuse the example domains of the repository's pain-news.toml: the bench
# projects get the tests' real-looking settings (no bench reaches them: the stand-in and the sink are local).
from common import PEAK_RSS_KIB, memory_kib

from tests.fixtures.core import REAL_NEWSLETTER

ROOT = Path(__file__).resolve().parents[1]
# The doctor gate (pain_news/doctor/) asks DNS before a list send: a refused loopback port answers
# "cannot be reached" at once, as on a laptop offline, so no figure waits on the network.
OFFLINE_DNS = {"PAIN_NEWS_DNS_NAMESERVER": "127.0.0.1:9"}
SECRET = "bench-secret-key-0123456789abcdef"
API_KEY = "SG.bench-key"
SMTP_MESSAGES = 10_000
MAILMERGE_MESSAGES = (
    1_000  # a connection per message: 10,000 would take minutes; the rate is what is compared
)

CHILD = r"""
import json, sys, time
from pathlib import Path
from pain_news.config.settings import load_config
from pain_news.subscribers.store import open_store
from pain_news import campaign
config = load_config(Path(sys.argv[1]) / "pain-news.toml")
store = open_store(config, create=True)
t0 = time.perf_counter()
prepared = campaign.prepare_send(config, store, Path(sys.argv[1]) / "issues" / "2026-12-winter", campaign.SendOptions(published="skip", no_canary=True))
t1 = time.perf_counter()
report = campaign.run_send(config, store, prepared)
t2 = time.perf_counter()
print(json.dumps({"prepare": t1 - t0, "send": t2 - t1, "sent": report.ledger["sent"],
                  "rss_mb": PEAK_RSS_KIB / 1024}))
""".replace("PEAK_RSS_KIB", PEAK_RSS_KIB)


def _server(module: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *(["--key", API_KEY] if "sendgrid" in module else []), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _project(folder: Path, n: int, env: dict[str, str]) -> Path:
    """A project with `n` active subscribers inserted in bulk (the import path is benchmarked elsewhere)."""
    from sqlalchemy import insert

    from pain_news.config.settings import load_config
    from pain_news.db.models import Subscriber
    from pain_news.subscribers.store import open_store

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(ROOT / "pain-news.toml", folder / "pain-news.toml")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "issues" / "2026-12-winter", folder / "issues" / "2026-12-winter")
    env = {**REAL_NEWSLETTER, **env}
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    store = open_store(
        load_config(folder / "pain-news.toml", env={"PAIN_NEWS_SECRET_KEY": SECRET, **OFFLINE_DNS}),
        create=True,
    )
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        for start in range(0, n, 50_000):
            conn.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"patient{i}@example.org",
                        "email_key": f"patient{i}@example.org",
                        "first_name": f"Pat{i}",
                        "last_name": "Example",
                        "status": "active",
                        "source": "bench",
                        "created_at": now,
                        "status_changed_at": now,
                    }
                    for i in range(start, min(n, start + 50_000))
                ],
            )
    store.close()
    return folder


def _send(folder: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIN_NEWS_") and k != "SENDGRID_API_KEY"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder)],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _cli_send(folder: Path) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, peak RSS of its worker processes together in MB) of
    `pain-news send ISSUE --provider sendgrid --yes` as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIN_NEWS_") and k != "SENDGRID_API_KEY"}
    exe = Path(sys.executable).with_name("pain-news")
    cmd = [
        str(exe),
        "send",
        "issues/2026-12-winter",
        "--provider",
        "sendgrid",
        "--yes",
        "--skip-published-check",
        "--no-canary",  # the whole list in one run, as before canaries existed
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    memory = _Memory(proc.pid)
    _, status, _ = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    memory.stop()
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0 and b"finished" in out, (out, err)
    return wall, memory.peak_mb, memory.workers_peak_mb


class _Memory:
    """Samples, every 0.1 s, a process's own peak RSS (its high-water mark, VmHWM)
    and the resident memory of its children (its worker processes) together."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid, self.peak_mb, self.workers_peak_mb = pid, 0.0, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.1):
            self.peak_mb = max(self.peak_mb, memory_kib(self.pid) / 1024)
            try:
                children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
                total = sum(memory_kib(c, "VmRSS") for c in children)
            except OSError:
                continue
            self.workers_peak_mb = max(self.workers_peak_mb, total / 1024)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _whole_process(work: Path, port: int, sizes: list[int]) -> str:
    """The send as a user runs it, beside the floor measured in the same run (medians of 5 at 100,000)."""
    import statistics

    from common import table

    # An installed package has compiled bytecode; this checkout's may not (PYTHONDONTWRITEBYTECODE).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pain_news")], check=True)
    env = {
        "PAIN_NEWS_SECRET_KEY": SECRET,
        **OFFLINE_DNS,
        "SENDGRID_API_KEY": API_KEY,
        "PAIN_NEWS_SENDGRID_HOST": f"http://127.0.0.1:{port}",
    }
    rows = []
    for n in sizes:
        folder = _project(work / f"cli-{n}", n, env)
        runs = 5 if n <= 100_000 else 1  # five: the floor alone varies by half between runs here
        sends, floors = [], []
        database = folder / "subscribers" / "pain-news.db"
        shutil.copyfile(database, work / "before-the-send.db")
        for _ in range(runs):  # interleaved, so a change in the machine's load touches both
            for leftover in database.parent.glob("pain-news.db-*"):
                leftover.unlink()
            shutil.copyfile(work / "before-the-send.db", database)  # every run sends the same first campaign
            sends.append(_cli_send(folder))
            floors.append(_floor(n, port))
        wall, floor = statistics.median(w for w, _, _ in sends), statistics.median(floors)
        rows.append(
            [
                f"{n:,}",
                f"{wall:.2f} s",
                f"{floor:.2f} s",
                f"{wall / floor:.1f}×",
                f"{max(r for _, r, _ in sends):.0f} MB",
                f"{max(w for _, _, w in sends):.0f} MB",
                ", ".join(f"{w:.2f}" for w, _, _ in sends),
                ", ".join(f"{f:.2f}" for f in floors),
            ]
        )
        shutil.rmtree(folder)
    return (
        "\nThe list send as a user runs it: `pain-news send ISSUE --provider sendgrid --yes` as its own process "
        "(start-up, build and checks, suppression sync, plan, ledger, progress, exit), SQLite, against the same "
        "stand-in; floor as above, measured in the same run, each floor run right after a send run. Medians of 5 at "
        "100,000 (each run from the same database, before the campaign existed), one run at 1,000,000. "
        "`--skip-published-check`: the bench's project "
        "has no archive folder. Peak RSS is the `send` process's own high-water mark; workers' RSS is its worker "
        "processes' together (both sampled every 0.1 s). Load average at the start: "
        f"{os.getloadavg()[0]:.1f}.\n\n"
        + table(
            [
                "subscribers",
                "send (whole process)",
                "floor",
                "send / floor",
                "peak RSS",
                "workers' RSS",
                "send runs (s)",
                "floor runs (s)",
            ],
            rows,
        )
    )


def _floor(n: int, port: int) -> float:
    """The same payloads as plain dicts (built untimed) posted over one keep-alive connection."""
    from pain_news.campaign.personalize import recipient_for
    from pain_news.config.settings import load_config
    from pain_news.delivery import message_from_config
    from pain_news.delivery.sendgrid import build_shared, personalization, substitution_tags

    config = load_config(
        ROOT / "pain-news.toml", env={**REAL_NEWSLETTER, "PAIN_NEWS_SECRET_KEY": SECRET, **OFFLINE_DNS}
    )
    from pain_news.publish import build

    issue, rendered = build.render(config, ROOT / "issues" / "2026-12-winter")
    message = message_from_config(
        config,
        issue.subject,
        rendered.email_html,
        rendered.email_text,
        list_message=True,
        campaign_id=1,
        category="bench",
    )
    shared, tags = build_shared(message, 0), substitution_tags(message)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    elapsed = 0.0
    for start in range(0, n, 1000):
        people = [
            personalization(
                message, recipient_for(config, 1, i, f"patient{i}@example.org", f"Pat{i}", "Example"), tags
            )
            for i in range(start, min(n, start + 1000))
        ]
        t = time.perf_counter()
        conn.request(
            "POST", "/v3/mail/send", body=json.dumps({**shared, "personalizations": people}), headers=headers
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 202, response.status
        elapsed += time.perf_counter() - t
    conn.close()
    return elapsed


def _mailmerge(folder: Path, port: int, n: int) -> float:
    """Seconds for mailmerge to send `n` copies of the same issue (HTML + text) to the sink."""
    exe = Path(sys.executable).with_name("mailmerge")
    if not exe.exists():  # bench-only tool: install on first use
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "mailmerge"], check=True)
    from pain_news.config.settings import load_config
    from pain_news.publish import build

    config = load_config(ROOT / "pain-news.toml", env={"PAIN_NEWS_SECRET_KEY": SECRET, **OFFLINE_DNS})
    issue, rendered = build.render(config, ROOT / "issues" / "2026-12-winter")
    jinja = lambda s: re.sub(r"%%[ht]\.(\w+)(?:\|[^%]*)?%%", r"{{\1}}", s)  # noqa: E731
    html = (
        "{% raw %}"
        + re.sub(r"%%[ht]\.(\w+)(?:\|[^%]*)?%%", r"{% endraw %}{{\1}}{% raw %}", rendered.email_html)
        + "{% endraw %}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "template.txt").write_text(
        f"TO: {{{{email}}}}\nSUBJECT: {issue.subject}\nFROM: TriState Pain Institute <news@tristatepain.example>\n"
        'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="pn-bench-boundary"\n\n'
        f"--pn-bench-boundary\nContent-Type: text/plain; charset=utf-8\n\n{jinja(rendered.email_text)}\n"
        f"--pn-bench-boundary\nContent-Type: text/html; charset=utf-8\n\n{html}\n--pn-bench-boundary--\n",
        encoding="utf-8",
    )
    # Every placeholder the issue uses gets a column (names, email, the unsubscribe and preference links).
    names = sorted(set(re.findall(r"%%[ht]\.(\w+)", rendered.email_html + rendered.email_text)) | {"email"})
    with (folder / "db.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        for i in range(n):
            values = {
                "email": f"patient{i}@example.org",
                "first_name": f"Pat{i}",
                "last_name": "Example",
                "unsubscribe_url": f"https://news.tristatepain.example/unsubscribe/{i}",
                "preferences_url": f"https://news.tristatepain.example/preferences/{i}",
            }
            w.writerow([values.get(name, "") for name in names])
    (folder / "server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nsecurity = Never\n", encoding="utf-8"
    )
    t = time.perf_counter()
    subprocess.run(
        [
            str(exe),
            "--no-dry-run",
            "--no-limit",
            "--template",
            "template.txt",
            "--database",
            "db.csv",
            "--config",
            "server.conf",
            "--output-format",
            "raw",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t


def run(work: Path) -> str:
    from common import table

    sizes = [10_000, 100_000] + ([] if os.environ.get("PAIN_NEWS_BENCH_MILLION") == "0" else [1_000_000])
    # The floor server issue 11 names: Mail Send answers 202 as soon as the body is read (the tests'
    # stand-in also checks every request, which would time our checks, not the send).
    standin, sg_port = _server("tests.fixtures.sendgrid_standin", "--accept-at-once")
    sink, smtp_port = _server("tests.fixtures.smtp")
    try:
        rows = []
        for n in sizes[:2]:  # in-process; the 1,000,000 run is the whole-process one below
            env = {
                "PAIN_NEWS_SECRET_KEY": SECRET,
                **OFFLINE_DNS,
                "SENDGRID_API_KEY": API_KEY,
                "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
                "PAIN_NEWS_SENDGRID_HOST": f"http://127.0.0.1:{sg_port}",
            }
            result = _send(_project(work / f"send-{n}", n, env))
            assert result["sent"] == n, result
            floor = _floor(n, sg_port)
            rows.append(
                [
                    f"{n:,}",
                    f"{result['send']:.2f} s",
                    f"{n / result['send']:,.0f}/s",
                    f"{result['rss_mb']:.0f} MB",
                    f"{floor:.2f} s",
                    f"{result['send'] / floor:.1f}×",
                    f"{result['prepare']:.2f} s",
                ]
            )
        env = {
            "PAIN_NEWS_SECRET_KEY": SECRET,
            **OFFLINE_DNS,
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp_port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
        whole = _whole_process(work, sg_port, sizes[1:])
        smtp = _send(_project(work / "smtp", SMTP_MESSAGES, env))
        assert smtp["sent"] == SMTP_MESSAGES, smtp
        mm = _mailmerge(work / "mailmerge", smtp_port, MAILMERGE_MESSAGES)
    finally:
        standin.kill()
        sink.kill()
        standin.wait()
        sink.wait()
    ours, theirs = SMTP_MESSAGES / smtp["send"], MAILMERGE_MESSAGES / mm
    million = (
        " The 1,000,000 run is the whole-process one below."
        if len(sizes) == 3
        else " The 1,000,000 run was skipped (PAIN_NEWS_BENCH_MILLION=0)."
    )
    return (
        "## Sending (`bench/bench_send.py`)\n\n"
        "List send through the `sendgrid` provider (official client, 1,000 personalizations a request, 3 threads; from "
        "20,000 recipients worker processes personalise, `delivery.processes`) to the loopback SendGrid stand-in run "
        "with `--accept-at-once` (Mail Send answers 202 once the body is read, as issue 11 defines the floor's server), "
        "**ledger included** (campaign + ledger rows, claim → in_flight → sent per batch, SQLite). "
        "Send = `run_send`; prepare = build + check + suppression sync, once per send. Floor = the same payloads as plain "
        "dicts (built untimed), encoded with the standard library's `json`, posted over one keep-alive connection. "
        "One run each."
        + million
        + "\n\n"
        + table(["subscribers", "send (wall)", "rate", "peak RSS", "floor", "send / floor", "prepare"], rows)
        + whole
        + "\nSMTP to a local aiosmtpd sink (own process), one personalised multipart message per recipient:\n\n"
        + table(
            ["sender", "messages", "wall", "rate"],
            [
                [
                    "pain-news list send (ledger included)",
                    f"{SMTP_MESSAGES:,}",
                    f"{smtp['send']:.1f} s",
                    f"{ours:,.0f}/s",
                ],
                [
                    "mailmerge (same message, same sink)",
                    f"{MAILMERGE_MESSAGES:,}",
                    f"{mm:.1f} s",
                    f"{theirs:,.0f}/s",
                ],
            ],
        )
        + f"\npain-news / mailmerge: {ours / theirs:.1f}× (mailmerge opens a connection per message; its count is smaller "
        "so the bench stays under two minutes — rates are compared).\n"
    )


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(ROOT))
    sys.stdout.write(run(Path(tempfile.mkdtemp())))
