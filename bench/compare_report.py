"""The tables of ``bench/compare_frameworks.py``: per model and contender, images per second of
``fit`` and ``predict`` (medians and quartiles over the rounds) and the ratios fastcnn/x,
paired per round. Standard library only (the JSON a run saves can be read anywhere).
"""
import os
import platform
import statistics

STEPS_PER_EPOCH = 60000 / 128          # the seed model's epoch (whole_models.STEPS_PER_EPOCH)
FIT_TARGET = 2.0                       # BENCHMARKS.md: fit >= 2x PyTorch's best and Keras'
PREDICT_TARGETS = {"keras": 2.0, "keras-jax": 1.5}     # predict >= 2x Keras, 1.5x Keras on JAX
TORCH = ("torch-nchw", "torch-cl")
NAMES = {"seed": "seed model (Fashion-MNIST)", "tf-cnn": "TF-CNN", "k-cnn": "K-CNN",
         "resnet20": "ResNet-20"}


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (else what the platform module says)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def quartiles(values):
    """(first quartile, median, third quartile) of one or more values."""
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def _rates(seconds_by_round, images):
    return {r: images / s for r, s in seconds_by_round.items() if s > 0}


def summarize(workers, model, n_train, n_test, args):
    """One model's results: the figures of the run and one row per contender."""
    rows = []
    for w in workers:
        row = {"contender": w.contender, "python": w.python, "status": w.status,
               "error": w.error, "version": w.info.get("version"),
               "params": w.info.get("params"), "kernels": w.info.get("kernels"),
               "epochs_trained": w.trained, "accuracy": w.accuracy,
               "fit_seconds": w.fits, "predict_seconds": w.predicts}
        for what, seconds, images in (("fit", w.fits, args.train_images),
                                      ("predict", w.predicts, n_test)):
            rates = _rates(seconds, images)
            row[f"{what}_images_per_s"] = rates
            if rates:
                row[f"{what}_q1"], row[f"{what}_median"], row[f"{what}_q3"] = quartiles(
                    rates.values())
        if w.fits and model == "seed":
            per_step = statistics.median(w.fits.values()) / w.info["steps"]
            row["epoch_median"] = per_step * STEPS_PER_EPOCH
        rows.append(row)
    _add_ratios(rows)
    return {"model": model, "train_images": args.train_images, "test_images": n_test,
            "full_epoch_images": n_train, "steps": -(-args.train_images // 128), "rows": rows}


def _add_ratios(rows):
    """Per contender and measure: the median and quartiles over the rounds of fastcnn's images
    per second over the contender's in the same round."""
    fast = next((r for r in rows if r["contender"] == "fastcnn"), None)
    if fast is None:
        return
    for row in rows:
        for what in ("fit", "predict"):
            mine, theirs = fast[f"{what}_images_per_s"], row[f"{what}_images_per_s"]
            paired = [mine[r] / theirs[r] for r in mine if r in theirs]
            if paired:
                row[f"{what}_ratio"] = quartiles(paired)


def best_torch(rows, what):
    """PyTorch's row with the higher median images/s of ``what`` (its faster layout)."""
    measured = [r for r in rows if r["contender"] in TORCH and f"{what}_median" in r]
    return max(measured, key=lambda r: r[f"{what}_median"], default=None)


def _rate(row, what):
    if f"{what}_median" not in row:
        return ["-", "-"]
    return [f"{row[f'{what}_median']:,.0f}",
            f"{row[f'{what}_q1']:,.0f}-{row[f'{what}_q3']:,.0f}"]


def _ratio(row, what):
    if f"{what}_ratio" not in row:
        return ["-", "-"]
    q1, median, q3 = row[f"{what}_ratio"]
    return [f"{median:.2f}", f"{q1:.2f}-{q3:.2f}"]


def table(result):
    """One model's table as text lines."""
    seed = result["model"] == "seed"
    header = ["contender", "fit img/s", "q1-q3", "predict img/s", "q1-q3",
              "fit fastcnn/x", "q1-q3", "predict fastcnn/x", "q1-q3"]
    if seed:
        header += ["epoch s", "test acc"]
    lines = []
    for r in result["rows"]:
        if "fit_median" not in r:
            why = "not installed" if r["status"] == "missing" else r["status"]
            lines.append([r["contender"], f"{why}: {r['error']}"])
            continue
        cells = [r["contender"]] + _rate(r, "fit") + _rate(r, "predict")
        cells += _ratio(r, "fit") + _ratio(r, "predict")
        if seed:
            cells += [f"{r['epoch_median']:.2f}",
                      "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"]
        lines.append(cells)
    full = [c for c in lines if len(c) == len(header)]
    widths = [max(len(c[i]) for c in [header] + full) for i in range(len(header))]

    def fmt(cells):
        if len(cells) != len(header):
            return "  ".join([cells[0].ljust(widths[0])] + cells[1:])
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return [fmt(header), "-" * len(fmt(header))] + [fmt(c) for c in lines]


def targets(rows):
    """BENCHMARKS.md's whole-model targets, as lines 'met'/'not met'."""
    by_name = {r["contender"]: r for r in rows}
    checks = []
    torch_fit = best_torch(rows, "fit")
    if torch_fit is not None and "fit_ratio" in torch_fit:
        checks.append((f"fit: fastcnn / PyTorch's best ({torch_fit['contender']})",
                       torch_fit["fit_ratio"][1], FIT_TARGET))
    if "fit_ratio" in by_name.get("keras", {}):
        checks.append(("fit: fastcnn / Keras (TensorFlow)", by_name["keras"]["fit_ratio"][1],
                       FIT_TARGET))
    for name, target in PREDICT_TARGETS.items():
        if "predict_ratio" in by_name.get(name, {}):
            label = "Keras (TensorFlow)" if name == "keras" else "Keras (JAX)"
            checks.append((f"predict: fastcnn / {label}", by_name[name]["predict_ratio"][1],
                           target))
    return [f"  {name}: {ratio:.2f} (target >= {target:g}: "
            f"{'met' if ratio >= target else 'not met'})" for name, ratio, target in checks]


def model_lines(model, result, args):
    """A model's description, parameter counts, table and targets."""
    if model == "seed":
        short = result["train_images"] < result["full_epoch_images"]
        if short:
            fit = (f"fit: the first {result['steps']} steps ({result['train_images']} images) "
                   f"of each epoch; 'epoch s' = their seconds / steps * {STEPS_PER_EPOCH}")
        else:
            fit = f"fit: full epochs ({result['full_epoch_images']} images)"
        trained = sorted({r["epochs_trained"] for r in result["rows"]
                          if r["accuracy"] is not None})
        data = (f"Fashion-MNIST; {fit}; predict: the {result['test_images']:,} test images; "
                f"test accuracy after {'/'.join(map(str, trained)) or '-'} "
                f"{'shortened ' if short else ''}epoch(s)")
    else:
        data = (f"synthetic data (uint8 32x32x3 images / 255, random labels: throughput only); "
                f"fit: {result['steps']} steps ({result['train_images']} images) a round; "
                f"predict: {result['test_images']:,} images")
    counts = sorted({r["params"] for r in result["rows"] if r["params"]})
    params = ", ".join(f"{r['contender']} {r['params']:,}" for r in result["rows"]
                       if r["params"])
    lines = [f"{NAMES.get(model, model)}: {data}",
             f"parameters: {params or '-'}"
             + ("  (counts differ: the models are not the same!)" if len(counts) > 1 else "")]
    lines += table(result)
    checks = targets(result["rows"])
    if checks:
        lines += ["targets (BENCHMARKS.md; medians of the paired ratios):"] + checks
    return lines


def run_header(args, results):
    """The lines that hold for the whole run: CPU, kernel set, threads, protocol, versions."""
    rows = [r for result in results.values() for r in result["rows"]]
    kernels = next((r["kernels"] for r in rows if r.get("kernels")), "?")
    lines = [
        f"CPU: {cpu_name()} ({os.cpu_count()} CPUs); fastcnn kernel set: {kernels}",
        f"{args.threads} thread(s) each (OMP_NUM_THREADS and the framework's own setting; JAX "
        f"kept on that many CPUs); GLIBC_TUNABLES {'set' if args.malloc_setting else 'unset'}",
        f"batch 128, Adam; predict batch 1000; medians and quartiles of {args.rounds} "
        f"interleaved rounds after 1 warm-up round; ratios fastcnn/x of images per second "
        f"paired per round, > 1: fastcnn is faster",
        f"load average (1 min) at start {args.load[0]:.1f}, at end {args.load[1]:.1f}: "
        f"figures are only comparable within this run",
    ]
    seen = set()
    for r in rows:
        if r["version"] and (r["contender"], r["version"]) not in seen:
            seen.add((r["contender"], r["version"]))
            lines.append(f"  {r['contender']}: {r['version']} ({r['python']})")
    return lines
