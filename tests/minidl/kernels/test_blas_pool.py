"""One pool: OpenBLAS's parallel products run on Numba's threads (``minidl.kernels.blas_pool``).

The test processes run with one thread (the Makefile's TEST_THREADS), where nothing is shared;
each test here starts a fresh Python with two Numba and two BLAS threads, as a notebook has.
A product that split into jobs the pool could not run at once would hang, so every child has a
timeout.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TWO_THREADS = {"NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}


def run_with_two_threads(code: str, **env) -> str:
    """Run ``code`` in a fresh Python with a two-thread pool; returns its stdout."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OPENBLAS_", "OMP_"))}
    environment.update(TWO_THREADS, PYTHONPATH=str(ROOT), **env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def shareable() -> bool:
    out = run_with_two_threads("from minidl.kernels import blas_pool; print(blas_pool.available())")
    return out.strip() == "True"


pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or not shareable(), reason="NumPy's BLAS here has no threading hook"
)


def test_importing_the_numba_tier_shares_the_pool_and_products_stay_bitwise_the_same():
    out = run_with_two_threads(
        """
        import numpy as np
        from minidl import backend
        from minidl.kernels import blas_pool
        rng = np.random.default_rng(0)
        shapes = [(1024, 1024, 1024), (64, 512, 512), (12544, 144, 32), (3, 5, 7), (300, 2, 700)]
        cases = [(rng.standard_normal((m, k)).astype(d), rng.standard_normal((k, n)).astype(d))
                 for m, k, n in shapes for d in (np.float32, np.float64)]
        before = [a @ b for a, b in cases] + [cases[0][0].T @ cases[0][1]]
        backend.kernels()  # the Numba tier: shares the pool
        assert blas_pool.shared(), "not shared"
        after = [a @ b for a, b in cases] + [cases[0][0].T @ cases[0][1]]
        assert all(np.array_equal(x, y) for x, y in zip(before, after))
        print(backend.threads())
        """
    )
    assert "{'numba': 2, 'blas': 2}" in out


def test_a_product_runs_whatever_numbas_own_count_and_blas_never_exceeds_the_pool():
    run_with_two_threads(
        """
        import numba, numpy as np, threadpoolctl
        from minidl import backend
        from minidl.kernels import blas_pool
        backend.kernels()
        a = np.random.default_rng(1).standard_normal((800, 800))
        expected = a @ a
        numba.set_num_threads(1)  # fewer Numba threads than BLAS's two jobs: still all at once
        assert np.array_equal(a @ a, expected)
        numba.set_num_threads(2)
        assert backend.set_threads(8) == {"numba": 2, "blas": 2}  # capped at the pool
        """
    )


def test_a_forked_child_and_a_second_thread_still_multiply():
    out = run_with_two_threads(
        """
        import os, threading, numpy as np
        from minidl import backend
        from minidl.kernels import blas_pool
        cpu = backend.kernels()
        a = np.random.default_rng(2).standard_normal((700, 700))
        expected = a @ a
        results = []
        workers = [threading.Thread(target=lambda: results.append(np.array_equal(a @ a, expected)))
                   for _ in range(2)]
        [w.start() for w in workers]; [w.join() for w in workers]
        assert results == [True, True]
        images = np.random.default_rng(4).standard_normal((64, 32, 28, 28)).astype(np.float32)
        pooled = cpu.max_pool_forward(images, 2, 2, 2, 2)[0]  # threads, in the parent
        pid = os.fork()
        if pid == 0:  # a forked OpenMP pool is unusable: OpenBLAS's own threads, serial kernels
            same = np.array_equal(a @ a, expected) and np.array_equal(cpu.max_pool_forward(images, 2, 2, 2, 2)[0], pooled)
            os._exit(0 if (not blas_pool.shared() and same) else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        print(blas_pool.shared())
        """
    )
    assert out.strip() == "True"


def test_a_forked_child_of_two_pools_runs_serial_kernels():
    out = run_with_two_threads(
        """
        import os, numpy as np
        from minidl import backend
        from minidl.kernels import blas_pool
        cpu = backend.kernels()
        images = np.random.default_rng(4).standard_normal((64, 32, 28, 28)).astype(np.float32)
        pooled = cpu.max_pool_forward(images, 2, 2, 2, 2)[0]  # threads, in the parent
        pid = os.fork()
        if pid == 0:  # Numba's omp layer would end the child at its first parallel region
            same = np.array_equal(cpu.max_pool_forward(images, 2, 2, 2, 2)[0], pooled)
            os._exit(0 if (blas_pool.forked() and same) else 1)
        print(blas_pool.shared(), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        """,
        MINIDL_ONE_POOL="0",
    )
    assert out.split() == ["False", "0"]


def test_minidl_one_pool_0_keeps_two_pools():
    out = run_with_two_threads(
        """
        from minidl import backend
        from minidl.kernels import blas_pool
        from minidl.kernels.cpu import loops
        backend.kernels()
        print(blas_pool.available(), blas_pool.shared(), loops.PARALLEL_MIN_ELEMENTS)
        """,
        MINIDL_ONE_POOL="0",
    )
    assert out.split() == ["False", "False", str(1 << 20)]


def test_a_training_step_on_the_shared_pool_matches_one_thread():
    code = """
        import numpy as np, minidl as mdl
        from bench.conv import lenet5
        from minidl.nn import losses, optim
        mdl.seed(0)
        model = lenet5(input_shape=(1, 28, 28))
        model.compile(optimizer=optim.SGD(0.05), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        x = mdl.backend.rng().standard_normal((64, 1, 28, 28)).astype(np.float32)
        y = mdl.backend.rng().integers(0, 10, 64)
        print(repr(float(np.mean([model.train_on_batch(x, y) for _ in range(5)]))))
        """
    one = run_with_two_threads(code, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    shared = run_with_two_threads(code)
    assert abs(float(one) - float(shared)) <= 1e-5 * abs(float(one)), (one, shared)


def test_kernels_that_call_blas_from_their_threads_match_one_thread():
    """The LSTM's blocks of rows and attention's small products call OpenBLAS from Numba's
    threads, one BLAS thread each: same gradients as one thread, BLAS's count back after."""
    code = """
        import numpy as np, minidl as mdl
        from minidl.kernels import blas_pool
        from minidl.nn.layers.attention import MultiHeadAttention
        from minidl.nn.layers.recurrent import LSTM
        rng = np.random.default_rng(0)
        lstm, attention = LSTM(16, return_sequences=True), MultiHeadAttention(num_heads=4, key_dim=8)
        lstm.build((7, 5)), attention.build((9, 32))
        x, xa = rng.standard_normal((12, 7, 5)), rng.standard_normal((6, 9, 32)).astype(np.float32)
        dx = lstm.backward(lstm.forward(x, training=True))
        da = attention.backward(attention.forward(xa, training=True, use_causal_mask=True))
        counts = blas_pool._functions()[1]() if blas_pool._functions() else 0
        print(repr([float(np.abs(a).sum()) for a in (dx, lstm.grads["Wh"], da, attention.grads["Wq"])]), counts)
        """
    one = run_with_two_threads(code, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1").rsplit(" ", 1)
    two = run_with_two_threads(code).rsplit(" ", 1)
    assert two[1].strip() == "2", two  # BLAS's two threads, restored after each kernel
    for a, b in zip(eval(one[0]), eval(two[0])):
        assert abs(a - b) <= 1e-5 * abs(a), (one, two)
