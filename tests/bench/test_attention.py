"""The benchmark's attention row (``bench/attention.py``): found by the runner, and it runs."""

from bench import runner


def test_the_bench_has_an_attention_row_that_runs():
    (workload,) = runner.collect_workloads("attention", log=lambda *_: None)
    assert "attention" in workload.name and workload.flops > 0
    workload.setup("numpy")()  # one forward + backward, untimed
