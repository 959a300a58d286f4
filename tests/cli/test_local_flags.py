"""`cbas local`'s flags: the regions (the home region first), several traces, the speed; and
the settings the command makes of them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cbas_async import cli
from cbas_async.cli.parser import build_parser, region_list


def test_regions_traces_and_speed() -> None:
    argv = "local --regions us-east-1,us-west-2 --trace a.json b.json --trace c.json --speed 60"
    args = build_parser().parse_args(argv.split())
    assert args.regions == ("us-east-1", "us-west-2")
    assert build_parser().parse_args(["local", "--regions", " us-east-1 , eu-west-1"]).regions == (
        "us-east-1",
        "eu-west-1",
    )
    assert args.trace == [Path("a.json"), Path("b.json"), Path("c.json")]
    assert args.speed == 60.0


def test_without_regions_nor_traces_it_is_one_region_as_before() -> None:
    args = build_parser().parse_args(["local"])
    assert args.regions is None
    assert args.trace is None


def test_an_empty_region_list_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["local", "--regions", " , "])
    assert exit_.value.code == 2
    assert "name at least one region" in capsys.readouterr().err


def test_a_bad_region_name_is_a_configuration_error(tmp_path: Path) -> None:
    code = cli.main(["local", "--regions", "us-east-1,Mars"], {"CBAS_HOME": str(tmp_path)})
    assert code == 2


def test_region_list_type() -> None:
    assert region_list("eu-west-1") == ("eu-west-1",)
    with pytest.raises(argparse.ArgumentTypeError):
        region_list("")
