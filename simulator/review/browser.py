"""A headless Chromium: where it is, and printing a report to PDF with it.

The executable is ``$WSCAP_CHROMIUM`` when set, else the first of :data:`NAMES` on the PATH
(Debian and Ubuntu: ``apt-get install chromium``). Printing uses Chromium's own
``--headless --print-to-pdf`` with a throw-away profile; the page is read from the local file,
so nothing goes over the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from simulator.errors import ScenarioError

#: executables tried, in order
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: how long a print may take before it is abandoned
PRINT_TIMEOUT_S = 180.0   # not a catalog value


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable, or None when there is none."""
    given = os.environ.get("WSCAP_CHROMIUM")
    if given:
        return given if Path(given).is_file() and os.access(given, os.X_OK) else None
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """The executable, or a :class:`ScenarioError` that says how to get one."""
    exe = find_chromium()
    if exe is None:
        given = os.environ.get("WSCAP_CHROMIUM")
        where = (f"WSCAP_CHROMIUM={given} is not an executable file" if given else
                 f"none of {', '.join(NAMES)} is on the PATH")
        raise ScenarioError("--pdf", "chromium", f"a PDF needs a headless Chromium and {where}; "
                            "install one (Debian/Ubuntu: apt-get install chromium) or set "
                            "WSCAP_CHROMIUM to its path; the HTML report needs nothing")
    return exe


def chromium_flags() -> list[str]:
    """Flags for a headless Chromium that touches nothing outside its temporary profile."""
    flags = ["--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             "--metrics-recording-only", "--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")   # Chromium refuses to run as root with its sandbox
    return flags


def print_pdf(html: str | Path, pdf: str | Path) -> Path:
    """Print the HTML file ``html`` to ``pdf`` with headless Chromium (A4, the report's print
    stylesheet, no header or footer). Raises :class:`ScenarioError` when Chromium is missing
    or the print fails."""
    exe = require_chromium()
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    with tempfile.TemporaryDirectory(prefix="wscap-chromium-") as profile:
        cmd = [exe, *chromium_flags(), f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ScenarioError("--pdf", str(pdf), f"Chromium did not finish printing within "
                                f"{PRINT_TIMEOUT_S:g} s") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = " ".join((done.stderr or "").split()[-40:])
        raise ScenarioError("--pdf", str(pdf), f"Chromium ({exe}) failed to print "
                            f"(exit {done.returncode}): {tail}")
    return pdf
