"""The `mlplab` command line: `mlplab train` trains a small network on a built-in dataset offline."""
from __future__ import annotations

import argparse
import sys


def _train(args) -> int:

    import mlplab as ml
    from mlplab import datasets
    from mlplab.preprocessing import standardize, train_test_split

    makers = {"moons": datasets.moons, "circles": datasets.circles, "spirals": datasets.spirals,
              "blobs": datasets.blobs}
    x, y = makers[args.dataset](n_samples=args.samples, seed=args.seed)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=args.seed, stratify=y)
    x_train, x_test = standardize(x_train, x_test)
    n_classes = int(y.max()) + 1
    layers = [ml.Dense(units, activation=args.activation) for units in args.hidden]
    layers.append(ml.Dense(n_classes, activation="softmax"))
    model = ml.Sequential(layers, seed=args.seed)
    model.compile(optimizer=ml.Adam(learning_rate=args.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.build(x_train.shape[1:])
    before = model.evaluate(x_test, y_test)
    model.summary()
    print(f"\nTraining on {args.dataset}: {len(x_train)} samples, {n_classes} classes, {args.epochs} epochs")
    every = max(1, args.epochs // 10)

    def report(epoch, logs):
        if args.verbose and ((epoch + 1) % every == 0 or epoch == 0):
            print(f"epoch {epoch + 1:4d}/{args.epochs}  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()))

    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
              verbose=0, callbacks=[ml.LambdaCallback(on_epoch_end=report)])
    after = model.evaluate(x_test, y_test)
    print(f"\nTest accuracy: {before['accuracy']:.1%} before training -> {after['accuracy']:.1%} after "
          f"(chance: {1 / n_classes:.1%}); test loss {before['loss']:.3f} -> {after['loss']:.3f}")
    print(_ascii_map(model, x_train, y_train))
    return 0 if after["accuracy"] > 1 / n_classes else 1


def _ascii_map(model, x, y, width=60, height=20) -> str:
    """The learned decision regions as characters, with the training points in capitals."""
    import numpy as np

    lo, hi = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], width), np.linspace(hi[1], lo[1], height))
    regions = model.predict(np.c_[gx.ravel(), gy.ravel()]).argmax(axis=1).reshape(height, width)
    letters = "abcdefghij"
    grid = [[letters[c] if c < 10 else "?" for c in row] for row in regions]
    cols = np.clip(((x[:, 0] - lo[0]) / (hi[0] - lo[0]) * (width - 1)).round().astype(int), 0, width - 1)
    rows = np.clip(((hi[1] - x[:, 1]) / (hi[1] - lo[1]) * (height - 1)).round().astype(int), 0, height - 1)
    for r, c, label in zip(rows, cols, y):
        grid[r][c] = letters[label].upper()
    return "Decision regions (lower case) and training points (capitals):\n" + "\n".join("".join(r) for r in grid)


def _lessons(args) -> int:
    from mlplab.lessons import LESSONS, lesson_names, run_lessons

    if args.action == "list":
        for name in lesson_names():
            item = LESSONS[name]
            print(f"{name:28s} {item.title}  [seed {item.seed}]")
        return 0
    if not args.names:
        raise ValueError("Invalid value for `lessons run`: expected a lesson name or 'all' "
                         "(see `mlplab lessons list`). Received: nothing.")
    names = "all" if args.names == ["all"] else args.names
    results = run_lessons(names, out_dir=args.out, quick=args.quick)
    total = sum(r.seconds for r in results)
    print(f"\n{len(results)} lesson(s) in {total:.1f} s; report: {args.out}/report.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlplab", description="Build, train and understand multilayer perceptrons.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an MLP on a built-in 2-D dataset and show what it learned")
    train.add_argument("--dataset", choices=["moons", "circles", "spirals", "blobs"], default="spirals")
    train.add_argument("--hidden", type=_units, default=[32, 32], help="hidden units, e.g. 32,32 (default)")
    train.add_argument("--activation", default="relu")
    train.add_argument("--epochs", type=int, default=200)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=0.01)
    train.add_argument("--samples", type=int, default=600)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1], help="1: a line every tenth of training")
    train.set_defaults(run=_train)
    lessons = sub.add_parser("lessons", help="reproduce the lecture notes' programs: list, or run NAME|all")
    lessons.add_argument("action", choices=["list", "run"])
    lessons.add_argument("names", nargs="*", help="lesson names, or 'all'")
    lessons.add_argument("--out", default="lessons_out", help="folder for figures and report.html")
    lessons.add_argument("--quick", action="store_true", help="scaled-down runs (what the tests use)")
    lessons.set_defaults(run=_lessons)
    from mlplab.explain import add_parser as add_explain_parser

    add_explain_parser(sub)
    from mlplab.playground.cli import add_parser as add_playground_parser

    add_playground_parser(sub)
    return parser


def _units(text: str) -> list[int]:
    try:
        units = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 32,32; received {text!r}")
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 32,32; received {text!r}")
    return units


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError) as err:
        print(f"mlplab: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
