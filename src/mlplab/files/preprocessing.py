"""The preprocessing a model file carries, as plain JSON, and its replay on new rows.

A model's `preprocessing` dict (all keys optional; docs/files.md has the full specification):
  feature_names   the input columns, by name (the table's columns are matched by name)
  columns         how each input column becomes model inputs, in input order, one block each:
                    {"name", "kind": "numeric", "fill": number | null}          -> 1 input
                    {"name", "kind": "onehot", "categories": [...], "fill": category | null,
                     "unknown": "ignore" | "error"}                             -> one input per category
                    {"name", "kind": "indicator"}                               -> 1 where the cell is missing
                  without `columns`, every feature is numeric with no fill (the files before this key)
  mean, scale     x' = (x - mean) / scale on the encoded inputs (one entry per model input)
  target_mean, target_scale   a regression model predicts (y - target_mean) / target_scale
  class_labels, target, task, standardized (False: the inputs were fed as they are)
  by_position     True: fitted on an array, so the feature names are x0, x1, ... and a table's columns
                  (less the target) are taken in file order
Missing cells are empty, NA, NaN, null, None or ? (any case). Nothing here unpickles or runs code.
"""
from __future__ import annotations

import math

import numpy as np

MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "<na>"}
KEYS = {"feature_names", "columns", "mean", "scale", "target_mean", "target_scale", "class_labels", "target",
        "task", "standardized", "by_position"}
KINDS = ("numeric", "onehot", "indicator")
UNKNOWN_RULES = ("ignore", "error")


# -- cells ----------------------------------------------------------------------------------------
def is_missing(value) -> bool:
    """Whether a cell counts as missing: None, NaN, or one of the MISSING spellings."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in MISSING
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return False


def category_key(value) -> str:
    """The text a category is matched by: numbers by value (1, 1.0 and "1.0" match), text stripped."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return text
        if not math.isfinite(number):
            return text
        value = number
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def width(spec: dict) -> int | None:
    """How many inputs the encoded columns make (None when the spec names no columns)."""
    blocks = spec.get("columns")
    if blocks is None:
        names = spec.get("feature_names")
        return None if names is None else len(names)
    return sum(len(b["categories"]) if b["kind"] == "onehot" else 1 for b in blocks)


def input_names(spec: dict) -> list[str]:
    """A name per encoded input: 'bill_length_mm', 'island=Dream', 'sex (missing)'."""
    blocks = spec.get("columns")
    if blocks is None:
        return list(spec.get("feature_names") or [])
    names = []
    for block in blocks:
        if block["kind"] == "onehot":
            names += [f"{block['name']}={category}" for category in block["categories"]]
        else:
            names.append(block["name"] + (" (missing)" if block["kind"] == "indicator" else ""))
    return names


# -- replay ---------------------------------------------------------------------------------------
def transform(spec: dict, columns, n_rows: int) -> tuple[np.ndarray, dict]:
    """Encode `columns` (name -> sequence of cells) as the model's float64 inputs.

    Returns (x, row_errors): row_errors maps a row index to the reason that row cannot be scored
    (a missing cell without a fill rule, text in a numeric column, an unknown category under "error");
    those rows hold zeros in x. Columns are taken by name; a missing one raises ValueError naming it.
    """
    blocks = spec.get("columns")
    if blocks is None:
        blocks = [{"name": n, "kind": "numeric", "fill": None} for n in spec.get("feature_names") or []]
    absent = [b["name"] for b in blocks if b["name"] not in columns]
    if absent:
        raise ValueError(f"no column {absent[0]!r}; the model needs the columns {', '.join(_distinct(blocks))}")
    parts, errors = [], {}
    for block in blocks:
        parts.append(_encode_block(block, columns[block["name"]], n_rows, errors))
    x = np.concatenate(parts, axis=1) if parts else np.zeros((n_rows, 0))
    if spec.get("mean") is not None:
        x = (x - np.asarray(spec["mean"], dtype=np.float64)) / np.asarray(spec["scale"], dtype=np.float64)
    if errors:
        x[sorted(errors)] = 0.0
    return x, errors


def untransform_target(spec: dict, outputs: np.ndarray) -> np.ndarray:
    """A regression model's outputs in the target's own units."""
    if spec.get("target_mean") is None:
        return outputs
    return outputs * np.float64(spec["target_scale"]) + np.float64(spec["target_mean"])


def _distinct(blocks) -> list[str]:
    return list(dict.fromkeys(b["name"] for b in blocks))


def _encode_block(block, cells, n_rows, errors) -> np.ndarray:
    name, kind = block["name"], block["kind"]
    if kind == "indicator":
        return missing_mask(cells).astype(np.float64)[:, None]
    if kind == "numeric":
        values, bad = numbers(cells)
        missing = np.isnan(values)
        if block.get("fill") is not None:
            values[missing] = block["fill"]
        else:
            for row in np.flatnonzero(missing & ~bad):
                errors.setdefault(int(row), f"missing value in column {name!r}")
        for row in np.flatnonzero(bad):
            errors.setdefault(int(row), f"column {name!r} is not a number: {str(cells[row])!r}")
        values[np.isnan(values)] = 0.0
        return values[:, None]
    categories = block["categories"]
    position = {category_key(c): i for i, c in enumerate(categories)}
    fill = block.get("fill")
    result = np.zeros((n_rows, len(categories)))
    for row, cell in enumerate(_cells(cells)):
        if is_missing(cell):
            if fill is None:
                errors.setdefault(row, f"missing value in column {name!r}")
                continue
            cell = fill
        index = position.get(category_key(cell))
        if index is not None:
            result[row, index] = 1.0
        elif block.get("unknown", "ignore") == "error":
            errors.setdefault(row, f"unknown category {str(cell)!r} in column {name!r} (known: "
                                   f"{', '.join(map(str, categories))})")
    return result


def _cells(cells):
    return cells.tolist() if isinstance(cells, np.ndarray) else cells


def missing_mask(cells) -> np.ndarray:
    """True where a cell is missing."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "fc":
        return np.isnan(cells)
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "biu":
        return np.zeros(len(cells), dtype=bool)
    return np.fromiter((is_missing(c) for c in _cells(cells)), dtype=bool, count=len(cells))


def numbers(cells) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN where missing or not a number, True where a cell is not a number)."""
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "biuf":
        values = cells.astype(np.float64)
        values[~np.isfinite(values)] = np.nan  # inf counts as missing: it cannot be scored
        return values, np.zeros(len(values), dtype=bool)
    values = np.full(len(cells), np.nan)
    bad = np.zeros(len(cells), dtype=bool)
    for row, cell in enumerate(_cells(cells)):
        if is_missing(cell):
            continue
        try:
            number = float(cell)
        except (TypeError, ValueError):
            bad[row] = True
            continue
        if math.isfinite(number):
            values[row] = number
        else:
            bad[row] = True
    return values, bad


# -- checks ---------------------------------------------------------------------------------------
def check_spec(spec: dict, model=None) -> dict:
    """Validate `spec` (and, given a built model, its fit with the model's input and output sizes).
    Returns it as plain JSON values; raises ValueError naming the field."""
    if not isinstance(spec, dict):
        raise TypeError(f"Invalid type for argument `preprocessing`: expected a dict. Received: {spec!r}.")
    unknown = set(spec) - KEYS
    if unknown:
        raise ValueError(f"Invalid value for argument `preprocessing`: unknown key {sorted(unknown)[0]!r}; "
                         f"valid keys: {', '.join(sorted(KEYS))}.")
    result = {key: _check_field(key, value) for key, value in spec.items()}
    if result.get("columns") is not None:
        names = _distinct(result["columns"])
        if result.get("feature_names") is None:
            result["feature_names"] = names
        elif not set(names) <= set(result["feature_names"]):
            absent = next(n for n in names if n not in result["feature_names"])
            raise _field("feature_names", f"every column a block reads (no {absent!r})", result["feature_names"])
    n = width(result)
    if n is not None:
        for key in ("mean", "scale"):
            if result.get(key) is not None and len(result[key]) != n:
                raise _field(key, f"one entry per feature (model input; {n} here)", f"{len(result[key])} entries")
    for first, second in (("mean", "scale"), ("target_mean", "target_scale")):
        if (result.get(first) is None) != (result.get(second) is None):
            missing = first if result.get(first) is None else second
            raise _field(missing, f"a value: `{first}` and `{second}` go together", None)
    if model is not None:
        _check_against_model(result, model)
    return result


def _field(key, expected, received) -> ValueError:
    return ValueError(f"Invalid preprocessing `{key}`: expected {expected}. Received: {received!r}.")


def _check_field(key, value):
    if value is None:
        return None
    if key in ("mean", "scale"):
        values = _finite_list(key, value)
        if key == "scale" and any(v <= 0 for v in values):
            raise _field(key, "positive numbers", value)
        return values
    if key in ("target_mean", "target_scale"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or (key == "target_scale" and value <= 0):
            raise _field(key, "a finite number" + (" > 0" if key == "target_scale" else ""), value)
        return float(value)
    if key == "feature_names":
        names = _label_list(key, value)
        if not all(isinstance(v, str) for v in names):
            raise _field(key, "a list of strings", value)
        return names
    if key == "class_labels":
        return _label_list(key, value)
    if key == "columns":
        if not isinstance(value, (list, tuple)):
            raise _field(key, "a list of column blocks", value)
        return [_check_block(i, block) for i, block in enumerate(value)]
    if key == "task":
        if value not in ("classification", "regression", "multilabel"):
            raise _field(key, "'classification', 'regression' or 'multilabel'", value)
        return value
    if key in ("standardized", "by_position"):
        if not isinstance(value, bool):
            raise _field(key, "true or false", value)
        return value
    if not isinstance(value, str):
        raise _field(key, "a string", value)
    return value


def _finite_list(key, value) -> list:
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _field(key, "a list of finite numbers", value) from None
    if values.ndim != 1 or not np.isfinite(values).all():
        raise _field(key, "a list of finite numbers", value)
    return values.tolist()


def _label_list(key, value) -> list:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            for v in value):
        raise _field(key, "a list of strings or numbers", value)
    items = [v.item() if hasattr(v, "item") else v for v in value]
    keys = [category_key(v) for v in items]
    if len(set(keys)) != len(keys):
        repeated = next(v for v, k in zip(items, keys) if keys.count(k) > 1)
        raise _field(key, "distinct entries", f"{repeated!r} twice")
    return items


def _check_block(index, block) -> dict:
    where = f"columns[{index}]"
    if not isinstance(block, dict) or not isinstance(block.get("name"), str) or block.get("kind") not in KINDS:
        raise _field(where, f"a dict with a string `name` and a `kind` of {', '.join(KINDS)}", block)
    kind = block["kind"]
    allowed = {"numeric": {"name", "kind", "fill"}, "indicator": {"name", "kind"},
               "onehot": {"name", "kind", "categories", "fill", "unknown"}}[kind]
    extra = set(block) - allowed
    if extra:
        raise _field(where, f"only the keys {', '.join(sorted(allowed))} for a {kind} column", sorted(extra))
    result = dict(block)
    fill = block.get("fill")
    if kind == "numeric" and fill is not None:
        if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill):
            raise _field(f"{where}.fill", "a finite number or null", fill)
        result["fill"] = float(fill)
    if kind == "onehot":
        result["categories"] = _label_list(f"{where}.categories", block.get("categories"))
        if not result["categories"]:
            raise _field(f"{where}.categories", "at least one category", [])
        if block.get("unknown", "ignore") not in UNKNOWN_RULES:
            raise _field(f"{where}.unknown", "'ignore' or 'error'", block.get("unknown"))
        fill = block.get("fill")
        if fill is not None and category_key(fill) not in {category_key(c) for c in result["categories"]}:
            raise _field(f"{where}.fill", "one of the categories", fill)
    return result


def _check_against_model(spec: dict, model) -> None:
    if not getattr(model, "built", False):
        return
    shape = tuple(model.input_shape)
    n = width(spec)
    if n is not None and len(shape) == 1 and n != shape[0]:
        what = "the columns encode to" if spec.get("columns") is not None else "feature_names has"
        raise _field("columns" if spec.get("columns") is not None else "feature_names",
                     f"as many inputs as the model takes ({shape[0]})", f"{what} {n}")
    units = model.output_shape[-1]
    labels = spec.get("class_labels")
    if labels is not None:
        expected = 2 if units == 1 else units
        if len(labels) != expected:
            raise _field("class_labels", f"one label per class of the model's output ({expected})",
                         f"{len(labels)} labels")
    if spec.get("task") == "regression" and labels is not None:
        raise _field("class_labels", "none for a regression model", labels)


# -- building a spec from a table -----------------------------------------------------------------
def numeric_block(name, cells, missing: str, indicator: bool) -> list[dict]:
    """The block(s) for a numeric column fitted on the training cells under the `missing` rule."""
    values, _ = numbers(cells)
    present = values[~np.isnan(values)]
    fill = None
    if missing != "drop" and len(present):  # a fill even when training had no gap: new rows may
        if missing == "mean":
            fill = float(present.mean())
        elif missing == "median":
            fill = float(np.median(present))
        else:  # most-frequent: the smallest of the most frequent values, as scikit-learn
            distinct, counts = np.unique(present, return_counts=True)
            fill = float(distinct[np.argmax(counts)])
    blocks = [{"name": name, "kind": "numeric", "fill": fill}]
    if indicator and len(present) < len(values):
        blocks.append({"name": name, "kind": "indicator"})
    return blocks


def onehot_block(name, cells, missing: str, indicator: bool, unknown: str) -> list[dict]:
    """The block(s) for a categorical column: categories sorted (numbers by value, text alphabetically)."""
    present = [c for c in _cells(cells) if not is_missing(c)]
    by_key = {}
    for cell in present:
        by_key.setdefault(category_key(cell), cell if not isinstance(cell, str) else cell.strip())
    keys = sorted(by_key, key=_sort_key)
    categories = [_json_category(by_key[k]) for k in keys]
    fill = None
    if missing != "drop" and present:
        counts = {}
        for cell in present:
            counts[category_key(cell)] = counts.get(category_key(cell), 0) + 1
        best = max(keys, key=lambda k: (counts[k], -keys.index(k)))  # ties: the first in sorted order
        fill = categories[keys.index(best)]
    blocks = [{"name": name, "kind": "onehot", "categories": categories, "fill": fill, "unknown": unknown}]
    if indicator and len(present) < len(cells):
        blocks.append({"name": name, "kind": "indicator"})
    return blocks


def _sort_key(key: str):
    try:
        return (0, float(key), "")
    except ValueError:
        return (1, 0.0, key)


def _json_category(value):
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if isinstance(value, (str, int, float)) else str(value)


def standardization(x: np.ndarray, spec: dict) -> tuple[list, list]:
    """Mean and scale for the encoded inputs: numeric and indicator inputs to mean 0, std 1; one-hot
    inputs stay 0/1 (mean 0, scale 1). A constant input gets scale 1."""
    with np.errstate(over="ignore", invalid="ignore"):  # a column beyond float64's square: caught by the caller
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    start = 0
    for block in spec.get("columns") or []:
        n = len(block["categories"]) if block["kind"] == "onehot" else 1
        if block["kind"] == "onehot":
            mean[start:start + n], scale[start:start + n] = 0.0, 1.0
        start += n
    return mean.tolist(), scale.tolist()


# -- a fitted scikit-learn Pipeline as a spec ------------------------------------------------------
SUPPORTED_STEPS = "StandardScaler, MinMaxScaler, SimpleImputer, OneHotEncoder, ColumnTransformer and Pipeline"


def from_sklearn(transformer, feature_names: list[str]) -> dict:
    """The spec equivalent to the fitted `transformer` (Pipeline steps before the estimator) applied to
    columns `feature_names`. Anything that cannot be stored as plain numbers is refused by name."""
    state = [_Column(name) for name in feature_names]
    state = _apply(transformer, state)
    blocks, mean, scale = [], [], []
    for column in state:
        if column.kind == "onehot_member":
            if not blocks or blocks[-1].get("_owner") is not column.owner:
                blocks.append({**column.owner_block(), "_owner": column.owner, "categories": []})
            blocks[-1]["categories"].append(column.category)
        else:
            if column.kind == "numeric" and isinstance(column.fill, str):
                raise ValueError(f"Cannot save the pipeline: SimpleImputer fills column {column.name!r} with text "
                                 f"{column.fill!r} but no OneHotEncoder follows it.")
            blocks.append(column.block())
        mean.append(column.mean)
        scale.append(column.scale)
    for block in blocks:
        block.pop("_owner", None)
    spec = {"columns": blocks, "feature_names": list(dict.fromkeys(b["name"] for b in blocks))}
    if any(m != 0.0 for m in mean) or any(s != 1.0 for s in scale):
        spec.update(mean=mean, scale=scale, standardized=True)
    else:
        spec["standardized"] = False
    return spec


class _Column:
    """One output column of the transformers so far: where it comes from and the affine map on it."""

    def __init__(self, name):
        self.name, self.kind, self.fill, self.mean, self.scale = name, "numeric", None, 0.0, 1.0
        self.owner = self.category = self.unknown = self.owner_fill = None

    def copy(self):
        other = _Column(self.name)
        other.__dict__.update(self.__dict__)
        return other

    def block(self):
        if self.kind == "indicator":
            return {"name": self.name, "kind": "indicator"}
        return {"name": self.name, "kind": "numeric", "fill": self.fill}

    def owner_block(self):
        return {"name": self.name, "kind": "onehot", "fill": self.owner_fill, "unknown": self.unknown}


def _refuse(step, why="") -> ValueError:
    return ValueError(f"Cannot save the pipeline step {type(step).__name__}{why}: a model file stores only "
                      f"{SUPPORTED_STEPS} steps in front of an mlplab MLPClassifier or MLPRegressor.")


def _apply(step, state: list) -> list:
    kind = type(step).__name__
    if isinstance(step, str) and step == "passthrough" or step is None:
        return state
    if kind in ("Pipeline", "_Chain"):
        for _, sub in step.steps:
            state = _apply(sub, state)
        return state
    if kind == "ColumnTransformer":
        return _column_transformer(step, state)
    if kind == "StandardScaler":
        mean = step.mean_ if step.mean_ is not None else np.zeros(len(state))
        scale = step.scale_ if step.scale_ is not None else np.ones(len(state))
        return [_affine(c, m, s) for c, m, s in zip(_fresh(state), mean, scale)]
    if kind == "MinMaxScaler":
        if getattr(step, "clip", False):
            raise _refuse(step, "(clip=True)")
        return [_affine(c, -lo / s, 1.0 / s) for c, lo, s in zip(_fresh(state), step.min_, step.scale_)]
    if kind == "SimpleImputer":
        return _imputer(step, state)
    if kind == "OneHotEncoder":
        return _onehot(step, state)
    raise _refuse(step)


def _fresh(state):
    return [c.copy() for c in state]


def _affine(column, mean, scale):
    """Compose x -> (x - mean) / scale after the column's current map."""
    scale = float(scale) if scale != 0 else 1.0
    column.mean = column.mean + float(mean) * column.scale
    column.scale = column.scale * scale
    return column


def _imputer(step, state):
    if not (isinstance(step.missing_values, float) and math.isnan(step.missing_values)) \
            and step.missing_values is not None:
        raise _refuse(step, f"(missing_values={step.missing_values!r}; only NaN is stored)")
    statistics = list(step.statistics_)
    if any(is_missing(v) for v in statistics):
        raise _refuse(step, "(a column that was empty in training)")
    result = []
    for column, value in zip(_fresh(state), statistics):
        if column.kind != "numeric":
            raise _refuse(step, "(after a OneHotEncoder)")
        if column.fill is None:
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
                column.fill = float(value) * column.scale + column.mean  # the fill in the column's raw units
            elif column.mean == 0.0 and column.scale == 1.0:
                column.fill = _json_category(value)  # text: a OneHotEncoder must follow
            else:
                raise _refuse(step, f"(a text fill {value!r} after a scaler)")
        result.append(column)
    if getattr(step, "add_indicator", False):
        for index in step.indicator_.features_:
            indicator = _Column(state[index].name)
            indicator.kind = "indicator"
            result.append(indicator)
    return result


def _onehot(step, state):
    if step.drop is not None:
        raise _refuse(step, f"(drop={step.drop!r})")
    if step.handle_unknown not in ("ignore", "error"):
        raise _refuse(step, f"(handle_unknown={step.handle_unknown!r})")
    if getattr(step, "max_categories", None) is not None or getattr(step, "min_frequency", None) is not None:
        raise _refuse(step, "(infrequent categories)")
    result = []
    for column, categories in zip(state, step.categories_):
        if column.kind != "numeric" or column.mean != 0.0 or column.scale != 1.0:
            raise _refuse(step, f"(column {column.name!r} is scaled or encoded before it)")
        owner = object()
        for category in categories:
            if is_missing(category) and not isinstance(category, str):
                raise _refuse(step, f"(column {column.name!r} has a missing value as a category)")
            member = _Column(column.name)
            member.kind, member.owner, member.category = "onehot_member", owner, _json_category(category)
            member.unknown, member.owner_fill = step.handle_unknown, column.fill
            result.append(member)
    return result


def _column_transformer(step, state):
    by_name = {c.name: i for i, c in enumerate(state)}
    result = []
    for name, transformer, selection in step.transformers_:
        indices = _selected(selection, state, by_name, step)
        if transformer == "drop":
            continue
        result += _apply(transformer, [state[i].copy() for i in indices])
    return result


def _selected(selection, state, by_name, step) -> list[int]:
    if callable(selection):
        raise _refuse(step, "(a callable column selection)")
    items = list(np.atleast_1d(np.asarray(selection, dtype=object)))
    if items and all(isinstance(i, (bool, np.bool_)) for i in items):
        return [i for i, keep in enumerate(items) if keep]
    indices = []
    for item in items:
        if isinstance(item, (int, np.integer)):
            indices.append(int(item))
        elif item in by_name:
            indices.append(by_name[item])
        else:
            raise _refuse(step, f"(it selects {item!r}, which is not an input column)")
    return indices


def pipeline_parts(pipeline) -> tuple:
    """(the Sequential, the preprocessing spec) of a fitted scikit-learn Pipeline whose last step is an
    mlplab MLPClassifier/MLPRegressor, or of such an estimator alone (its input recorded as not
    standardized). Refuses anything else by name."""
    from mlplab.core.registry import MODELS

    steps = list(getattr(pipeline, "steps", [(None, pipeline)]))
    estimator = steps[-1][1]
    model = getattr(estimator, "model_", None)
    if not isinstance(model, MODELS.get("sequential")):
        raise TypeError(f"Cannot save {type(pipeline).__name__}"
                        + (f" ending in {type(estimator).__name__}" if len(steps) > 1 or steps[0][0] else "")
                        + ": expected an mlplab Sequential, a fitted mlplab MLPClassifier/MLPRegressor, or a "
                          "fitted scikit-learn Pipeline ending in one.")
    names = getattr(pipeline, "feature_names_in_", None)
    n_inputs = getattr(pipeline, "n_features_in_", None) or model.input_shape[0]
    positional = names is None
    names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(n_inputs)]
    front = [step for _, step in steps[:-1]]
    spec = from_sklearn(_Chain(front), names)
    if positional:
        spec["feature_names"] = names  # every column, in order, even those a ColumnTransformer drops
        spec["by_position"] = True
    classes = getattr(estimator, "classes_", None)
    spec["task"] = "classification" if classes is not None else "regression"
    if classes is not None:
        spec["class_labels"] = [_json_category(c) for c in classes]
    return model, spec


class _Chain:
    """The steps in front of the estimator, applied in turn."""

    def __init__(self, steps):
        self.steps = [(str(i), step) for i, step in enumerate(steps)]


# -- the table side: fitting a spec, preparing a model's inputs -------------------------------------
def fit_table(table, target: str | None, types: dict, *, missing: str = "mean", indicator: bool = False,
              unknown: str = "ignore", standardize: bool = True) -> tuple[dict, np.ndarray, dict]:
    """Fit the preprocessing of `table`'s feature columns (`types`: name -> 'numeric'|'categorical',
    in input order) and encode them. Returns (spec, x, row_errors); under missing='drop' the rows
    with a missing cell are in row_errors (the caller drops them)."""
    if missing not in ("drop", "mean", "median", "most-frequent"):
        raise ValueError(f"Invalid value for --missing: expected drop, mean, median or most-frequent. "
                         f"Received: {missing!r}.")
    if unknown not in UNKNOWN_RULES:
        raise ValueError(f"Invalid value for --unknown: expected ignore or error. Received: {unknown!r}.")
    blocks = []
    for name, kind in types.items():
        cells = table.columns[name]
        if kind == "numeric":
            blocks += numeric_block(name, cells, missing, indicator)
        else:
            blocks += onehot_block(name, cells, missing, indicator, unknown)
    spec = {"feature_names": list(types), "columns": blocks, "standardized": bool(standardize)}
    if target is not None:
        spec["target"] = target
    x, errors = transform(spec, table.columns, len(table))
    if standardize:
        keep = np.setdiff1d(np.arange(len(x)), np.fromiter(errors, dtype=np.int64, count=len(errors)))
        spec["mean"], spec["scale"] = standardization(x[keep] if len(keep) else x, spec)
        x = (x - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
        if errors:
            x[sorted(errors)] = 0.0
    return spec, x, errors


def prepare_inputs(model, table) -> tuple[np.ndarray, dict]:
    """The model's inputs for `table` (anything with `columns`: name -> cells, and len()), replaying the
    model's saved preprocessing: columns matched by name, categories encoded, missing cells filled,
    standardized. Returns (x float64, row_errors: row index -> why that row cannot be scored).
    A model saved without feature names takes every column but its target, by position."""
    spec = getattr(model, "preprocessing", None) or {}
    if not isinstance(getattr(table, "columns", None), dict):
        table = _as_table(table)  # a pandas DataFrame or a dict of columns
    if spec.get("by_position") and spec.get("feature_names") is not None:
        target = spec.get("target") or getattr(table, "target_hint", None)
        names = [n for n in table.columns if n != target]
        if len(names) != len(spec["feature_names"]):
            raise ValueError(f"the model takes {len(spec['feature_names'])} columns by position (it was fitted on "
                             f"an array); found {len(names)} ({', '.join(names)})")
        columns = {new: table.columns[old] for new, old in zip(spec["feature_names"], names)}
        return transform(spec, columns, len(table))
    if spec.get("feature_names") is None:
        target = spec.get("target") or getattr(table, "target_hint", None)
        names = [n for n in table.columns if n != target]
        expected = model.input_shape[0] if model.built and len(model.input_shape) == 1 else None
        if expected is not None and len(names) != expected:
            raise ValueError(f"the model takes {expected} numeric columns; found {len(names)} ({', '.join(names)})")
        spec = {**spec, "feature_names": names}
    return transform(spec, table.columns, len(table))


def prepare_table(data, target=None, *, categorical=(), missing: str = "mean", indicator: bool = False,
                  unknown: str = "ignore", standardize: bool = True):
    """A pandas DataFrame (or a dict of columns) as what `model.fit` takes, the way `mlplab train`
    reads a file: returns (x, y, spec). `target` is a column name or a Series/list of labels (None: no
    y). Text targets become class indices (labels in spec["class_labels"]). Set
    `model.preprocessing = spec` before saving, and `prepare_inputs(model, new_frame)` replays it.

    >>> x, y, spec = prepare_table(frame, "species")   # doctest: +SKIP
    >>> model.fit(x, y); model.preprocessing = spec     # doctest: +SKIP
    """
    from mlplab.datasets import tables as tabular

    table = _as_table(data)
    name = target if isinstance(target, str) else None
    if target is not None and name is None:
        values = list(target.tolist() if hasattr(target, "tolist") else target)
        if len(values) != len(table):
            raise ValueError(f"Invalid value for argument `target`: expected one label per row ({len(table)}). "
                             f"Received: {len(values)}.")
        table.columns["__target__"] = np.array([None if is_missing(v) else v for v in values], dtype=object)
        name = "__target__"
    types = tabular.infer_types(table, name, categorical=categorical)
    spec, x, errors = fit_table(table, None if name == "__target__" else name, types, missing=missing,
                                indicator=indicator, unknown=unknown, standardize=standardize)
    if errors:
        row = min(errors)
        raise ValueError(f"Invalid value for argument `data`: row {row + 1}: {errors[row]} (missing='drop' "
                         f"leaves such rows to you; use missing='mean' to fill them).")
    if name is None:
        return x, None, spec
    values = tabular.target_values(table, name)
    if tabular.infer_task(values) == "classification":
        labels = tabular.sorted_labels(values)
        spec.update(class_labels=labels, task="classification")
        return x, tabular.class_indices(table, name, values, labels), spec
    spec["task"] = "regression"
    return x, np.asarray(values, dtype=np.float64), spec


def _as_table(data):
    from mlplab.datasets import tables as tabular

    if hasattr(data, "columns") and hasattr(data, "dtypes"):  # a pandas DataFrame
        return tabular.table_from_dataframe(data)
    if isinstance(data, dict):
        return tabular.Table("data", {str(k): (v if isinstance(v, np.ndarray) else list(v)) for k, v in data.items()},
                             first_line=1)
    if hasattr(data, "columns") and hasattr(data, "__len__"):
        return data
    raise TypeError(f"Invalid type for argument `data`: expected a pandas DataFrame or a dict of columns. "
                    f"Received: {type(data).__name__}.")
