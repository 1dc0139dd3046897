"""``labelapp demo --kind``: argument parsing and a small project of each new kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.demo import KINDS, demo_kind
from core.store import ClassKind, Project
from labelapp.cli.parser import build_parser, main


def test_kind_choices_and_sizes_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["demo", "p"])
    assert (args.kind, args.size) == ("steel", None)
    args = parser.parse_args(["demo", "p", "--kind", "cracks", "--size", "250x100"])
    assert (args.kind, args.size) == ("cracks", (250, 100))
    assert parser.parse_args(["demo", "p", "--size", "64"]).size == 64
    assert [parser.parse_args(["demo", "p", "--kind", kind]).kind for kind in KINDS] == list(KINDS)
    for bad in (["--kind", "wood"], ["--size", "16"], ["--size", "64x"], ["--size", "ax64"], ["--size", "8x8x8"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["demo", "p", *bad])


@pytest.mark.parametrize(("kind", "size"), [("cracks", "250x100"), ("textured", "64")])
def test_demo_of_a_kind(kind: str, size: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / kind
    assert main(["demo", str(root), "--kind", kind, "--images", "6", "--size", size, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == kind and out["images"] == 6
    with Project.open(root) as project:
        classes = {cls.name: cls.kind for cls in project.classes.list()}
    spec = demo_kind(kind)
    assert classes == {name: ClassKind.OK if name == "ok" else ClassKind.DEFECT for name in spec.classes}
