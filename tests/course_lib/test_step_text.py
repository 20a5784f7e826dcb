"""course_lib.data.step_text: the one place that writes and reads numbers, operators and claims of steps."""

import math
import re

import pytest

from course_lib.data.step_text import (
    AMOUNT,
    NUMBER,
    WRONG_OPS,
    apply_op,
    arithmetic_claims,
    calculate,
    check_arithmetic,
    extract_answer,
    format_number,
    parse_number,
    split_steps,
)


@pytest.mark.parametrize("value", [0, 7, 1200, 7119, 22.5, 3.33, 1234567.25])
def test_format_then_parse_gives_the_number_back(value):
    text = format_number(value)
    assert re.fullmatch(NUMBER, text) and parse_number(text) == pytest.approx(value)


def test_amount_reads_signs_and_dollars():
    assert [parse_number(m) for m in re.findall(AMOUNT, "-3 and $1,200.50 and 27")] == [-3.0, 1200.5, 27.0]


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("+", 45, 18, 63),
        ("-", 45, 18, 27),
        ("*", 13, 3, 39),
        ("x", 13, 3, 39),
        ("÷", 10, 4, 2.5),
        ("/", 1, 0, math.inf),
    ],
)
def test_calculate_is_exact(op, a, b, expected):
    assert calculate(op, a, b) == expected


def test_apply_op_keeps_whole_results_whole_and_rounds_uneven_divisions():
    assert apply_op("/", 96, 4) == 24 and isinstance(apply_op("/", 96, 4), int)
    assert apply_op("/", 10, 3) == 3.33 and apply_op("*", 2, 3) == 6


def test_every_wrong_operation_differs_from_the_right_one():
    assert set(WRONG_OPS) == {"+", "-", "*", "/"}
    assert all(op not in wrong and wrong for op, wrong in WRONG_OPS.items())


def test_reading_steps_claims_and_answers():
    assert split_steps("  a \r\n\r\n b\n") == ["a", "b"]
    assert arithmetic_claims("So 2 + 3 * 4 = 14.") == [(14.0, 14.0, "14")]
    assert check_arithmetic("So 10 / 3 = 3.33.") is True and check_arithmetic("So 10 / 3 = 3.4.") is False
    assert extract_answer("The answer is: 10\nWait, the answer is: -12") == -12.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="op must be one of \\+ - \\* /, got '%'"):
        calculate("%", 1, 2)
    with pytest.raises(TypeError, match="solution must be a str, got int"):
        split_steps(3)
