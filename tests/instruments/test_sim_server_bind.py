"""``ftjlab sim-server`` binds loopback unless given another explicit address."""

from __future__ import annotations

from ftjlab.cli import main
from ftjlab.commands.sim_server import _check_host


def test_an_empty_host_is_refused_before_anything_is_served(capsys):
    assert main(["sim-server", "--host", ""]) == 2
    assert "--host: empty" in capsys.readouterr().err


def test_loopback_is_told_apart_from_every_other_address():
    assert _check_host("127.0.0.1") is True
    assert _check_host("localhost") is True
    assert _check_host("0.0.0.0") is False  # every interface: announced on stderr


def test_the_default_is_loopback():
    from ftjlab.cli import build_parser

    args = build_parser().parse_args(["sim-server"])
    assert args.host == "127.0.0.1"
