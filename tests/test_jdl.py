"""gLite JDL: parsing, conversion to a spec, syntax errors with positions, conversion errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbas_async.errors import InvalidSpec
from cbas_async.jdl import Attribute, Expression, Record, jdl_to_spec, parse_jdl
from cbas_async.jobs import JobSpec, parse_spec

GLITE = """\
# a job as the gLite WMS took it
[
  Type = "Job";
  JobType = "Normal";
  Executable = "/bin/sh";
  Arguments = "-c 'python3 a.py > result.txt'";
  StdOutput = "out.txt";
  StdError = "err.txt";
  InputSandbox = {"a.py", "b.dat"};
  OutputSandbox = {"out.txt", "result.txt"};   // stdout is an output too
  Environment = {"CHUNK=1000", "X=y=z"};
  RetryCount = 3;
  ShallowRetryCount = 10;
  VirtualOrganisation = "biomed";
  Requirements = other.GlueCEStateStatus == "Production"
      && Member("VO-biomed-R", other.GlueHostApplicationSoftwareRunTimeEnvironment);
  Rank = -other.GlueCEStateEstimatedResponseTime;
  /* a nested record,
     and no ';' after the last attribute */
  DataRequirements = {[ DataCatalogType = "DLI"; InputData = {"lfn:/grid/x"}; ]}
]
"""


def test_glite_job_converts() -> None:
    spec = jdl_to_spec(GLITE)

    assert spec.name == "jdl-job"
    assert spec.command == ["/bin/sh", "-c", "python3 a.py > result.txt"]
    assert (spec.stdout, spec.stderr) == ("out.txt", "err.txt")
    assert spec.input_files == ["a.py", "b.dat"]
    assert spec.output_files == ["out.txt", "result.txt"]
    assert spec.env == {"CHUNK": "1000", "X": "y=z"}
    assert spec.max_attempts == 4


def test_result_equals_the_same_json_spec() -> None:
    jdl = 'JobName = "sum"; Executable = "./run.sh"; InputSandbox = "run.sh"; RetryCount = 0'

    assert jdl_to_spec(jdl, name="ignored") == parse_spec(
        {"name": "sum", "command": ["./run.sh"], "input_files": ["run.sh"], "max_attempts": 1}
    )


def test_expected_hours_is_read_as_a_number() -> None:
    assert jdl_to_spec('Executable = "x"; ExpectedHours = 2.5;').expected_hours == 2.5
    assert jdl_to_spec('Executable = "x"; expectedhours = 3;').expected_hours == 3.0
    assert jdl_to_spec('Executable = "x";').expected_hours is None


def test_defaults_and_name_argument() -> None:
    spec = jdl_to_spec('executable = "true"', name="from-file")

    assert spec.name == "from-file"
    assert spec.command == ["true"]
    assert spec.max_attempts == parse_spec({"name": "x", "command": ["x"]}).max_attempts


def test_names_are_case_insensitive_and_name_attribute_works() -> None:
    spec = jdl_to_spec('EXECUTABLE = "ls"; arguments = "-l"; NAME = "listing";')

    assert spec.name == "listing"
    assert spec.command == ["ls", "-l"]


def test_string_escapes() -> None:
    spec = jdl_to_spec(r'Executable = "echo"; Arguments = "\"a b\" c\\\\d \'e f\'";')

    assert spec.command == ["echo", "a b", "c\\d", "e f"]


def test_parse_jdl_values() -> None:
    attributes = parse_jdl(
        'A = "s"; B = 3; C = -2.5e1; D = TRUE; E = false; F = {1, "x", {}}; '
        "G = [ H = 1; ]; I = other.X >= 2 && (y || z)"
    )

    values = {key: attribute.value for key, attribute in attributes.items()}
    assert values == {
        "a": "s",
        "b": 3,
        "c": -25.0,
        "d": True,
        "e": False,
        "f": [1, "x", []],
        "g": Record({"h": Attribute("H", 1, 1, 74)}),
        "i": Expression("other.X >= 2 && (y || z)"),
    }
    assert (attributes["i"].line, attributes["i"].column) == (1, 84)


def test_empty_list_and_comment_only_attributes() -> None:
    attributes = parse_jdl("// nothing\nInputSandbox = {}; # none\n")

    assert attributes["inputsandbox"] == Attribute("InputSandbox", [], 2, 1)


def syntax_error(text: str) -> str:
    with pytest.raises(InvalidSpec) as caught:
        jdl_to_spec(text)
    [(field, problem)] = caught.value.errors
    assert field == ""
    return problem


SYNTAX_ERRORS = [
    ('Executable = "/bin/sh"\nArguments = "x";', 2, 1, "missing ';' before 'Arguments'"),
    ('Executable "x";', 1, 12, "missing '=' after 'Executable'"),
    ('Executable = "x";\nInputSandbox = {"a", "b";', 2, 16, "unclosed '{'"),
    ('InputSandbox = {"a"', 1, 16, "unclosed '{'"),
    ('InputSandbox = {"a" "b"};', 1, 21, "expected ',' or '}', found a string"),
    ('Executable = "abc;\n', 1, 14, "unterminated string"),
    ('Executable = "a\nb";', 1, 14, "unterminated string"),
    ('[\n  Executable = "x";\n', 1, 1, "unclosed '['"),
    ('Executable = "x";\n  executable = "y";', 2, 3, "duplicate attribute 'executable'"),
    ('Executable = "x";\nRequirements = (a && b;', 2, 16, "unclosed '('"),
    ('Executable = "x";\nRequirements = (a && b];', 2, 16, "unclosed '('"),
    ('Executable = "x";\nArguments = a);', 2, 14, "expected ';', found ')'"),
    ('Executable = "a\\qb";', 1, 16, "unknown escape '\\q'"),
    ('Executable = "x";\n/* never closed', 2, 1, "unterminated comment"),
    ("RetryCount = 3abc;", 1, 14, "invalid number"),
    ("RetryCount = 1.2.3;", 1, 14, "invalid number"),
    ('Executable = "x";\nExpectedHours = 2h;', 2, 17, "invalid number"),
    ("RetryCount = " + "9" * 5000 + ";", 1, 14, "number too long"),
    ('Executable = "x" @', 1, 18, "unexpected character '@'"),
    ("Executable = ;", 1, 14, "expected a value, found ';'"),
    ("InputSandbox = {,};", 1, 17, "expected a value, found ','"),
    ('InputSandbox = {"a", b};', 1, 22, "expected a value, found 'b'"),
    ('Executable = "x",\nArguments = "";', 1, 17, "expected ';', found ','"),
    ('Executable = "x";; ', 1, 18, "expected an attribute name, found ';'"),
    ('"x" = 1;', 1, 1, "expected an attribute name, found a string"),
    ('Executable = "x"; ]', 1, 19, "expected an attribute name, found ']'"),
    ('[ Executable = "x"; ] [', 1, 23, "unexpected text after the closing ']'"),
    ('Executable = = "x";', 1, 14, "unexpected '='"),
    ("Requirements = " + "{" * 40 + "}" * 40 + ";", 1, 48, "nested too deeply"),
]


@pytest.mark.parametrize(("text", "line", "column", "problem"), SYNTAX_ERRORS)
def test_syntax_error(text: str, line: int, column: int, problem: str) -> None:
    message = syntax_error(text)

    assert message.startswith(f"JDL line {line} column {column}: "), message
    assert problem in message


CONVERSION_ERRORS = [
    ('Arguments = "x";', "Executable", "required attribute is missing"),
    ("", "Executable", "required attribute is missing"),
    ('Executable = {"a"};', "Executable", "must be a string, not a list"),
    ("Executable = /bin/sh;", "Executable", "not the expression '/bin/sh'"),
    ("Executable = 7;", "Executable", "must be a string, not a number"),
    ('Executable = "";', "Executable", "must not be empty"),
    ('Executable = "x"; Arguments = "\'a";', "Arguments", "No closing quotation"),
    ('Executable = "x"; Arguments = {"a"};', "Arguments", "must be a string"),
    ('Executable = "x"; Environment = {"A=1", "B"};', "Environment[1]", "NAME=value"),
    ('Executable = "x"; Environment = {"A=1", "A=2"};', "Environment[1]", "sets 'A' again"),
    ('Executable = "x"; Environment = {"CBAS_X=1"};', "Environment.CBAS_X", "reserved"),
    ('Executable = "x"; environment = "1X=1";', 'Environment["1X"]', "variable name"),
    ('Executable = "x"; InputSandbox = {"../x"};', "InputSandbox[0]", "'..'"),
    ('Executable = "x"; InputSandbox = {"a", "/abs"};', "InputSandbox[1]", "relative"),
    ('Executable = "x"; OutputSandbox = {"o", "./o"};', "OutputSandbox[1]", "duplicate"),
    ('Executable = "x"; OutputSandbox = {1};', "OutputSandbox", "list of strings"),
    ('Executable = "x"; StdOutput = "/dev/stdout";', "StdOutput", "relative"),
    ('Executable = "x"; StdError = true;', "StdError", "must be a string, not a boolean"),
    ('Executable = "x"; RetryCount = 100;', "RetryCount", "0 to 99"),
    ('Executable = "x"; RetryCount = -1;', "RetryCount", "0 to 99"),
    ('Executable = "x"; RetryCount = 2.5;', "RetryCount", "whole number"),
    ('Executable = "x"; RetryCount = "3";', "RetryCount", "whole number"),
    ('Executable = "x"; ExpectedHours = 0;', "ExpectedHours", "greater than 0"),
    ('Executable = "x"; ExpectedHours = -2;', "ExpectedHours", "greater than 0"),
    ('Executable = "x"; ExpectedHours = 9000;', "ExpectedHours", "at most 8760"),
    ('Executable = "x"; ExpectedHours = 1e400;', "ExpectedHours", "finite"),
    ('Executable = "x"; ExpectedHours = "2";', "ExpectedHours", "a number, not a string"),
    ('Executable = "x"; expectedhours = true;', "expectedhours", "a number, not a boolean"),
    ('Executable = "x"; ExpectedHours = 2 * 3;', "ExpectedHours", "not the expression '2 * 3'"),
    ('Executable = "x"; JobName = "two words";', "JobName", "letters, digits"),
    ('Executable = "x"; JobName = [ A = 1; ];', "JobName", "not a record"),
    ('Executable = "x"; StdInput = "in.txt";', "StdInput", "unknown JDL attribute"),
    ('Executable = "x";\n  Queue = "long";', "Queue", "unknown JDL attribute (line 2 column 3)"),
]


@pytest.mark.parametrize(("text", "field", "problem"), CONVERSION_ERRORS)
def test_conversion_error(text: str, field: str, problem: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        jdl_to_spec(text)

    errors = caught.value.errors
    assert any(f == field and problem in p for f, p in errors), errors


def test_bad_name_argument_keeps_the_spec_field() -> None:
    with pytest.raises(InvalidSpec) as caught:
        jdl_to_spec('Executable = "x";', name="not valid")

    assert [field for field, _ in caught.value.errors] == ["name"]


def test_conversion_errors_are_reported_together() -> None:
    with pytest.raises(InvalidSpec) as caught:
        jdl_to_spec("Foo = 1; Environment = {1}; RetryCount = -1;")

    fields = [field for field, _ in caught.value.errors]
    assert fields == ["Foo", "Executable", "Environment", "RetryCount"]


JDL_ALPHABET = st.sampled_from(
    [*'[]{}();,="\\/*#-+.!&|<>0123456789 \n\t', "Executable", "RetryCount", "a", "e", "x"]
)


def outcome(text: str) -> JobSpec | InvalidSpec:
    try:
        return jdl_to_spec(text)
    except InvalidSpec as exc:
        return exc


@settings(deadline=None)
@given(st.text())
def test_any_text_is_a_spec_or_invalid(text: str) -> None:
    result = outcome(text)

    assert isinstance(result, JobSpec) or result.errors


@settings(deadline=None)
@given(st.lists(JDL_ALPHABET, max_size=40).map("".join))
def test_jdl_like_text_is_a_spec_or_invalid(text: str) -> None:
    result = outcome(text)

    assert isinstance(result, JobSpec) or all(problem for _, problem in result.errors)
