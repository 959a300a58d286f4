"""The JSON job spec: happy paths, a round trip, malformed specs and loading from disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbas_async.errors import InvalidSpec
from cbas_async.jobs import Checkpoint, JobSpec, Resources, parse_spec, spec_from_dict, spec_to_dict
from cbas_async.specfile import load_spec_file

FULL: dict[str, Any] = {
    "name": "primes",
    "command": ["python3", "primes.py", "2000000"],
    "input_files": ["primes.py"],
    "output_files": ["result.txt"],
    "env": {"CHUNK": "1000"},
    "stdout": "out.txt",
    "stderr": "logs/err.txt",
    "checkpoint": {"method": "app", "interval_s": 60},
    "resources": {"vcpus": 1, "memory_mib": 512, "instance_types": ["c5.large", "m5.large"]},
    "max_attempts": 5,
    "max_price_usd_per_hour": 0.05,
    "deadline": "2026-12-01T12:00:00Z",
}
MINIMAL: dict[str, Any] = {"name": "hello", "command": ["echo", "hi"]}


def with_(**changes: Any) -> dict[str, Any]:
    return {**MINIMAL, **changes}


def errors_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(data)
    return caught.value.errors


def test_full_spec_parses() -> None:
    spec = parse_spec(json.dumps(FULL))

    assert spec.command == ["python3", "primes.py", "2000000"]
    assert spec.checkpoint == Checkpoint(method="app", interval_s=60.0)
    assert spec.resources.instance_types == ["c5.large", "m5.large"]
    assert spec.deadline == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert spec.stderr == "logs/err.txt"


def test_minimal_spec_gets_defaults() -> None:
    spec = parse_spec(MINIMAL)

    assert spec.input_files == spec.output_files == []
    assert spec.env == {}
    assert spec.checkpoint == Checkpoint(method="none", interval_s=None)
    assert spec.resources == Resources(vcpus=1, memory_mib=512, instance_types=["c5.large"])
    assert spec.max_attempts == 3
    assert spec.max_price_usd_per_hour is None
    assert spec.deadline is None
    assert spec.stdout is None


@pytest.mark.parametrize(("hours", "expected"), [(2, 2.0), (0.25, 0.25), (24 * 365, 8760.0)])
def test_expected_hours_is_a_positive_number_of_hours(hours: float, expected: float) -> None:
    spec = parse_spec(with_(expected_hours=hours))

    assert spec.expected_hours == expected
    assert parse_spec(MINIMAL).expected_hours is None


def test_bytes_are_accepted() -> None:
    assert parse_spec(json.dumps(MINIMAL).encode()).name == "hello"


def test_deadline_is_normalised_to_utc() -> None:
    spec = parse_spec(with_(deadline="2026-12-01T14:00:00+02:00"))

    assert spec.deadline == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert spec.deadline.utcoffset() is not None


def test_paths_are_normalised() -> None:
    spec = parse_spec(with_(input_files=["./a.py", "data//b.dat"], output_files=["out/"]))

    assert spec.input_files == ["a.py", "data/b.dat"]
    assert spec.output_files == ["out"]


def test_spec_is_frozen() -> None:
    spec = parse_spec(MINIMAL)

    with pytest.raises(ValueError, match="frozen"):
        spec.name = "other"


def test_round_trip_through_dict() -> None:
    spec = parse_spec(FULL)
    data = spec_to_dict(spec)

    assert json.loads(json.dumps(data)) == data
    assert data["deadline"] == "2026-12-01T12:00:00Z"
    assert set(data) == set(JobSpec.model_fields)
    assert spec_from_dict(data) == spec
    assert spec_from_dict(spec_to_dict(parse_spec(MINIMAL))) == parse_spec(MINIMAL)


MALFORMED: list[tuple[Any, str, str]] = [
    (with_(colour="red"), "colour", "unknown field"),
    (with_(resources={"gpus": 1}), "resources.gpus", "unknown field"),
    (with_(checkpoint={"method": "app", "every": 5}), "checkpoint.every", "unknown field"),
    ({"command": ["ls"]}, "name", "field required"),
    ({"name": "x"}, "command", "field required"),
    (with_(name="has space"), "name", "letters, digits"),
    (with_(name="x" * 65), "name", "1 to 64"),
    (with_(name="-x"), "name", "start with a letter or digit"),
    (with_(command=[]), "command", "must not be empty"),
    (with_(command="echo hi"), "command", "must be a list"),
    (with_(command=["echo", ""]), "command[1]", "must not be empty"),
    (with_(command=["echo", 3]), "command[1]", "must be a string"),
    (with_(command=["echo\x00"]), "command[0]", "NUL"),
    (with_(input_files=["/etc/passwd"]), "input_files[0]", "relative path"),
    (with_(output_files=["ok.txt", "a/../../b"]), "output_files[1]", "must not contain '..'"),
    (with_(input_files=["a", "dir\\b"]), "input_files[1]", "backslash"),
    (with_(input_files=[""]), "input_files[0]", "must not be empty"),
    (with_(input_files=["./"]), "input_files[0]", "must name a file"),
    (with_(input_files=["a\x00b"]), "input_files[0]", "NUL"),
    (with_(input_files=["a.py", "b", "./a.py"]), "input_files[2]", "duplicate of input_files[0]"),
    (with_(output_files="result.txt"), "output_files", "must be a list"),
    (with_(stdout="/tmp/out"), "stdout", "relative path"),
    (with_(stderr="../err"), "stderr", "'..'"),
    (with_(env={"1BAD": "x"}), 'env["1BAD"]', "variable name must match"),
    (with_(env={"CBAS_JOB_ID": "x"}), "env.CBAS_JOB_ID", "reserved"),
    (with_(env={"N": 3}), "env.N", "must be a string"),
    (with_(env=["A=1"]), "env", "must be an object"),
    (with_(checkpoint={"method": "criu"}), "checkpoint.method", "'app', 'dmtcp' or 'none'"),
    (with_(checkpoint={"interval_s": 0}), "checkpoint.interval_s", "greater than 0"),
    (with_(checkpoint="app"), "checkpoint", "must be an object"),
    (with_(resources={"vcpus": -2}), "resources.vcpus", "at least 1"),
    (with_(resources={"vcpus": "2"}), "resources.vcpus", "must be an integer"),
    (with_(resources={"vcpus": True}), "resources.vcpus", "must be an integer"),
    (with_(resources={"vcpus": 1.5}), "resources.vcpus", "must be an integer"),
    (with_(resources={"memory_mib": 32}), "resources.memory_mib", "at least 64"),
    (with_(resources={"disk_gib": 4}), "resources.disk_gib", "at least 8"),
    (with_(resources={"disk_gib": 20000}), "resources.disk_gib", "at most 16384"),
    (with_(resources={"disk_gib": 30.5}), "resources.disk_gib", "must be an integer"),
    (with_(resources={"instance_types": []}), "resources.instance_types", "must not be empty"),
    (with_(resources={"instance_types": ["C5.Large"]}), "resources.instance_types[0]", "c5.large"),
    (with_(resources={"instance_types": ["c5"]}), "resources.instance_types[0]", "instance type"),
    (with_(max_attempts=0), "max_attempts", "at least 1"),
    (with_(max_attempts=101), "max_attempts", "at most 100"),
    (with_(max_price_usd_per_hour=-0.1), "max_price_usd_per_hour", "greater than 0"),
    (with_(max_price_usd_per_hour="cheap"), "max_price_usd_per_hour", "must be a number"),
    (with_(max_price_usd_per_hour=float("inf")), "max_price_usd_per_hour", "finite"),
    (with_(expected_hours=0), "expected_hours", "must be greater than 0"),
    (with_(expected_hours=-1.5), "expected_hours", "must be greater than 0"),
    (with_(expected_hours="2"), "expected_hours", "must be a number"),
    (with_(expected_hours=True), "expected_hours", "must be a number"),
    (with_(expected_hours=[2]), "expected_hours", "must be a number"),
    (with_(expected_hours=24 * 365 + 1), "expected_hours", "must be at most 8760"),
    ('{"name": "x", "command": ["ls"], "expected_hours": 1e400}', "expected_hours", "finite"),
    (with_(deadline="2026-12-01T12:00:00"), "deadline", "time zone"),
    (with_(deadline="next tuesday"), "deadline", "ISO 8601"),
    (with_(deadline=1764590400), "deadline", "ISO 8601"),
    ("[1, 2]", "", "must be a JSON object, not an array"),
    ('"spec"', "", "must be a JSON object, not a string"),
    ("null", "", "not null"),
    ('{"name": "x", "command": ["ls"],}', "", "not valid JSON: Expecting"),
    ('{\n  "name": "x",\n  "command": [ls]\n}', "", "at line 3 column 15"),
    ("", "", "not valid JSON"),
    ('{"name": "x", "name": "y", "command": ["ls"]}', "", 'duplicate key "name"'),
    ('{"name": "x", "command": ["ls"], "max_attempts": NaN}', "", "NaN"),
    (b"\xff\xfe{", "", "not valid JSON"),
    ("[" * 100_000, "", "nested too deeply"),
]


@pytest.mark.parametrize(("data", "field", "problem"), MALFORMED)
def test_malformed_spec(data: Any, field: str, problem: str) -> None:
    errors = errors_of(data)

    assert any(f == field and problem in p for f, p in errors), errors


def test_every_error_is_reported_at_once() -> None:
    errors = errors_of(with_(name="", command=[], resources={"vcpus": 0}, extra=1))

    assert [field for field, _ in errors] == ["name", "command", "resources.vcpus", "extra"]


def test_message_lists_the_fields() -> None:
    with pytest.raises(InvalidSpec, match=r"resources\.vcpus: must be at least 1"):
        parse_spec(with_(resources={"vcpus": 0}))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_json_spec(tmp_path: Path) -> None:
    write(tmp_path / "primes.py", "print(2)\n")
    spec_file = write(tmp_path / "job.json", json.dumps(FULL))

    loaded = load_spec_file(spec_file)

    assert loaded.spec == parse_spec(FULL)
    assert loaded.base_dir == tmp_path


def test_load_jdl_spec_named_after_the_file(tmp_path: Path) -> None:
    write(tmp_path / "in" / "a.py", "")
    jdl = '[ Executable = "python3"; Arguments = "a.py"; InputSandbox = {"in/a.py"}; ]'
    spec_file = write(tmp_path / "my job.JDL", jdl)

    loaded = load_spec_file(spec_file)

    assert loaded.spec.name == "my-job"
    assert loaded.spec.command == ["python3", "a.py"]
    assert loaded.spec.input_files == ["in/a.py"]


def test_load_relative_path_gives_absolute_base_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "job.json", json.dumps(MINIMAL))
    monkeypatch.chdir(tmp_path)

    assert load_spec_file(Path("job.json")).base_dir == tmp_path


def load_errors(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(InvalidSpec) as caught:
        load_spec_file(path)
    return caught.value.errors


def test_load_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"

    assert load_errors(missing) == [("", f"no such file: {missing}")]


def test_load_unknown_suffix(tmp_path: Path) -> None:
    [(field, problem)] = load_errors(write(tmp_path / "job.yaml", "name: x"))

    assert field == ""
    assert "expected a .json or .jdl file" in problem


def test_load_directory(tmp_path: Path) -> None:
    (tmp_path / "job.json").mkdir()

    [(_, problem)] = load_errors(tmp_path / "job.json")

    assert problem.startswith("cannot read")


def test_load_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_bytes(b"\xff\xff")

    [(_, problem)] = load_errors(tmp_path / "job.json")

    assert "not UTF-8" in problem


def test_load_checks_input_files(tmp_path: Path) -> None:
    write(tmp_path / "here.txt", "")
    (tmp_path / "adir").mkdir()
    spec = with_(input_files=["here.txt", "missing.txt", "adir"])

    errors = load_errors(write(tmp_path / "job.json", json.dumps(spec)))

    assert errors == [
        ("input_files[1]", f"no such file: {tmp_path / 'missing.txt'}"),
        ("input_files[2]", f"not a regular file: {tmp_path / 'adir'}"),
    ]


def test_load_reports_spec_errors(tmp_path: Path) -> None:
    errors = load_errors(write(tmp_path / "job.json", '{"name": "x"}'))

    assert errors == [("command", "field required")]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from([*FULL, "extra"])


def outcome(data: Any) -> JobSpec | InvalidSpec:
    try:
        return parse_spec(data)
    except InvalidSpec as exc:
        return exc


@settings(deadline=None)
@given(st.text() | st.binary())
def test_any_text_is_a_spec_or_invalid(data: str | bytes) -> None:
    result = outcome(data)

    assert isinstance(result, JobSpec) or result.errors


@settings(deadline=None)
@given(st.dictionaries(FIELDS, JSON))
def test_any_data_is_a_spec_or_invalid(data: dict[str, Any]) -> None:
    result = outcome(data)

    if isinstance(result, JobSpec):
        assert spec_from_dict(spec_to_dict(result)) == result
    else:
        assert all(problem for _, problem in result.errors)
