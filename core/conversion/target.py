"""The label: which column it is, what kind of problem it poses, and how classes map to 0..k-1.

Problem type, when not given: a target whose values are not all numbers (text, yes/no, true/false) is
classification; a numeric target whose values are all integers with at most
``INFERRED_MAX_CLASSES`` distinct values is classification too (0/1 flags, ratings, class codes);
anything else numeric is regression. Two classes make ``binary``, more make ``multiclass``.

Class order (index = encoded label): numbers in numeric order; a two-valued yes/no-like target with the
negative first (false/no before true/yes); any other text sorted.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.conversion.profile import TARGET_VALUES, TargetStats
from core.errors import UserInputError
from core.schema import ProblemType

TARGET_NAMES = ("target", "label", "y", "class")
INFERRED_MAX_CLASSES = 20
MAX_CLASSES = 200
_NEGATIVE = frozenset({"false", "no", "n", "f", "negative", "neg", "0"})
_POSITIVE = frozenset({"true", "yes", "y", "t", "positive", "pos", "1"})


@dataclass(frozen=True)
class TargetPlan:
    problem_type: ProblemType
    classes: tuple[str, ...] = ()
    numeric_keys: tuple[float, ...] | None = None  # class i is the number numeric_keys[i]


def find_target(columns: tuple[str, ...], requested: str | None) -> int:
    """The index of the label column: the one asked for, else the one with a conventional name."""
    listed = ", ".join(repr(name) for name in columns)
    if requested is not None:
        if requested in columns:
            return columns.index(requested)
        raise UserInputError(
            f"target column {requested!r} is not in the header; the columns are {listed}", column=requested
        )
    for i, name in enumerate(columns):
        if name.strip().lower() in TARGET_NAMES:
            return i
    raise UserInputError(
        'no target column: pass --target COLUMN, set "target" in dropml.json, or name the column '
        f"target, label, y or class; the columns are {listed}"
    )


def plan_target(name: str, stats: TargetStats, given: ProblemType | None) -> TargetPlan:
    """Decide the problem type and class mapping, refusing a target that cannot be learned as asked."""
    numeric = stats.numeric_read or stats.not_number == 0
    if given == "regression":
        if not numeric:
            raise UserInputError(
                f"problem type regression needs numbers in target column {name!r}, "
                f"but it holds text such as {stats.first_text!r}",
                column=name,
            )
        _refuse_constant(name, stats)
        return TargetPlan("regression")
    if given is None and numeric and not _looks_like_classes(stats):
        _refuse_constant(name, stats)
        return TargetPlan("regression")
    if stats.counts is None:
        raise UserInputError(
            f"target column {name!r} has more than {TARGET_VALUES} distinct values, far more than the "
            f"{MAX_CLASSES} classes a classifier takes; is it the right column, or should the problem type "
            "be regression?",
            column=name,
        )
    if numeric:
        by_number: dict[float, int] = {}
        for text, count in stats.counts:
            by_number[float(text)] = by_number.get(float(text), 0) + count
        keys: tuple[float, ...] | None = tuple(sorted(by_number))
        classes = tuple(_number_text(key) for key in keys or ())
    else:
        keys = None
        classes = _ordered_classes([text for text, _ in stats.counts])
    if numeric and given is None and len(keys or ()) == 1:
        # one number: not a classification problem the user asked for, and no regression either
        _refuse_constant(name, stats)
    _check_classes(name, classes, given)
    problem: ProblemType = given or ("binary" if len(classes) == 2 else "multiclass")
    return TargetPlan(problem, classes, keys)


def _looks_like_classes(stats: TargetStats) -> bool:
    if stats.counts is None:  # more than TARGET_VALUES values: not classes
        return False
    numbers = {float(text) for text, _ in stats.counts}
    if stats.numeric_read:
        return stats.integer_valued and len(numbers) <= INFERRED_MAX_CLASSES
    return len(numbers) <= INFERRED_MAX_CLASSES and all(number.is_integer() for number in numbers)


def _refuse_constant(name: str, stats: TargetStats) -> None:
    if stats.counts is None:
        return
    values = {float(text) for text, _ in stats.counts}
    if len(values) == 1:
        raise UserInputError(
            f"target column {name!r} has only one value ({_number_text(values.pop())}); there is nothing to predict",
            column=name,
        )


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _ordered_classes(texts: list[str]) -> tuple[str, ...]:
    lowered = {text.lower() for text in texts}
    if len(texts) == 2 and len(lowered & _NEGATIVE) == 1 and len(lowered & _POSITIVE) == 1:
        return tuple(sorted(texts, key=lambda text: text.lower() in _POSITIVE))
    return tuple(sorted(texts))


def _check_classes(name: str, classes: tuple[str, ...], given: ProblemType | None) -> None:
    shown = ", ".join(repr(c) for c in classes[:10]) + (", …" if len(classes) > 10 else "")
    if len(classes) < 2:
        raise UserInputError(
            f"target column {name!r} has only one class ({shown}); a classifier needs at least two",
            column=name,
        )
    if given == "binary" and len(classes) != 2:
        raise UserInputError(
            f"problem type binary needs exactly 2 classes, but target column {name!r} has {len(classes)}: {shown}",
            column=name,
        )
    if len(classes) > MAX_CLASSES:
        raise UserInputError(
            f"target column {name!r} has {len(classes)} classes (more than {MAX_CLASSES}); "
            "is it the right column, or should the problem type be regression?",
            column=name,
        )
