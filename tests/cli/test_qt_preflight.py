"""`make demo`'s pre-check: the missing Qt system packages and the one apt-get line, found from the loader cache."""
from __future__ import annotations

from app.cli.qt_preflight import PACKAGES, check, install_line, missing_packages, needs_xcb


def listing(without: tuple[str, ...] = ()) -> str:
    """An `ldconfig -p` listing holding every needed library except those of `without`."""
    return "\n".join(f"\t{so} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/{so}"
                     for pkg, so in PACKAGES.items() if pkg not in without)


def test_missing_packages_from_the_loader_cache():
    gone = ("libxcb-icccm4", "libxcb-keysyms1")
    assert missing_packages(listing(gone), installed=lambda p: False) == list(gone)
    assert missing_packages(listing(), installed=lambda p: False) == []
    # dpkg knowing the package is enough (a library outside the loader cache).
    assert missing_packages(listing(gone), installed=lambda p: p == "libxcb-icccm4") == ["libxcb-keysyms1"]


def test_check_prints_one_install_line_and_stops():
    env = {"DISPLAY": ":0"}
    status, msg = check(env, listing(("libxcb-cursor0", "libxcb-xinerama0")), installed=lambda p: False)
    assert status == 2
    assert install_line(["libxcb-xinerama0", "libxcb-cursor0"]) in msg
    assert msg.count("apt-get install") == 1
    assert check(env, listing(), installed=lambda p: False) == (0, "")
    # No display at all: said, not left to Qt.
    status, msg = check({}, listing(), installed=lambda p: False)
    assert status == 2 and "No X display" in msg


def test_no_check_where_xcb_is_not_used():
    assert not needs_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not needs_xcb({"WAYLAND_DISPLAY": "wayland-0"})
    assert needs_xcb({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"})
    assert not needs_xcb({"DISPLAY": ":0"}, platform="darwin")
    assert check({"QT_QPA_PLATFORM": "offscreen"}, "", installed=lambda p: False) == (0, "")
