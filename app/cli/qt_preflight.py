"""Before the window opens (`make demo`): are the system libraries Qt's xcb platform needs installed?

Without them Qt aborts (exit 134) with a misleading "xcb-cursor0 is needed" message. This finds which Debian/Ubuntu
packages are missing, by the shared library each provides (`ldconfig -p`, then `dpkg -s`), and prints the one
`apt-get install` line that adds them. Exit status 0: all present (or no xcb window is asked for: offscreen,
Wayland-only, not Linux); 2: something is missing (nothing is started). Run: `python -m app.cli.qt_preflight`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

# Debian/Ubuntu package -> the shared library (soname) it installs.
PACKAGES: dict[str, str] = {
    "libegl1": "libEGL.so.1",
    "libgl1": "libGL.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-shape0": "libxcb-shape.so.0",
    "libxcb-xinerama0": "libxcb-xinerama.so.0",
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libfontconfig1": "libfontconfig.so.1",
    "libdbus-1-3": "libdbus-1.so.3",
}


def ldconfig_listing() -> str:
    """`ldconfig -p` output ('' when ldconfig is not available)."""
    exe = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if exe is None:
        return ""
    try:
        return subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def dpkg_installed(package: str) -> bool:
    """True when dpkg reports the package installed (False without dpkg)."""
    if shutil.which("dpkg") is None:
        return False
    try:
        r = subprocess.run(["dpkg", "-s", package], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and "Status: install ok installed" in r.stdout


def missing_packages(listing: str | None = None,
                     installed: Callable[[str], bool] = dpkg_installed) -> list[str]:
    """The packages of PACKAGES whose library is not in the loader's cache and that dpkg does not know."""
    text = ldconfig_listing() if listing is None else listing
    return [pkg for pkg, soname in PACKAGES.items() if soname not in text and not installed(pkg)]


def install_line(packages: list[str]) -> str:
    return "sudo apt-get install -y " + " ".join(packages)


def needs_xcb(env: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether Qt will use its xcb (X11) platform plugin here."""
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return False
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if qpa:
        return qpa == "xcb"
    # Qt 6 prefers Wayland when a Wayland session is there; X11 (or XWayland) otherwise.
    return not env.get("WAYLAND_DISPLAY")


def check(env: dict[str, str] | None = None, listing: str | None = None,
          installed: Callable[[str], bool] = dpkg_installed) -> tuple[int, str]:
    """(exit status, message) — see the module docstring."""
    env = os.environ if env is None else env
    if not needs_xcb(env):
        return 0, ""
    missing = missing_packages(listing, installed)
    if missing:
        return 2, ("The nbparity window needs system libraries that are missing here (Qt would abort with a "
                   "misleading message):\n  " + ", ".join(missing) + "\nInstall them with:\n  "
                   + install_line(missing) + "\n(or run `make demo-headless` for the same comparison without a "
                   "window)")
    if not env.get("DISPLAY"):
        return 2, ("No X display ($DISPLAY is empty): run the window on a desktop, or under `xvfb-run -a make demo`, "
                   "or use `make demo-headless`.")
    return 0, ""


def main() -> int:
    status, message = check()
    if message:
        print(message, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
