#!/usr/bin/python3
"""The market benchmark (bench/README.md, "The market benchmark"): does a market of miners with
different search strategies beat a single default configuration and single-strategy AutoML on
held-out test loss?

For every task file (bench/market/tasks/*.json) it makes the task's dataset with `gradients corpus`
(test split: the first `test_rows` rows in the seed's order; training split: the rest) on a base
model pretrained by `gradients base-model`, then runs three contenders with budgets counted in
training tokens (B = `budget_epochs` passes over the training split):
  (a) the single default configuration: the miner's `fixed` strategy, budget B;
  (b) single-strategy AutoML: Optuna's TPE sampler driving `gradients train` trials over the
      market's search space, total budget N x B (N = the market's miners), the trial with the best
      validation loss (a share of the training split) taken;
  (c) the market: N miners with different strategies, budget B each (bench/market_task, which
      ranks them with the validator's scoring on the hidden test split); its result is the winner.
Every result is judged by `gradients eval` on the test split with the validator's flags. Writes the
report (win rates and mean relative improvements, per family and overall; a bar chart per family).

  /usr/bin/python3 bench/market/run.py --build build            # every task, report in bench/
  /usr/bin/python3 bench/market/run.py --build build --task bench/market/tasks/arithmetic-tiny-1.json \\
      --report /tmp/market.md --charts /tmp/charts              # one task
Needs python3-optuna and python3-matplotlib (scripts/install-deps.sh --reference).
"""
import argparse
import concurrent.futures
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# One BLAS thread per process: tasks run side by side (--jobs), and results stay bit-reproducible.
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", LC_ALL="C")


def run(argv, **kwargs):
    """Runs argv; its stdout, or an error naming the command and its stderr's end."""
    result = subprocess.run(argv, capture_output=True, text=True, env=ENV, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} ... failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


def load_task(path):
    task = read_json(path)
    required = {"name": str, "family": str, "corpus": str, "rows": int, "test_rows": int, "seed": int,
                "base_model": str, "budget_epochs": (int, float)}
    for key, kind in required.items():
        if not isinstance(task.get(key), kind):
            raise ValueError(f"{path}: \"{key}\" is missing or not a {kind}")
    if not 0 < task["test_rows"] < task["rows"]:
        raise ValueError(f"{path}: \"test_rows\" must be between 0 and \"rows\"")
    task.setdefault("format", "instruct")
    task.setdefault("columns", "")
    return task


class Bench:
    def __init__(self, args):
        self.args = args
        self.gradients = os.path.join(args.build, "cli", "gradients")
        self.market_task = os.path.join(args.build, "bench", "market_task")
        self.market_file = args.market
        self.market = read_json(args.market)
        self.work = args.work

    def base_model(self, name):
        """The base model `name` of market.json, pretrained once (cached by recipe in the work dir)."""
        spec = self.market["base_models"][name]
        out = os.path.join(self.work, "base-" + name)
        if os.path.exists(os.path.join(out, "config.json")):
            return out
        corpus = os.path.join(self.work, "pretraining-text.jsonl")
        if not os.path.exists(corpus):
            run([self.gradients, "corpus", "pretraining-text", "--out", corpus])
        shutil.rmtree(out, ignore_errors=True)
        run([self.gradients, "base-model", "--corpus", corpus, "--out", out, "--preset", spec["preset"],
             "--tokens", str(spec["tokens"]), "--vocab", str(spec.get("vocab", 1024)), "--seed",
             str(spec.get("seed", 0)), "--cache", os.path.join(self.work, "base-model-cache")])
        return out

    def splits(self, task, task_dir):
        rows_file = os.path.join(task_dir, "rows.jsonl")
        run([self.gradients, "corpus", task["corpus"], "--rows", str(task["rows"]), "--seed", str(task["seed"]),
             "--out", rows_file])
        with open(rows_file) as f:
            rows = f.readlines()
        if len(rows) < task["rows"]:
            raise ValueError(f"{task['name']}: {task['corpus']} gave {len(rows)} rows, fewer than {task['rows']}")
        test, train = os.path.join(task_dir, "test.jsonl"), os.path.join(task_dir, "train.jsonl")
        with open(test, "w") as f:
            f.writelines(rows[:task["test_rows"]])
        with open(train, "w") as f:
            f.writelines(rows[task["test_rows"]:])
        return train, test

    def evaluate(self, base, test, task, submission, kind="lora"):
        """The submission's test loss as the validator judges it (market_task --judge: the command line,
        limits and environment of validator/tasks/task_evaluation.h)."""
        argv = [self.market_task, "--judge", submission, "--judge-kind", kind, "--gradients", self.gradients,
                "--model", base, "--test", test, "--format", task["format"], "--threads", "1"]
        if task["columns"]:
            argv += ["--columns", task["columns"]]
        verdict = json.loads(run(argv))
        return verdict["loss"] if verdict.get("status") == "scored" else math.inf

    def optuna_contender(self, task, base, train, test, task_dir, budget_tokens):
        """(b): TPE over the market's search space, trials until N x B training tokens are spent."""
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        settings = self.market.get("optuna", {})
        sampler = optuna.samplers.TPESampler(seed=settings.get("seed", 0),
                                             n_startup_trials=settings.get("startup_trials", 3))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        total = budget_tokens * len(self.market["miners"])
        spent, trials = 0, []
        while spent < total and len(trials) < settings.get("max_trials", 32):
            trial = study.ask()
            hyperparameters = dict(self.market["hyperparameters"])
            assignment = {}
            for name, dimension in self.market["search_space"].items():
                if "choices" in dimension:
                    assignment[name] = trial.suggest_categorical(name, dimension["choices"])
                else:
                    assignment[name] = trial.suggest_float(name, dimension["min"], dimension["max"],
                                                           log=dimension.get("log", False))
            for name, value in assignment.items():
                if name.startswith("lora_"):
                    hyperparameters.setdefault("lora", {})[name[len("lora_"):]] = value
                else:
                    hyperparameters[name] = value
            hyperparameters["max_train_tokens"] = total - spent
            out = os.path.join(task_dir, "optuna", f"trial-{trial.number}")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            config = out + ".json"
            write_json(config, hyperparameters)
            argv = [self.gradients, "train", "--model", base, "--data", train, "--format", task["format"], "--out",
                    out, "--config", config, "--device", "cpu", "--log-every", "1000000"]
            if task["columns"]:
                argv += ["--columns", task["columns"]]
            try:
                run(argv)
                summary = read_json(os.path.join(out, "training_summary.json"))
                loss = summary.get("best_validation_loss")
                spent += summary["tokens"]
            except (RuntimeError, KeyError, OSError) as error:  # a diverged or failed trial: recorded, the search goes on
                print(f"{task['name']}: optuna trial {trial.number} failed: {error}", file=sys.stderr)
                loss, summary = None, {"tokens": 0}
                spent += 1  # progress, so that repeated failures end the search
            value = loss if loss is not None and math.isfinite(loss) else math.inf
            study.tell(trial, value)
            trials.append({"number": trial.number, "assignment": assignment, "validation_loss": loss,
                           "tokens": summary.get("tokens", 0), "dir": out})
        done = [t for t in trials if t["validation_loss"] is not None and math.isfinite(t["validation_loss"])]
        if not done:
            return {"test_loss": math.inf, "trials": trials, "tokens": spent}
        best = min(done, key=lambda t: t["validation_loss"])
        return {"test_loss": self.evaluate(base, test, task, best["dir"]), "best": best, "trials": len(trials),
                "tokens": spent}

    def run_task(self, task):
        """The task's result; a task that could not be run is reported with its error, not counted."""
        try:
            return self.run_contenders(task)
        except (RuntimeError, ValueError, OSError, KeyError) as error:
            print(f"{task['name']}: failed: {error}", file=sys.stderr, flush=True)
            return {"task": task, "error": str(error)}

    def run_contenders(self, task):
        started = time.time()
        task_dir = os.path.join(self.work, "tasks", task["name"])
        shutil.rmtree(task_dir, ignore_errors=True)
        os.makedirs(task_dir)
        base = self.base_model(task["base_model"])
        train, test = self.splits(task, task_dir)
        argv = [self.market_task, "--gradients", self.gradients, "--model", base, "--train", train, "--test", test,
                "--format", task["format"], "--market", self.market_file, "--budget-epochs",
                str(task["budget_epochs"]), "--work", os.path.join(task_dir, "market"), "--threads", "1"]
        if task["columns"]:
            argv += ["--columns", task["columns"]]
        market = json.loads(run(argv))
        by_miner = {m["miner"]: m for m in market["miners"]}
        if "winner" not in market:
            errors = "; ".join(f"{m['miner']}: {m.get('error', m.get('verdict'))}" for m in market["miners"])
            raise RuntimeError(f"no miner of the market was scored: {errors}")
        winner = by_miner[market["winner"]]
        optuna_result = self.optuna_contender(task, base, train, test, task_dir, market["budget_tokens"])
        result = {"task": task, "base_loss": market["base_loss"], "budget_tokens": market["budget_tokens"],
                  "epoch_tokens": market["epoch_tokens"],
                  "default": by_miner["fixed"].get("test_loss", math.inf), "automl": optuna_result["test_loss"],
                  "market": winner["test_loss"], "winner": market["winner"], "miners": market["miners"],
                  "optuna": optuna_result, "seconds": time.time() - started}
        shutil.rmtree(task_dir, ignore_errors=True)  # the results are kept; the checkpoints are not
        print(f"{task['name']}: default {result['default']:.4f}  automl {result['automl']:.4f}  market "
              f"{result['market']:.4f} ({result['winner']})  {result['seconds']:.0f} s", flush=True)
        return result


def improvement(ours, theirs):
    return (theirs - ours) / theirs if math.isfinite(theirs) and theirs > 0 else 0.0


def summary_row(label, results, against):
    wins = sum(1 for r in results if r["market"] < r[against])
    gains = [improvement(r["market"], r[against]) for r in results]
    return (f"| {label} | {len(results)} | {wins}/{len(results)} ({100 * wins / len(results):.1f}%) | "
            f"{100 * sum(gains) / len(gains):+.1f}% |")


def write_report(all_results, args, seconds):
    failed = [r for r in all_results if "error" in r]
    results = [r for r in all_results if "error" not in r]
    families = sorted({r["task"]["family"] for r in results})
    os.makedirs(args.charts, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    charts = []
    for family in families:
        rows = [r for r in results if r["task"]["family"] == family]
        figure, axes = plt.subplots(figsize=(1.6 + 1.3 * len(rows), 3.6))
        width = 0.26
        for offset, (key, label) in enumerate([("default", "(a) default"), ("automl", "(b) Optuna TPE"),
                                               ("market", "(c) market")]):
            axes.bar([i + (offset - 1) * width for i in range(len(rows))], [r[key] for r in rows], width,
                     label=label)
        axes.set_xticks(range(len(rows)), [r["task"]["name"] for r in rows], rotation=20, ha="right", fontsize=8)
        low = min(min(r[k] for k in ("default", "automl", "market")) for r in rows)
        high = max(max(r[k] for k in ("default", "automl", "market") if math.isfinite(r[k])) for r in rows)
        axes.set_ylim(low - 0.15 * (high - low + 1e-9), high + 0.1 * (high - low + 1e-9))
        axes.set_ylabel("test loss (lower is better)")
        axes.set_title(f"{family}: held-out test loss")
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = os.path.join(args.charts, f"{family}.png")
        figure.savefig(path, dpi=100)
        plt.close(figure)
        charts.append((family, os.path.relpath(path, os.path.dirname(os.path.abspath(args.report)))))

    lines = ["# The market against a default configuration and single-strategy AutoML", "",
             "Generated by `bench/market/run.py` (bench/README.md, \"The market benchmark\"); do not edit by hand.",
             "",
             f"Command: `{' '.join(sys.argv)}`  ", f"Wall time: {seconds / 60:.1f} min on this machine; "
             f"{len(all_results)} tasks, {args.jobs} at a time, one BLAS thread each.  ",
             f"Market file: `{os.path.relpath(args.market, ROOT)}` (miners, their seeds, the search space, Optuna's "
             "seed); task files (`bench/market/tasks/<task>.json`): corpus and seed each; rows, test rows and budgets "
             "in the table below.", "",
             "Win: the market's test loss is strictly lower. Improvement: (contender - market) / contender, in "
             "test loss, averaged over the tasks.", "",
             "## (c) the market over (a) the default configuration", "",
             "| family | tasks | market wins | mean improvement |", "|---|---|---|---|"]
    lines += [summary_row(f, [r for r in results if r["task"]["family"] == f], "default") for f in families]
    lines += [summary_row("**all**", results, "default"), "",
              "## (c) the market over (b) Optuna TPE (N x B tokens)", "",
              "| family | tasks | market wins | mean improvement |", "|---|---|---|---|"]
    lines += [summary_row(f, [r for r in results if r["task"]["family"] == f], "automl") for f in families]
    lines += [summary_row("**all**", results, "automl"), "", "## Every task", "",
              "| task | family | base model | rows (test) | budget B (tokens) | base loss | (a) default | "
              "(b) Optuna | (c) market | winner |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["task"]
        lines.append(f"| {t['name']} | {t['family']} | {t['base_model']} | {t['rows']} ({t['test_rows']}) | "
                     f"{r['budget_tokens']:,} ({t['budget_epochs']} epochs) | {r['base_loss']:.4f} | "
                     f"{r['default']:.4f} | {r['automl']:.4f} | {r['market']:.4f} | {r['winner']} |")
    lost = [r for r in results if r["market"] >= r["default"] or r["market"] >= r["automl"]]
    lines += ["", "## Where the market did not win", ""]
    lines += [f"- {r['task']['name']}: market {r['market']:.4f} (winner {r['winner']}), default "
              f"{r['default']:.4f}, Optuna {r['automl']:.4f}" for r in lost] or ["- none"]
    if failed:
        lines += ["", "## Tasks that could not be run (not counted above)", ""]
        lines += [f"- {r['task']['name']}: {r['error']}" for r in failed]
    lines += ["", "## Charts", ""] + [f"![{family}]({path})" for family, path in charts]
    with open(args.report, "w") as f:
        f.write("\n".join(lines) + "\n")
    write_json(os.path.join(args.charts, "results.json"), all_results)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--market", default=os.path.join(ROOT, "bench", "market", "market.json"))
    parser.add_argument("--task", action="append", help="a task file (default: bench/market/tasks/*.json)")
    parser.add_argument("--work", default="/tmp/gradients-market")
    parser.add_argument("--jobs", type=int, default=2, help="tasks run side by side")
    parser.add_argument("--report", default=os.path.join(ROOT, "bench", "RESULTS-market.md"))
    parser.add_argument("--charts", default=os.path.join(ROOT, "bench", "market", "charts"))
    args = parser.parse_args()
    files = args.task or sorted(glob.glob(os.path.join(ROOT, "bench", "market", "tasks", "*.json")))
    tasks = [load_task(path) for path in files]
    os.makedirs(args.work, exist_ok=True)
    bench = Bench(args)
    started = time.time()
    for name in sorted({t["base_model"] for t in tasks}):  # before the pool: tasks share them
        bench.base_model(name)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(bench.run_task, tasks))
    write_report(results, args, time.time() - started)
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()
